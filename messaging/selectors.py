"""Reads of `messaging`, organization first."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import BooleanField, DateTimeField, F, Func, Q, QuerySet, Subquery, TextField
from django.db.models.expressions import RawSQL

from core import counts
from core.labels import labels_in_use
from crm.models import Channel, Contact
from crm.selectors import search_words
from telephony import selectors as telephony_selectors
from telephony.models import Call, PhoneNumber, Provider
from tenants.access import current_access
from tenants.models import Organization
from tenants.scoping import get_for_org, platform_scope

from . import search
from .models import (
    CannedReply,
    Conversation,
    ConversationStatus,
    InboundEvent,
    LabelUse,
    Message,
    TemplateProvider,
    WhatsAppSender,
    WhatsAppTemplate,
)


def inbound_events_failed_count() -> int:
    """Inbound events set aside as failed, on the whole platform (/healthz): a number, nothing else.
    Served by inbound_event_failed_idx, which is empty while all is well."""
    with platform_scope():
        return InboundEvent.objects.filter(failed_at__isnull=False).count()


def conversation_list(*, organization: Organization, filters: dict | None = None) -> QuerySet[Conversation]:
    filters = filters or {}
    qs = Conversation.objects.filter(organization=organization).select_related("contact", "assignee", "phone_number",
                                                                                 "whatsapp_sender")
    if filters.get("status"):
        qs = qs.filter(status=filters["status"])
    if filters.get("assignee"):
        qs = qs.filter(assignee=filters["assignee"])
    if filters.get("phone_number"):
        qs = qs.filter(phone_number=filters["phone_number"])
    if filters.get("unread"):
        qs = qs.filter(unread_count__gt=0)
    return qs.order_by("-last_message_at", "-id")


# Columns of the joined rows that no view of a conversation reads: the number's provider settings and
# the sender's secrets (decrypted on load) stay in the database unless something asks for them.
_CONVERSATION_DEFERRED = (
    "phone_number__metadata", "phone_number__status_reason", "phone_number__sms_url",
    "phone_number__status_callback_url", "phone_number__voice_url", "phone_number__previous_sms_url",
    "phone_number__previous_voice_url", "phone_number__webhook_drift", "phone_number__platform_id",
    "phone_number__platform_state", "phone_number__platform_error",
    "whatsapp_sender__access_token", "whatsapp_sender__app_secret", "whatsapp_sender__verify_token",
)


def get_conversation_for_org(organization: Organization, public_id) -> Conversation:
    return get_for_org(Conversation.objects.select_related("contact", "phone_number", "whatsapp_sender", "assignee")
                       .defer(*_CONVERSATION_DEFERRED), organization, public_id)


def get_message_for_org(organization: Organization, public_id) -> Message:
    return get_for_org(Message.objects.select_related("conversation__phone_number__provider_account",
                                                      "conversation__whatsapp_sender"), organization, public_id)


# The inbox ------------------------------------------------------------------------------------------

INBOX_PAGE = 50
INBOX_VIEWS = ("mine", "unassigned", "all")


@dataclass(frozen=True)
class InboxFilters:
    """What an inbox list shows. Search looks through every status."""

    view: str = "all"
    status: str = ConversationStatus.OPEN
    line: str = ""  # "n:<phone number id>" or "w:<whatsapp sender id>"
    channel: str = ""
    label: str = ""
    unread: bool = False
    q: str = ""
    mode: str = "words"  # how `q` searches: "words", or also (or only) by "meaning" (messaging.search)


# What a row of the list shows (messaging/rows.py): loading only these columns halves
# the time to build 50 rows (the contact's search vector, the number's provider settings, ... stay in
# the database).
ROW_FIELDS = ("id", "organization_id", "channel", "status", "unread_count", "last_message_at",
              "last_message_preview", "labels", "updated_at",
              "contact__id", "contact__name", "contact__whatsapp_profile_name", "contact__phone_number",
              "contact__address_kind",
              "assignee__id", "assignee__name",
              "phone_number__id", "phone_number__phone_number",
              "whatsapp_sender__id", "whatsapp_sender__name", "whatsapp_sender__display_phone_number")


def inbox_conversations(*, organization: Organization, agent, filters: InboxFilters, after: tuple | None = None,
                        limit: int = INBOX_PAGE) -> list[Conversation]:
    """The conversations of an inbox view, newest activity first; `after` is the (last_message_at, id)
    of the last row already shown (keyset paging: page 2,000 costs what page 1 does)."""
    if filters.q and filters.mode != "words":
        return [] if after is not None else _meaning_page(organization=organization, agent=agent, filters=filters,
                                                          limit=limit)
    if filters.q:
        return _search_page(organization=organization, agent=agent, filters=filters, after=after, limit=limit)
    qs = _after(inbox_filtered(organization=organization, agent=agent, filters=filters), after)
    return list(qs.only(*ROW_FIELDS).order_by("-last_message_at", "-id")[:limit])


def _after(qs, after):
    if after is None:
        return qs
    at, pk = after
    return qs.filter(Q(last_message_at__lt=at) | Q(last_message_at=at, pk__lt=pk))


@dataclass(frozen=True)
class _Match:
    """One way a conversation can match a search: its `column` is among `values` (the ids of the
    matching contacts, or of the conversations of the matching messages). `walked`: the same test
    made on the conversation's own row, which a walk through the conversations reads anyway."""

    column: str
    values: QuerySet
    walked: Q | None = None
    walk_cost: float = 1.0  # what the walk pays per conversation, against what sorting pays per match
    # The same ids for a word the search index has never seen: the planner's estimate for it is the
    # least it ever gives, and one at or under it says nothing (see _search_order).
    unseen: QuerySet | None = None
    # With one word, the words' query a walk through the newest conversations can test alone.
    window: str | None = None

    def condition(self) -> Q:
        return Q(**{f"{self.column}__in": self.values})

    def walk_condition(self) -> Q:
        return self.condition() if self.walked is None else self.walked


def _search_matches(organization: Organization, text: str) -> list[_Match] | None:
    """One match per way a conversation can match a search: every word in its contact's name (or
    WhatsApp name, or email), its contact's number having the digits typed, or every word in one of
    its messages. None when the text has nothing to search for."""
    words = search_words(text)
    if not words:
        return None
    name_terms = [f"{word}:*" for word in words]
    message_terms = _message_terms(text)
    contacts = Contact.objects.filter(organization=organization)
    by_name = contacts.filter(search_vector=search.terms_query(name_terms)).values_list("pk", flat=True)
    # Costs per conversation walked, against a match sorted, at a million conversations: a walk tests
    # the words on rows it reads in order (1.2 to 2 µs each); sorting fetches each matching contact or
    # message where it lies, 15 to 40 µs when it is not in memory (a first name's 2,468 messages took
    # 101 ms to sort, the walk to 51 of their conversations 40 ms). A number's test is not on the row.
    matches = [_Match("contact_id", by_name, walked=Q(_Words("contact_words", name_terms)), walk_cost=0.1)]
    digits = re.sub(r"\D", "", text)
    if len(digits) >= 3:
        matches.append(_Match("contact_id", contacts.filter(phone_number__contains=digits)
                              .values_list("pk", flat=True)))
    messages = search.words_matched(Message.objects.filter(organization=organization), message_terms)
    by_text = messages.values_list("conversation_id", flat=True)
    # The conversation's words are those of all its messages together: with one word, whether it has
    # the word says whether one of its messages has it; with several, only whether it may (each
    # could be in another message), and the messages of the conversations that may are looked at.
    one_word = len(set(message_terms)) == 1
    walked = Q(_Words("message_words", message_terms))
    if not one_word:
        walked &= Q(id__in=by_text)
    unseen = Message.objects.filter(organization=organization, search_vector=search.terms_query([UNSEEN_WORD]))
    matches.append(_Match("id", by_text, walked=walked, walk_cost=0.1,
                          unseen=unseen.values_list("conversation_id", flat=True),
                          window=message_terms[0] if one_word and not words[0].isdigit() else None))
    return matches


class _Words(Func):
    """Whether a conversation's `column` has every term: contact_words (its contact's search vector)
    or message_words (the words of all its messages), the tsvector columns of its own row kept by
    migration 0015's triggers. Django does not know these columns, so that no save() ever writes
    them back; this names them beside the conversation table's name or alias in the query."""

    output_field = BooleanField()

    def __init__(self, column: str, terms: list[str]):
        super().__init__(F("pk"))
        self.column, self.terms = column, tuple(terms)

    def as_sql(self, compiler, connection, **extra_context):
        pk, _ = compiler.compile(self.source_expressions[0])
        table = pk.rsplit(".", 1)[0]
        return f"{table}.{self.column} @@ to_tsquery('simple', %s)", [" & ".join(self.terms)]


# In a message's text a word of one or two characters matches only as a whole word: as a prefix, "4"
# stood for every number that starts with a 4 (1.5 s at ten million messages) and "hi" for "his",
# "history", "hiking". Names are searched by any prefix ("j" finds Jennifer): contacts are few.
SHORTEST_PREFIX = 3


def _message_terms(text: str) -> list[str]:
    return [f"{word}:*" if len(word) >= SHORTEST_PREFIX else word for word in search_words(text)]


# A search's match that few contacts or messages have is found through the search index and its
# conversations sorted; one that many have is found by walking the conversations newest first until
# a page of them match, testing each on its own row (_Match.walked). Left to itself, the planner walks
# whenever it expects the matches spread evenly through time; they seldom are, and a first name at a
# million conversations read 217,609 of them to find 51 (docs/benchmarks.md, issue 21). Sorting costs
# about a row per match; the walk about a page's rows times conversations per match (times what it
# pays per conversation against what sorting pays per match, _Match.walk_cost): the two meet where
# matches squared equal the page's rows times the conversations shown, over that cost
# (bench/bench_search_plans.py times both ways for seventy terms).


class _Unindexed(Func):
    """The time as it is, in an expression no index serves: `ORDER BY (t + interval '0 s')` sorts as
    `ORDER BY t` does, but only after the rows are found."""

    template = "(%(expressions)s + interval '0 seconds')"
    output_field = DateTimeField()


# A word PostgreSQL's statistics of the messages do not list (most names, every order number) is
# estimated at the same floor, 2,468 messages of ten million, whether it is in none or in 4,000.
# Walking to a word in no message reads every conversation ("j" as a whole word: 2.2 s); sorting a
# first name's 3,000 messages fetches each where it lies (60 to 115 ms when they are not in memory).
# So such a word is first looked for in the newest WINDOW conversations only (one walk that stops
# at a page of matches, or at the window's end: 30 to 40 ms for a word in none), and its matches are
# sorted only when the window held less than a page. A number is not looked for that way: numbers in
# messages are order numbers and codes, each in few messages, and a search by a number's digits
# paid the window for nothing (p95 20.9 to 51.2 ms, docs/benchmarks.md, issue 21).
UNSEEN_WORD = "zqxjv"
UNSEEN_MARGIN = 1.1
WINDOW = 20_000


def _search_order(match: _Match, conversations: float, limit: int) -> tuple[Q, tuple, bool]:
    """The match's condition and ORDER BY (sorted, or walked to), and whether to look through the
    newest conversations first (_window)."""
    matching = counts.estimated(match.values)
    unknown = match.unseen is not None and matching <= counts.estimated(match.unseen) * UNSEEN_MARGIN
    if unknown or matching * matching <= limit * conversations * match.walk_cost:
        return match.condition(), (_Unindexed("last_message_at").desc(), "-id"), unknown and match.window is not None
    return match.walk_condition(), ("-last_message_at", "-id"), False


def _window(cursor, page: QuerySet, match: _Match, limit: int) -> list[tuple]:
    """The newest `limit` conversations of the newest WINDOW shown whose messages have the match's
    one word. The window is the walk's own LIMIT, in a subquery PostgreSQL reads lazily (the ORM
    cannot write one in FROM): the walk stops at a page of matches. Its rows are the newest matches
    of all, so a full page needs no more."""
    table = Conversation._meta.db_table
    newest = (page.order_by("-last_message_at", "-id")
              .annotate(words=RawSQL(f'"{table}"."message_words"', [], output_field=TextField()))
              .values_list("last_message_at", "pk", "words")[:WINDOW])
    try:
        sql, params = newest.query.sql_with_params()
    except EmptyResultSet:  # nothing shown (an empty view, or a window of none)
        return []
    cursor.execute(f"select w.at, w.id from ({sql}) as w (at, id, words) "
                   "where w.words @@ to_tsquery('simple', %s) order by w.at desc, w.id desc limit %s",
                   [*params, match.window, limit])
    return cursor.fetchall()


def _search_page(*, organization, agent, filters, after, limit) -> list[Conversation]:
    """A page of search results as a union of one small query per kind of match, each stopping at
    `limit`: a rare match sorts its conversations, a common one walks the conversations newest first
    through their index, one the estimates say nothing of looks through the newest first (_window).
    One query for the ids (two with a window), one for the rows. (One query with the matches OR-ed
    together cannot stop early and reads every conversation.)"""
    matches = _search_matches(organization, filters.q)
    if matches is None:
        return []
    shown = inbox_filtered(organization=organization, agent=agent, filters=replace(filters, q="", status=""))
    conversations = counts.estimated(shown)
    page = _after(shown, after)
    plans = [_search_order(match, conversations, limit) for match in matches]
    with transaction.atomic(), connection.cursor() as cursor:
        # A branch for a common term walks the conversations newest first and stops at `limit`
        # matches. Split over parallel workers, each walked much further than needed, waiting for
        # the others to merge: a first name shared by 500 customers took a second instead of 100 ms.
        cursor.execute("set local max_parallel_workers_per_gather = 0")
        found, branches = [], []
        for match, (condition, order, windowed) in zip(matches, plans, strict=True):
            if windowed:
                newest = _window(cursor, page, match, limit)
                found += newest
                if len(newest) == limit:
                    continue
            branches.append(page.filter(condition).order_by(*order).values_list("last_message_at", "pk")[:limit])
        if branches:
            found += branches[0].union(*branches[1:], all=True)
    found = sorted(set(found), reverse=True)[:limit]
    rows = {row.pk: row for row in shown.only(*ROW_FIELDS).filter(pk__in=[pk for _, pk in found])}
    return [rows[pk] for _, pk in found if pk in rows]


def _meaning_page(*, organization, agent, filters, limit) -> list[Conversation]:
    """Search by meaning (or words and meaning): the conversations of the best messages, best first,
    one page, each row carrying the message that matched and how (`row.hit`). When the embedder cannot
    answer: in mode "both" the words' results, the page's `meaning_unavailable` saying why; in mode
    "meaning", search.MeaningUnavailable."""
    hits, unavailable = search.search(organization=organization, text=filters.q, mode=filters.mode,
                                      limit=CONVERSATION_HITS)
    best: dict = {}
    for hit in hits:
        best.setdefault(hit.message.conversation_id, hit)
    shown = inbox_filtered(organization=organization, agent=agent, filters=replace(filters, q="", status=""))
    rows = {row.pk: row for row in shown.only(*ROW_FIELDS).filter(pk__in=list(best))}
    page = SearchPage()
    page.meaning_unavailable = unavailable
    for conversation_id, hit in best.items():
        row = rows.get(conversation_id)
        if row is not None and len(page) < limit:
            row.hit = hit
            page.append(row)
    return page


CONVERSATION_HITS = 50


class SearchPage(list):
    """Rows found by meaning, and why meaning was left out ("" when it was not)."""

    meaning_unavailable = ""


def inbox_filtered(*, organization: Organization, agent, filters: InboxFilters) -> QuerySet[Conversation]:
    """Every conversation a view shows, unordered (search looks through every status)."""
    qs = Conversation.objects.filter(organization=organization).select_related(
        "contact", "assignee", "phone_number", "whatsapp_sender")
    if filters.view == "mine":
        qs = qs.filter(assignee=agent) if agent is not None else qs.none()
    elif filters.view == "unassigned":
        qs = qs.filter(assignee__isnull=True)
    if filters.q:
        matches = _search_matches(organization, filters.q)
        if matches is None:
            return qs.none()
        any_match = matches[0].condition()
        for match in matches[1:]:
            any_match |= match.condition()
        qs = qs.filter(any_match)
    elif filters.status:
        qs = qs.filter(status=filters.status)
    if filters.line.startswith("n:"):
        qs = qs.filter(phone_number_id=filters.line[2:])
    elif filters.line.startswith("w:"):
        qs = qs.filter(whatsapp_sender_id=filters.line[2:])
    if filters.channel:
        qs = qs.filter(channel=filters.channel)
    if filters.label:
        qs = qs.filter(labels__contains=[filters.label])
    if filters.unread:
        qs = qs.filter(unread_count__gt=0)
    return qs


# The inbox's unread figure shows up to this many, then "999+" (core.counts).
UNREAD_SHOWN_UP_TO = 999


def inbox_unread_total(*, organization: Organization) -> int:
    """Conversations with unread messages, whatever their status (the inbox's figure), counted up to
    UNREAD_SHOWN_UP_TO + 1: show it with ``unread_total_text``."""
    return counts.up_to(Conversation.objects.filter(organization=organization, unread_count__gt=0),
                        UNREAD_SHOWN_UP_TO)


def unread_total_text(total: int) -> str:
    return counts.shown(total, UNREAD_SHOWN_UP_TO)


def inbox_labels(*, organization: Organization) -> list[str]:
    """Labels in use, for the filter: the organization's label counts (LabelUse, kept by a trigger),
    or for a member limited to some conversations the labels of those (core.labels)."""
    access = current_access()
    return labels_in_use(counted=LabelUse.objects.filter(organization=organization, conversations__gt=0),
                         labelled=Conversation.objects.filter(organization=organization, labels__len__gt=0),
                         everything=access is not None and access.everything)


def inbox_lines(*, organization: Organization) -> list[tuple[str, str]]:
    """Our numbers and WhatsApp senders, as (filter value, label), for the filter."""
    numbers = PhoneNumber.objects.filter(organization=organization).order_by("phone_number")
    senders = WhatsAppSender.objects.filter(organization=organization).order_by("name")
    return ([(f"n:{n.pk}", f"{n.phone_number}{f' · {n.friendly_name}' if n.friendly_name else ''}") for n in numbers]
            + [(f"w:{s.pk}", f"WhatsApp · {s.name}") for s in senders])


def contact_lines(*, organization: Organization, contact: Contact) -> dict[str, Conversation]:
    """Where the team could write to a contact from: SMS from each of our numbers that sends text, and
    WhatsApp from each sender, as the contact's conversation there (an unsaved one where there is
    none yet, so "may we send?" can be asked of it), keyed "n:<number id>" / "w:<sender id>"."""
    existing = {(c.channel, c.phone_number_id, c.whatsapp_sender_id): c
                for c in Conversation.objects.filter(organization=organization, contact=contact)}
    lines: dict[str, Conversation] = {}
    for number in PhoneNumber.objects.filter(organization=organization).order_by("phone_number"):
        if number.can("sms"):
            lines[f"n:{number.pk}"] = existing.get((Channel.SMS, number.pk, None)) or Conversation(
                organization=organization, contact=contact, channel=Channel.SMS, phone_number=number)
    for sender in WhatsAppSender.objects.filter(organization=organization).order_by("name"):
        lines[f"w:{sender.pk}"] = existing.get((Channel.WHATSAPP, None, sender.pk)) or Conversation(
            organization=organization, contact=contact, channel=Channel.WHATSAPP, whatsapp_sender=sender)
    for conversation in lines.values():
        conversation.contact = contact
    return lines


def thread_messages(*, organization: Organization, conversation: Conversation, before=None, limit: int = 50):
    """The thread's newest `limit` messages before a message id, oldest first, and whether there are
    older ones. One query (the cursor's time is read in a subquery)."""
    qs = Message.objects.filter(organization=organization, conversation=conversation).select_related("created_by")
    if before is not None:
        anchor = Message.objects.filter(organization=organization, conversation=conversation, pk=before)
        qs = qs.filter(Q(created_at__lt=Subquery(anchor.values("created_at")))
                       | Q(created_at=Subquery(anchor.values("created_at")), pk__lt=before))
    page = list(qs.order_by("-created_at", "-id")[: limit + 1])
    return list(reversed(page[:limit])), len(page) > limit


def has_calls(conversation: Conversation) -> bool:
    """Whether the conversation's timeline shows calls: the contact's calls on one of our numbers
    belong to their SMS conversation on that number (the one a call opens), not to WhatsApp's."""
    return conversation.phone_number_id is not None and conversation.channel == Channel.SMS


def _item_position(organization: Organization, conversation: Conversation, item_id) -> tuple | None:
    """(created_at, id) of a message of the conversation, or of one of its calls."""
    position = (Message.objects.filter(organization=organization, conversation=conversation, pk=item_id)
                .values_list("created_at", "pk").first())
    if position is None and has_calls(conversation):
        position = (Call.objects.filter(organization=organization, contact_id=conversation.contact_id,
                                        phone_number_id=conversation.phone_number_id, pk=item_id)
                    .values_list("created_at", "pk").first())
    return position


def thread_items(*, organization: Organization, conversation: Conversation, before=None, limit: int = 50):
    """The thread as the inbox shows it: the messages and, in a conversation on one of our numbers,
    the contact's calls on that number, interleaved by time. The newest `limit` items before an
    item's id (a message or a call), oldest first, and whether there are older ones. One query for
    the messages and one for the calls (call_contact_number_idx), each stopping at `limit`."""
    position = None
    if before is not None:
        position = _item_position(organization, conversation, before)
        if position is None:
            return [], False
    qs = Message.objects.filter(organization=organization, conversation=conversation).select_related("created_by")
    if position is not None:
        at, pk = position
        qs = qs.filter(Q(created_at__lt=at) | Q(created_at=at, pk__lt=pk))
    items = list(qs.order_by("-created_at", "-id")[: limit + 1])
    if has_calls(conversation):
        items += telephony_selectors.contact_calls(organization=organization, contact_id=conversation.contact_id,
                                                   phone_number_id=conversation.phone_number_id, before=position,
                                                   limit=limit + 1)
    items.sort(key=lambda item: (item.created_at, item.pk), reverse=True)
    return list(reversed(items[:limit])), len(items) > limit


def contact_conversations(*, organization: Organization, contact: Contact) -> list[Conversation]:
    return list(Conversation.objects.filter(organization=organization, contact=contact)
                .select_related("phone_number", "whatsapp_sender")
                .only("id", "organization_id", "contact_id", "channel", "status", "last_message_at",
                      "phone_number__id", "phone_number__phone_number",
                      "whatsapp_sender__id", "whatsapp_sender__name", "whatsapp_sender__display_phone_number")
                .order_by("-last_message_at")[:20])


def whatsapp_templates_for(*, organization: Organization, conversation: Conversation) -> list[WhatsAppTemplate]:
    """The templates of a WhatsApp conversation's line (its business account's, or its Twilio
    account's), those that can be sent first, without the ones the vendor no longer lists."""
    if conversation.channel != Channel.WHATSAPP:
        return []
    qs = WhatsAppTemplate.objects.filter(organization=organization).exclude(status="deleted")
    if conversation.whatsapp_sender_id:
        waba = conversation.whatsapp_sender.business_account_id
        if not waba:
            return []
        qs = qs.filter(provider=TemplateProvider.WHATSAPP_CLOUD, business_account_id=waba)
    else:
        qs = qs.filter(provider=TemplateProvider.TWILIO, provider_account_id=conversation.phone_number.provider_account_id)
    templates = list(qs.order_by("name", "language"))
    return sorted(templates, key=lambda t: not t.sendable)


def get_whatsapp_template_for_org(organization: Organization, public_id) -> WhatsAppTemplate:
    return get_for_org(WhatsAppTemplate.objects.all(), organization, public_id)


def whatsapp_template_list(*, organization: Organization) -> QuerySet[WhatsAppTemplate]:
    return WhatsAppTemplate.objects.filter(organization=organization).order_by("business_account_id", "name",
                                                                                "language")


@dataclass
class TemplateAccount:
    """One account whose templates the templates page shows: a WhatsApp business account (through its
    senders; `sender` the one that reads it) or a Twilio account."""

    templates: list[WhatsAppTemplate]
    sender: WhatsAppSender | None = None
    senders: list[WhatsAppSender] = field(default_factory=list)
    account: object = None  # telephony.ProviderAccount (Twilio)


def whatsapp_template_accounts(*, organization: Organization) -> tuple[list[TemplateAccount], list[TemplateAccount]]:
    """The templates page: each business account (one entry per account id, however many senders share
    it) and each Twilio account, with their templates."""
    templates = list(whatsapp_template_list(organization=organization))
    senders = list(whatsapp_sender_list(organization=organization))
    business = {}
    for sender in senders:
        waba = sender.business_account_id
        if waba not in business:
            business[waba] = TemplateAccount(sender=sender, templates=[
                t for t in templates if waba and t.provider == TemplateProvider.WHATSAPP_CLOUD
                and t.business_account_id == waba])
        business[waba].senders.append(sender)
    twilio = [TemplateAccount(account=account, templates=[t for t in templates if t.provider_account_id == account.pk])
              for account in telephony_selectors.provider_account_list(organization=organization,
                                                                       provider=Provider.TWILIO)]
    return list(business.values()), twilio


def whatsapp_sender_list(*, organization: Organization) -> QuerySet[WhatsAppSender]:
    return WhatsAppSender.objects.filter(organization=organization).select_related("client").order_by("name")


def get_whatsapp_sender_for_org(organization: Organization, public_id) -> WhatsAppSender:
    return get_for_org(WhatsAppSender.objects.all(), organization, public_id)


def canned_reply_list(*, organization: Organization) -> QuerySet[CannedReply]:
    return CannedReply.objects.filter(organization=organization).order_by("shortcut")


def get_canned_reply_for_org(organization: Organization, public_id) -> CannedReply:
    return get_for_org(CannedReply.objects.all(), organization, public_id)


@dataclass
class InboxChanges:
    rows: list[Conversation]  # changed and still in this view
    gone: list = field(default_factory=list)  # changed and no longer in this view
    messages: list = field(default_factory=list)  # of the open conversation: its messages and calls
    conversation: Conversation | None = None  # the open conversation, when it changed


def inbox_changes(*, organization: Organization, agent, filters: InboxFilters, since, open_conversation=None,
                  limit: int = 100) -> InboxChanges:
    """What changed since a cursor, for a tab showing `filters` (and perhaps one conversation)."""
    changed = Conversation.objects.filter(organization=organization, updated_at__gt=since)
    rows = list(inbox_filtered(organization=organization, agent=agent, filters=filters)
                .filter(updated_at__gt=since).order_by("-last_message_at", "-id")[:limit])
    shown = {row.pk for row in rows}
    gone = [pk for pk in changed.order_by("-updated_at").values_list("pk", flat=True)[:limit] if pk not in shown]
    result = InboxChanges(rows=rows, gone=gone)
    if open_conversation is not None:
        result.messages = list(Message.objects.filter(organization=organization, conversation=open_conversation,
                                                      updated_at__gt=since)
                               .select_related("created_by").order_by("created_at", "id")[:200])
        if has_calls(open_conversation):
            result.messages += telephony_selectors.contact_calls(
                organization=organization, contact_id=open_conversation.contact_id,
                phone_number_id=open_conversation.phone_number_id, changed_since=since)
            result.messages.sort(key=lambda item: (item.created_at, item.pk))
        if open_conversation.pk in shown or open_conversation.pk in gone:
            result.conversation = get_conversation_for_org(organization, open_conversation.pk)
    return result
