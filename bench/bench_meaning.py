"""Benchmark: search by meaning (issue 19). Two parts (BENCH_PARTS=quality,scale):

quality: recall@5 on the labelled set (tests/messaging/meaning_set.py: 216 messages, six groups, English,
   Spanish and Portuguese), stored in an organization of their own and embedded as the product does.
   Each message is a query; recall@5 is the share of its five best other results that belong to its
   group (0.17 would be chance). Ways of searching: the product's words (every word, as prefixes), a
   looser keyword baseline (any word, ranked by ts_rank), meaning (the configured embedder), and both
   (the product's hybrid: reciprocal rank fusion of words and meaning). Also per language, and across
   languages (only the other languages' messages of the group count).

scale: organization `bench-inbox` of bench/inbox_data.py at BENCH_SIZE (10m: 1,000,000 conversations and
   10,000,000 messages, the default; 1m: a tenth):
   1. every message embedded by the default model: bulk backfill with the model's HNSW index dropped and
      rebuilt after (timed; once, kept between runs). The texts are read and stored a million at a
      time; the index is built with BENCH_INDEX_MEMORY of maintenance_work_mem (default 12GB: the
      graph of ten million 256-dimension vectors must fit, or pgvector builds it on disk, many times
      slower) and one parallel worker, its progress printed every minute;
   2. the worker's throughput: the 20,000 newest messages set waiting again and embedded by
      messaging.services.meaning.messages_embed as the bulk worker runs it (index maintained), and the
      embedder alone on the same texts;
   3. latency in this process of search by meaning (the query embedded, then the HNSW query under the
      tenant scope), hybrid (meaning and words fused) and words alone, for the 216 labelled texts as
      queries: median and p95. Targets: meaning under 100 ms, hybrid under 150 ms at p95.

Run: `.venv/bin/python -m bench.bench_meaning` (BENCH_PARTS=quality,scale; `throughput` or `latency`
alone run that step of scale).
"""

from __future__ import annotations

import os
import statistics
import struct
import sys
import threading
import time

import django

from bench.common import cpu_model, percentile, prepare_database, use_bench_database

os.environ["DEBUG"] = "false"
use_bench_database(sized=True)
django.setup()

import numpy as np  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from bench import inbox_data  # noqa: E402
from crm import services as crm_services  # noqa: E402
from messaging import embedders, search  # noqa: E402
from messaging.models import Message  # noqa: E402
from messaging.services import conversations, meaning  # noqa: E402
from telephony.models import PhoneNumber, Provider, ProviderAccount  # noqa: E402
from tenants import services as tenant_services  # noqa: E402
from tenants.models import Organization  # noqa: E402
from tenants.scoping import platform_scope, tenant_scope  # noqa: E402
from tests.messaging.meaning_set import labelled  # noqa: E402

QUALITY_SLUG = "bench-meaning"
INDEX = "message_meaning_wordllama_idx"
THROUGHPUT_MESSAGES = int(os.environ.get("BENCH_EMBED_MESSAGES", "20000"))


def machine() -> str:
    cpu = cpu_model()
    return f"{os.cpu_count()} cores ({cpu})"


# Quality ---------------------------------------------------------------------------------------------


def quality_organization():
    inbox_data.wipe(QUALITY_SLUG)
    with platform_scope():
        Organization.objects.filter(slug=QUALITY_SLUG).delete()  # what wipe() leaves (numbers, accounts, ...)
    owner, _ = get_user_model().objects.get_or_create(username="bench-meaning-owner")
    organization = tenant_services.organization_create(name="Bench meaning", slug=QUALITY_SLUG, owner=owner)
    with tenant_scope(organization):
        account = ProviderAccount.objects.create(organization=organization, provider=Provider.TWILIO,
                                                 account_sid="AC" + "9" * 32, auth_token="x", friendly_name="Bench")
        number = PhoneNumber.objects.create(organization=organization, provider_account=account,
                                            phone_number="+14155559000", provider_sid="PN" + "9" * 32,
                                            capabilities={"sms": True})
        stored = {}
        for index, (group, language, text) in enumerate(labelled()):
            contact = crm_services.contact_for(organization=organization, phone=f"+1415556{index:04d}")
            conversation = conversations.conversation_for(organization=organization, contact=contact, channel="sms",
                                                          phone_number=number)
            message = Message.objects.create(organization=organization, conversation=conversation,
                                             direction="inbound", channel="sms", body=text, status="received")
            stored[message.pk] = (group, language, text)
        meaning.messages_embed(organization=organization)
    return organization, stored


def any_word(organization, text: str, limit: int) -> list:
    """The looser keyword baseline: messages with any of the words, ranked by ts_rank."""
    words = [w for w in "".join(ch if ch.isalnum() else " " for ch in text.lower()).split() if len(w) > 1][:12]
    if not words:
        return []
    query = " | ".join(f"{w}:*" for w in words)
    with connection.cursor() as cursor:
        cursor.execute("""select id from messaging_message where organization_id = %s
                            and search_vector @@ to_tsquery('simple', %s)
                          order by ts_rank(search_vector, to_tsquery('simple', %s)) desc limit %s""",
                       [organization.pk, query, query, limit])
        return [row[0] for row in cursor.fetchall()]


def rrf(*rankings) -> list:
    scores: dict = {}
    for ranking in rankings:
        for rank, pk in enumerate(ranking, start=1):
            scores[pk] = scores.get(pk, 0.0) + 1.0 / (search.RRF_K + rank)
    return sorted(scores, key=lambda pk: -scores[pk])


def recall(organization, stored: dict, ranked, *, languages=None, cross=False) -> float:
    total, count = 0.0, 0
    for message_id, (group, language, text) in stored.items():
        if languages and language not in languages:
            continue
        found = [pk for pk in ranked(text) if pk != message_id and pk in stored]
        if cross:
            found = [pk for pk in found if stored[pk][1] != language]
        total += sum(1 for pk in found[:5] if stored[pk][0] == group) / 5
        count += 1
    return total / count


def quality() -> None:
    organization, stored = quality_organization()
    model = embedders.embedder().name
    ways = {
        "words (the product's: every word)": lambda t: [h.message.pk for h in search.search(
            organization=organization, text=t, mode="words", limit=30)[0]],
        "words, any word (ts_rank)": lambda t: any_word(organization, t, 30),
        f"meaning ({model})": lambda t: [h.message.pk for h in search.search(
            organization=organization, text=t, mode="meaning", limit=30)[0]],
        "both (hybrid, RRF)": lambda t: [h.message.pk for h in search.search(
            organization=organization, text=t, mode="both", limit=30)[0]],
        "RRF of any word and meaning": lambda t: rrf(any_word(organization, t, 50), [pk for pk, _ in search.by_meaning(
            organization=organization, text=t)]),
    }
    print(f"\nrecall@5 on the labelled set ({len(stored)} messages, 6 groups; chance 0.17)")
    print(f"{'way of searching':40} {'all':>6} {'en':>6} {'es':>6} {'pt':>6} {'across languages':>17}")
    with tenant_scope(organization):
        for name, ranked in ways.items():
            cells = [recall(organization, stored, ranked)] + [recall(organization, stored, ranked, languages={lang})
                                                              for lang in ("en", "es", "pt")]
            across = recall(organization, stored, lambda t, r=ranked: r(t) + [], cross=True)
            print(f"{name:40} " + " ".join(f"{c:6.2f}" for c in cells) + f" {across:17.2f}")


# Scale -----------------------------------------------------------------------------------------------


def _copy_binary(rows: list[tuple[bytes, np.ndarray]]) -> bytes:
    """PostgreSQL's binary COPY of (uuid, vector) rows."""
    parts = [b"PGCOPY\n\xff\r\n\x00", struct.pack(">ii", 0, 0)]
    for uuid_bytes, vector in rows:
        body = struct.pack(">HH", len(vector), 0) + vector.astype(">f4").tobytes()
        parts.append(struct.pack(">hi", 2, 16) + uuid_bytes + struct.pack(">i", len(body)) + body)
    parts.append(struct.pack(">h", -1))
    return b"".join(parts)


def ensure_embedded(organization) -> None:
    embedder = embedders.embedder()
    with tenant_scope(organization):
        waiting = Message.objects.filter(organization=organization).exclude(body="").exclude(
            embedding_model=embedder.name).count()
    if not waiting:
        print(f"embeddings: all messages already embedded by {embedder.name}")
        return
    print(f"embeddings: {waiting:,} messages to embed in bulk (index dropped, rebuilt after) ...", flush=True)
    started = time.perf_counter()
    embed_seconds = store_seconds = 0.0
    done = 0
    with tenant_scope(organization), connection.cursor() as cursor:
        cursor.execute(f"drop index if exists {INDEX}")
        # The trigger that counts a conversation's words again when a message's text changes would
        # hold every updated row twice per statement; embeddings change no text.
        cursor.execute("alter table messaging_message disable trigger messaging_message_words_changed")
        try:
            while True:  # a million at a time: one transaction each, resumable
                with transaction.atomic():
                    cursor.execute("select id, body from messaging_message where organization_id = %s "
                                   "and body <> '' and embedding_model = '' order by id limit 1000000",
                                   [organization.pk])
                    rows = cursor.fetchall()
                    if not rows:
                        break
                    cursor.execute("create temporary table bench_vectors (id uuid, embedding vector(256)) "
                                   "on commit drop")
                    for start in range(0, len(rows), 20_000):
                        chunk = rows[start:start + 20_000]
                        t0 = time.perf_counter()
                        vectors = np.asarray(embedder.embed([body for _, body in chunk]), dtype=np.float32)
                        embed_seconds += time.perf_counter() - t0
                        with cursor.copy("copy bench_vectors (id, embedding) from stdin (format binary)") as copy:
                            copy.write(_copy_binary([(pk.bytes, v) for (pk, _), v in zip(chunk, vectors,
                                                                                          strict=True)]))
                    t0 = time.perf_counter()
                    cursor.execute("analyze bench_vectors")
                    cursor.execute("""update messaging_message m
                                         set embedding = v.embedding::vector,
                                             embedding_model = %s, embedding_dimensions = 256, embedded_at = now()
                                        from bench_vectors v
                                       where m.id = v.id and m.id between %s and %s""",
                                   [embedder.name, rows[0][0], rows[-1][0]])
                    store_seconds += time.perf_counter() - t0
                done += len(rows)
                print(f"  {done:,} embedded and stored, {time.perf_counter() - started:.0f} s", flush=True)
                del rows
        finally:
            cursor.execute("alter table messaging_message enable trigger messaging_message_words_changed")
    print(f"  embedded {done:,} texts in {embed_seconds:.0f} s ({done / embed_seconds:,.0f}/s), "
          f"stored in {store_seconds:.0f} s; {time.perf_counter() - started:.0f} s in all", flush=True)
    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("vacuum messaging_message")
    print(f"  vacuumed in {time.perf_counter() - t0:.0f} s", flush=True)
    t0 = time.perf_counter()
    stop = threading.Event()
    threading.Thread(target=_index_progress, args=(stop, t0), daemon=True).start()
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"set maintenance_work_mem = '{os.environ.get('BENCH_INDEX_MEMORY', '12GB')}'")
            cursor.execute("set max_parallel_maintenance_workers = 1")
            cursor.execute(f"create index {INDEX} on messaging_message using hnsw "
                           "((subvector(embedding, 1, 256)::vector(256)) vector_cosine_ops) "
                           "where embedding_model = 'wordllama/l2_supercat_256'")
    finally:
        stop.set()
    print(f"  HNSW index built in {time.perf_counter() - t0:.0f} s", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("analyze messaging_message")
        cursor.execute(f"select pg_size_pretty(pg_relation_size('{INDEX}')), "
                       "pg_size_pretty(pg_total_relation_size('messaging_message'))")
        index_size, table_size = cursor.fetchone()
    print(f"  index {index_size}; messages with their TOAST and indexes {table_size}; "
          f"total {time.perf_counter() - started:.0f} s", flush=True)


def _index_progress(stop: threading.Event, started: float) -> None:
    """Print the index build's progress every minute (pg_stat_progress_create_index), from a
    connection of its own."""
    import psycopg

    settings = connection.settings_dict
    with psycopg.connect(host=settings["HOST"], port=settings["PORT"], user=settings["USER"],
                         dbname=settings["NAME"], password=settings["PASSWORD"] or None,
                         autocommit=True) as progress:
        while not stop.wait(60):
            row = progress.execute("select phase, blocks_done, blocks_total, tuples_done, tuples_total "
                                   "from pg_stat_progress_create_index").fetchone()
            if row:
                print(f"    {time.perf_counter() - started:.0f} s: {row[0]}, blocks {row[1]:,}/{row[2]:,}, "
                      f"tuples {row[3]:,}/{row[4]:,}", flush=True)


def throughput(organization) -> None:
    embedder = embedders.embedder()
    with tenant_scope(organization):
        newest = list(Message.objects.filter(organization=organization).exclude(body="").order_by("-id")
                      .values_list("id", "body")[:THROUGHPUT_MESSAGES])
        t0 = time.perf_counter()
        for start in range(0, len(newest), embedder.batch_size):
            embedder.embed([body for _, body in newest[start:start + embedder.batch_size]])
        alone = time.perf_counter() - t0
        Message.objects.filter(pk__in=[pk for pk, _ in newest]).update(embedding_model="")
        t0 = time.perf_counter()
        done = 0
        while True:
            embedded, more = meaning.messages_embed(organization=organization)
            done += embedded
            if not more:
                break
        worker = time.perf_counter() - t0
    print(f"\nthroughput on the {len(newest):,} newest messages (batches of {embedder.batch_size}):")
    print(f"  the embedder alone: {len(newest) / alone:,.0f} messages/s")
    print(f"  the worker's task (embed, store, HNSW index maintained): {done / worker:,.0f} messages/s "
          f"({done:,} in {worker:.1f} s)")


def latency(organization) -> None:
    texts = [text for _, _, text in labelled()]
    cases = {
        "meaning": lambda t: search.search(organization=organization, text=t, mode="meaning", limit=20),
        "both (hybrid)": lambda t: search.search(organization=organization, text=t, mode="both", limit=20),
        "words": lambda t: search.search(organization=organization, text=t, mode="words", limit=20),
        "the query's embedding alone": lambda t: embedders.embedder().embed([t]),
    }
    with tenant_scope(organization):
        count = Message.objects.filter(organization=organization).count()
    print(f"\nlatency over {count:,} messages, {len(texts)} queries each, in-process (ms):")
    targets = {"meaning": 100, "both (hybrid)": 150}
    with tenant_scope(organization):
        for name, run in cases.items():
            for text in texts[:20]:
                run(text)  # warm up
            timings = []
            for text in texts:
                t0 = time.perf_counter()
                run(text)
                timings.append((time.perf_counter() - t0) * 1000)
            p95 = percentile(timings, 0.95)  # was percentile(timings, 95): the maximum, until 2026-12-05
            verdict = "" if name not in targets else (" ok" if p95 < targets[name] else " SLOW") + \
                f" (target {targets[name]} ms)"
            print(f"  {name:30} median {statistics.median(timings):6.1f}  p95 {p95:6.1f}  max {max(timings):7.1f}"
                  f"{verdict}")
        with connection.cursor() as cursor:
            embedder, vector = search.query_vector(texts[0])
            cursor.execute("explain (analyze, buffers) select id from messaging_message where organization_id = %s "
                           "and embedding_model = %s order by (subvector(embedding, 1, 256)::vector(256)) "
                           "<=> %s::vector(256) limit 50",
                           [organization.pk, embedder.name, search.vector_literal(vector, 256)])
            print("\nplan of one query by meaning:\n  " + "\n  ".join(row[0] for row in cursor.fetchall()))


def main() -> int:
    prepare_database()
    parts = os.environ.get("BENCH_PARTS", "quality,scale").split(",")
    print(f"machine: {machine()}; model: {embedders.embedder().name}")
    if "quality" in parts:
        quality()
    if {"scale", "throughput", "latency"} & set(parts):
        data = inbox_data.ensure_inbox_data()
        ensure_embedded(data.organization)
        if {"scale", "throughput"} & set(parts):
            throughput(data.organization)
        if {"scale", "latency"} & set(parts):
            latency(data.organization)
    return 0


if __name__ == "__main__":
    sys.exit(main())
