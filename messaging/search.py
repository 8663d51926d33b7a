"""Search of the messages, by words, by meaning, or both (issue 19). Reads only (selectors).

- Words: PostgreSQL full-text search of the message text ('simple' configuration: names, order numbers
  and any language as typed; every word as a prefix), ranked by `ts_rank`, newest first among equals.
- Meaning: the query is embedded by the configured embedder and compared by cosine distance with the
  messages that model embedded (never another model's), nearest first, through that model's HNSW
  index (`vector_expression`), inside the tenant: the query names the organization, row-level
  security holds it to the organization, and the default manager applies the member's access (a
  member limited to some clients finds only their messages).
- Both: the two rankings fused by reciprocal rank fusion (each hit scores 1/(60 + rank) in each list it
  is in), each hit marked with how it matched.

Results are messages with their conversation and contact; the inbox shows one row per conversation.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVectorField
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F, Func, OuterRef, QuerySet, Subquery
from django.db.models.expressions import RawSQL

from core import counts
from crm.models import Order
from tenants.models import Organization

from . import embedders
from .models import Message

MODES = ("both", "meaning", "words")
CANDIDATES = 50  # from each ranking, before fusing
RRF_K = 60  # reciprocal rank fusion's constant (Cormack, Clarke and Buettcher, 2009)
# How far (cosine distance) a message may be and still count, per model: as a search result, as a
# similar conversation, as the message whose answer is suggested. Past it, what is nearest is unrelated.
# WordLlama's distances run high (on the labelled set of tests/messaging/meaning_set.py, the median is
# 0.84 between messages of one group and 0.89 between groups; docs/benchmarks.md, issue 19).
FARTHEST = {"wordllama/l2_supercat_256": {"search": 0.9, "similar": 0.85, "suggestion": 0.8}}
DEFAULT_FARTHEST = {"search": 0.75, "similar": 0.6, "suggestion": 0.5}


def farthest(model: str, use: str) -> float:
    return FARTHEST.get(model, DEFAULT_FARTHEST)[use]
EF_SEARCH = 100  # HNSW candidates per search (pgvector's default is 40; recall before speed here)


class MeaningUnavailable(Exception):
    """The query could not be embedded (the embedder refused or did not answer)."""


@dataclass
class Hit:
    message: Message
    score: float
    matched_by: list[str] = field(default_factory=list)  # "words", "meaning"
    distance: float | None = None


def vector_expression(dimensions: int, column: str = "embedding") -> str:
    """The expression each model's HNSW index is built on (migrations 0013 and 0016): the stored
    vector as one of the model's dimensions (an index needs them fixed; the column holds every
    model's). `subvector` also reads a vector stored zero-padded before 0016 trimmed them."""
    return f"(subvector({column}, 1, {int(dimensions)})::vector({int(dimensions)}))"


def vector_literal(vector, dimensions: int) -> str:
    return "[" + ",".join(f"{float(v):.7g}" for v in list(vector)[:dimensions]) + "]"


def query_vector(text: str) -> tuple[embedders.Embedder, list[float]]:
    embedder = embedders.embedder()
    try:
        [vector] = embedders.with_retries(embedder.embed, [text], attempts=2)
    except embedders.EmbeddingError as exc:
        raise MeaningUnavailable(exc.message) from None
    return embedder, vector


def nearest(*, organization: Organization, model: str, dimensions: int, vector, limit: int = CANDIDATES,
            exclude_conversation=None, direction: str | None = None) -> list[tuple]:
    """(message id, cosine distance) of the messages nearest `vector` among those `model` embedded,
    nearest first, as the member asking may see them (the default manager's access rules)."""
    qs = Message.objects.filter(organization=organization, embedding_model=model)
    if exclude_conversation is not None:
        qs = qs.exclude(conversation=exclude_conversation)
    if direction is not None:
        qs = qs.filter(direction=direction)
    distance = RawSQL(f"{vector_expression(dimensions, 'messaging_message.embedding')} "  # noqa: S611
                      f"<=> %s::vector({int(dimensions)})", [vector_literal(vector, dimensions)])
    qs = qs.annotate(distance=distance).order_by("distance").values_list("id", "distance")[:limit]
    with transaction.atomic(), connection.cursor() as cursor:
        # An index scan that goes on until `limit` rows pass the filters (the organization, the
        # member's access), rather than stopping at the first ef_search candidates of every tenant.
        cursor.execute(f"set local hnsw.ef_search = {EF_SEARCH}")
        cursor.execute("set local hnsw.iterative_scan = relaxed_order")
        found = list(qs)
    return sorted(found, key=lambda row: row[1])  # relaxed order: nearly sorted


def by_meaning(*, organization: Organization, text: str, limit: int = CANDIDATES) -> list[tuple]:
    embedder, vector = query_vector(text)
    cutoff = farthest(embedder.name, "search")
    return [(pk, d) for pk, d in nearest(organization=organization, model=embedder.name,
                                         dimensions=embedder.dimensions, vector=vector, limit=limit) if d <= cutoff]


STOP_WORDS = frozenset("""
a an the and or but if of to in on at by for with from as is are was were be been am do does did
i me my mine you your yours he him his she her it its we us our they them their this that these those
there here what which who whom how when where why can could would should will shall may might must
have has had not no so too very just also than then s t d ll re ve m o
el la los las un una unos unas y e o u de del al en con por para que se su sus mi mis tu tus yo me te
le lo les es son está están fue ser hay muy más pero como ya
os as um uma uns umas da das dos na nas no nos em com por para pelo pela eu meu minha seu sua você
é são foi ser tem há mais mas não sim já
""".split())


def words_terms(text: str) -> list[str]:
    """Every word typed must match: words of three letters or more as prefixes ("deliv" finds
    "delivery"), shorter ones as typed. A one- or two-letter prefix ("i:*", "d:*" of "I'd") matches so
    many words that the index reads most of the table: a sentence of them took 170 ms at a million
    messages, against a few ms as typed (docs/benchmarks.md, issue 19)."""
    words = re.findall(r"\w+", text.lower())[:12]
    # The commonest words of English, Spanish and Portuguese are in most messages: reading their
    # postings costs much and narrows nothing. Left out, unless nothing else was typed.
    words = [word for word in words if word not in STOP_WORDS] or words
    return [f"{word}:*" if len(word) >= 3 else word for word in words]


class UnindexedVector(Func):
    """A search vector as it is, in an expression no index serves (`v || ''::tsvector`)."""

    template = "(%(expressions)s || ''::tsvector)"
    output_field = SearchVectorField()


# A word as common as "order" matches two million of ten million messages, and the search index
# cannot skip through a prefix's matches: "order 41234" read them all (76 ms) to keep the 25 that also
# have 41234. When one term is this many times rarer than another (as the planner estimates them), the
# index finds that term's rows and each is checked for the rest (1.5 ms).
RAREST_FIRST_RATIO = 100


def terms_query(terms) -> SearchQuery:
    return SearchQuery(" & ".join(terms), config="simple", search_type="raw")


def words_matched(qs: QuerySet, terms: list[str]) -> QuerySet:
    """Rows of `qs` whose search vector has every term; with several, one far rarer than another is
    looked up alone and the rows it finds checked for the others."""
    query = terms_query(terms)
    if len(set(terms)) < 2:
        return qs.filter(search_vector=query)
    estimates = {term: counts.estimated(qs.filter(search_vector=terms_query([term]))) for term in set(terms)}
    rarest = min(estimates, key=estimates.get)
    if estimates[rarest] * RAREST_FIRST_RATIO > max(estimates.values()):
        return qs.filter(search_vector=query)
    return (qs.filter(search_vector=terms_query([rarest]))
            .alias(unindexed_vector=UnindexedVector("search_vector")).filter(unindexed_vector=query))


def by_words(*, organization: Organization, text: str, limit: int = CANDIDATES) -> list:
    """Message ids matching every word typed, best ranked first among the newest RANKED matches (a word
    in a fifth of the messages would otherwise have all of them ranked: 370 ms at a million). A word
    far rarer than the others is looked up alone (words_matched): "I want to cancel my order" read the
    postings of "order" in 2.6 million of ten million messages (147 ms) to keep the few with "want"
    (0.9 ms; docs/benchmarks.md, issue 21)."""
    terms = words_terms(text)
    if not terms:
        return []
    newest = (words_matched(Message.objects.filter(organization=organization), terms).order_by("-id")
              .values("id")[:RANKED])
    return list(Message.objects.filter(organization=organization, pk__in=newest)
                .annotate(rank=SearchRank(F("search_vector"), terms_query(terms)))
                .order_by("-rank", F("created_at").desc())
                .values_list("id", flat=True)[:limit])


RANKED = 500


def search(*, organization: Organization, text: str, mode: str = "both", limit: int = 20) -> tuple[list[Hit], str]:
    """The best `limit` messages for `text`; and why meaning was left out ("" when it was not):
    with mode "both", an embedder that fails leaves the words' results, said so."""
    text = (text or "").strip()[:500]
    words = by_words(organization=organization, text=text) if mode in ("both", "words") else []
    meaning, unavailable = [], ""
    if mode in ("both", "meaning"):
        try:
            meaning = by_meaning(organization=organization, text=text)
        except MeaningUnavailable as exc:
            if mode == "meaning":
                raise
            unavailable = exc.args[0]
    scores: dict = {}
    for kind, ranking in (("words", words), ("meaning", [pk for pk, _ in meaning])):
        for rank, pk in enumerate(ranking, start=1):
            score, kinds = scores.get(pk, (0.0, []))
            scores[pk] = (score + 1.0 / (RRF_K + rank), [*kinds, kind])
    distances = dict(meaning)
    best = sorted(scores.items(), key=lambda item: -item[1][0])[:limit]
    messages = Message.objects.filter(organization=organization, pk__in=[pk for pk, _ in best]).select_related(
        "conversation__contact", "conversation__phone_number", "conversation__whatsapp_sender")
    by_id = {m.pk: m for m in messages}
    return [Hit(message=by_id[pk], score=score, matched_by=kinds, distance=distances.get(pk))
            for pk, (score, kinds) in best if pk in by_id], unavailable


# Next to a conversation: similar past conversations, and replies that answered similar messages -----

LATEST_INBOUND = 3  # the customer's latest messages that say what the conversation is about


@dataclass
class Similar:
    conversation: object
    message: Message  # its message nearest what the customer says now
    distance: float
    orders: list = field(default_factory=list)


@dataclass
class Suggestion:
    text: str
    source: str  # "reply": what an agent answered to a similar message; "canned": a canned reply
    distance: float
    title: str = ""


def _latest_inbound(organization: Organization, conversation) -> tuple[str, int, list[float]] | None:
    """(model, dimensions, unit vector) of the customer's latest embedded messages here, their mean;
    None when none is embedded yet."""
    rows = list(Message.objects.filter(organization=organization, conversation=conversation, direction="inbound")
                .exclude(embedding_model="").order_by("-created_at")
                .values_list("embedding_model", "embedding_dimensions", "embedding")[:LATEST_INBOUND])
    if not rows:
        return None
    model, dimensions = rows[0][0], rows[0][1] or embedders.MOST_DIMENSIONS
    vectors = [list(vector)[:dimensions] for m, _, vector in rows if m == model and vector is not None]
    mean = [sum(values) / len(vectors) for values in zip(*vectors, strict=True)]
    norm = sum(v * v for v in mean) ** 0.5 or 1.0
    return model, dimensions, [v / norm for v in mean]


def similar_conversations(*, organization: Organization, conversation, limit: int = 5) -> list[Similar]:
    """Other conversations whose messages are nearest what this customer said last, with their outcome
    (the conversation's status, the contact's orders)."""
    latest = _latest_inbound(organization, conversation)
    if latest is None:
        return []
    model, dimensions, vector = latest
    found = nearest(organization=organization, model=model, dimensions=dimensions, vector=vector, limit=40,
                    exclude_conversation=conversation)
    best: dict = {}
    messages = Message.objects.filter(organization=organization, pk__in=[pk for pk, _ in found]).select_related(
        "conversation__contact")
    by_id = {m.pk: m for m in messages}
    for pk, distance in found:
        message = by_id.get(pk)
        if (message is None or distance > farthest(model, "similar")
                or message.conversation.contact_id == conversation.contact_id):
            continue
        best.setdefault(message.conversation_id, Similar(message.conversation, message, distance))
    similar = list(best.values())[:limit]
    orders = _orders_of([s.conversation.contact_id for s in similar], organization)
    for item in similar:
        item.orders = orders.get(item.conversation.contact_id, [])
    return similar


def _orders_of(contact_ids: list, organization: Organization) -> dict:
    orders: dict = {}
    for order in Order.objects.filter(organization=organization, contact_id__in=contact_ids).order_by("-created_at"):
        orders.setdefault(order.contact_id, []).append(order)
    return {contact: found[:3] for contact, found in orders.items()}


def suggested_replies(*, organization: Organization, conversation, canned=(), limit: int = 3) -> list[Suggestion]:
    """For the customer's latest message: what agents answered to the nearest messages of other
    conversations (the next reply after each), and the nearest canned replies; best first, each text once.
    Never sent: the agent inserts one and sends it, or not."""
    latest = _latest_inbound(organization, conversation)
    if latest is None:
        return []
    model, dimensions, vector = latest
    found = nearest(organization=organization, model=model, dimensions=dimensions, vector=vector, limit=20,
                    exclude_conversation=conversation, direction="inbound")
    close = {pk: distance for pk, distance in found if distance <= farthest(model, "suggestion")}
    answers = (Message.objects.filter(organization=organization, pk__in=list(close))
               .annotate(answer=Subquery(Message.objects.filter(
                   conversation=OuterRef("conversation"), direction="outbound", created_at__gt=OuterRef("created_at"))
                   .exclude(body="").order_by("created_at").values("body")[:1]))
               .values_list("id", "answer"))
    suggestions = [Suggestion(text=answer, source="reply", distance=close[pk]) for pk, answer in answers if answer]
    suggestions += _canned_near(model, dimensions, vector, canned)
    seen, best = set(), []
    for suggestion in sorted(suggestions, key=lambda s: s.distance):
        key = " ".join(suggestion.text.lower().split())
        if key not in seen:
            seen.add(key)
            best.append(suggestion)
    return best[:limit]


def _canned_near(model: str, dimensions: int, vector, canned) -> list[Suggestion]:
    """The canned replies nearest `vector`, embedded by the same model (only when it is the configured one)."""
    embedder = embedders.embedder()
    canned = [reply for reply in canned if reply.body]
    if embedder.name != model or not canned:
        return []
    try:
        vectors = _canned_vectors(embedder, canned)
    except embedders.EmbeddingError:
        return []
    near = []
    for reply, reply_vector in zip(canned, vectors, strict=True):
        distance = 1.0 - sum(a * b for a, b in zip(vector, reply_vector, strict=False))
        if distance <= farthest(model, "suggestion"):
            near.append(Suggestion(text=reply.body, source="canned", distance=distance, title=reply.title))
    return near


def _canned_vectors(embedder: embedders.Embedder, canned) -> list[list[float]]:
    """Canned replies' vectors, kept in the cache per model and text (a team has a few dozen)."""
    keys = [f"messaging:canned-vector:{embedder.name}:{hashlib.sha256(reply.body.encode()).hexdigest()}"
            for reply in canned]
    try:
        cached = cache.get_many(keys)
    except Exception:
        cached = {}
    missing = [i for i, key in enumerate(keys) if key not in cached]
    if missing:
        made = embedder.embed([canned[i].body for i in missing])
        fresh = {keys[i]: vector for i, vector in zip(missing, made, strict=True)}
        cached.update(fresh)
        try:
            cache.set_many(fresh, timeout=7 * 24 * 3600)
        except Exception:
            pass
    return [cached[key] for key in keys]
