"""Benchmark: a capacity model of the inbound pipeline (issue 21), from each stage measured alone.

The product's own processes (softphone.launcher's commands) on the embedded PostgreSQL (database
softphone_bench) and Redis, with bench/bench_inbound_pipeline.py's settings, namespace and helpers.
BENCH_ORGS organizations, each with its own Twilio account, auth token and number, so that several
drains can run at once (one organization's drain is serialized by an advisory lock). Then, for each N
in BENCH_PROCESSES, with new organizations each time so that every round starts alike, and one
message in BENCH_MESSAGES_PER_SENDER from a new sender (a contact and a conversation created) however
many messages a round stores:

1. webhook: the web server alone, N processes x the launcher's threads, no worker running. Signed
   inbound webhooks, spread over the organizations and each signed with its own organization's token,
   replayed by `wrk` for BENCH_SECONDS: the events are stored, the drains they ask for wait in Redis.
2. drain: the interactive queue's worker with concurrency N. It starts on an idle queue and, once it
   answers, is told to consume the interactive queue (Celery's add_consumer): the drain tasks that
   the webhooks queued run as they were queued, and the worker's start-up is not timed or charged.
   Timed until every stored event is processed.
3. embed: the drains ask for the messages' embeddings (search by meaning) on the bulk queue; its
   worker, with concurrency N, is started the same way, and timed until every message is embedded.

Each stage records messages a second, and per message: CPU seconds of its own processes and of
PostgreSQL (the postmaster and every backend: reaped processes included), of the shared Redis server,
and the database's writes (pg_stat_database's commits and rows inserted, updated and deleted in
softphone_bench; pg_stat_wal's records and full-page images; WAL bytes from pg_current_wal_lsn, which
is the whole server's). CPU per message of the worker stages is taken between 10 % and 90 % of their
messages (the steady part: each process's first task opens its connection, loads the embedding model),
when that part lasts a second or more. Then the model: messages a second per core for each stage, the
database's share, and the cores, WAL and machines that BENCH_TARGET_RATE messages a second sustained
would take, planning for BENCH_TARGET_BUSY CPU busy, from the highest CPU per message of the rounds.

The drain stage drains a backlog, in full batches of 250: the cheapest case per message. A drain that
keeps up with live traffic runs more often on smaller batches (bench_inbound_pipeline.py measures
that end to end).

    .venv/bin/python -m bench.bench_capacity

Knobs (environment): BENCH_PROCESSES ("1,2,4"), BENCH_ORGS (8), BENCH_SECONDS (webhook load per
round, 20), BENCH_MESSAGES_PER_SENDER (10), BENCH_CATCH_UP_SECONDS (longest wait for a worker stage,
300), BENCH_SAMPLE_SECONDS (0.5), BENCH_TARGET_RATE (1000), BENCH_TARGET_BUSY (0.6),
BENCH_MACHINE_CORES (2; the model is printed for 8-core machines too); bench_inbound_pipeline.py's
BENCH_CONNECTIONS (16), BENCH_THREADS (2), BENCH_PORT (8793), BENCH_REDIS_URL. The whole run takes
about 6 minutes with the defaults on 2 cores.

Needs `wrk` (Debian: `apt-get install -y wrk`).
"""

from __future__ import annotations

import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import psutil
import redis
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, Q
from twilio.request_validator import RequestValidator

# Importing it sets Django up as that benchmark runs the product (database softphone_bench, its
# settings, its Redis namespace): the imports of models below need it first.
from bench import bench_inbound_pipeline as pipeline
from bench.bench_inbound_pipeline import BASE, NAMESPACE, REDIS_URL, postmaster, redis_forget, say, stop
from bench.common import busy, cpu_model, cpu_times, prepare_database, stolen, wait_until_quiet
from messaging.models import Direction, InboundEvent, Message
from softphone import celery_app, launcher
from telephony.models import PhoneNumber, Provider, ProviderAccount
from tenants import services as tenant_services
from tenants.models import Organization
from tenants.scoping import platform_scope, tenant_scope

PROCESSES = [int(n) for n in os.environ.get("BENCH_PROCESSES", "1,2,4").split(",") if n.strip()]
ORGS = int(os.environ.get("BENCH_ORGS", "8"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "20"))
MESSAGES_PER_SENDER = int(os.environ.get("BENCH_MESSAGES_PER_SENDER", "10"))
INTERLEAVED = 50  # senders of an organization whose messages alternate
CATCH_UP_SECONDS = float(os.environ.get("BENCH_CATCH_UP_SECONDS", "300"))
SAMPLE_SECONDS = float(os.environ.get("BENCH_SAMPLE_SECONDS", "0.5"))
TARGET_RATE = float(os.environ.get("BENCH_TARGET_RATE", "1000"))
TARGET_BUSY = float(os.environ.get("BENCH_TARGET_BUSY", "0.6"))
MACHINE_CORES = int(os.environ.get("BENCH_MACHINE_CORES", "2"))
SLUG = "bench-capacity"
URL = BASE + "/webhooks/twilio/messages/"
STEADY = (0.10, 0.90)  # the worker stages' CPU per message: between these shares of their messages done
LOGS = launcher.BASE_DIR / "var" / "bench-capacity"


@dataclass
class Line:
    organization: Organization
    account_sid: str
    token: str
    number: str


# Set-up ---------------------------------------------------------------------------------------------


def forget_organizations() -> int:
    with platform_scope():
        deleted, _ = Organization.objects.filter(slug__startswith=f"{SLUG}-").delete()
    return deleted


def seed(round_index: int) -> list[Line]:
    """ORGS new organizations, each with its own Twilio account (SID, auth token) and number."""
    owner = get_user_model().objects.get_or_create(username=f"{SLUG}-owner",
                                                   defaults={"email": f"{SLUG}@example.com"})[0]
    lines = []
    for k in range(ORGS):
        org = tenant_services.organization_create(name=f"Capacity benchmark {round_index}.{k}",
                                                  slug=f"{SLUG}-{round_index}-{k}", owner=owner)
        sid, token, number = "AC" + uuid.uuid4().hex, f"{SLUG}-token-{uuid.uuid4().hex}", \
            f"+1628555{1000 + round_index * 100 + k:04d}"
        with tenant_scope(org):
            account = ProviderAccount.objects.create(organization=org, provider=Provider.TWILIO,
                                                     friendly_name="Bench", account_sid=sid, auth_token=token)
            PhoneNumber.objects.create(organization=org, provider_account=account, phone_number=number,
                                       provider_sid="PN" + uuid.uuid4().hex, capabilities={"sms": True})
        lines.append(Line(org, sid, token, number))
    return lines


def sender(j: int) -> str:
    """The sender of an organization's j-th message: INTERLEAVED senders at a time, each sending
    MESSAGES_PER_SENDER messages in turn, then the next ones. However many messages a round stores,
    one in MESSAGES_PER_SENDER comes from a new sender (a contact and a conversation created), so the
    rounds' drains do the same work per message."""
    block, within = divmod(j, INTERLEAVED * MESSAGES_PER_SENDER)
    return f"+1415{2000000 + block * INTERLEAVED + within % INTERLEAVED:07d}"


def write_requests(path: Path, lines: list[Line], count: int) -> None:
    """`count` signed inbound webhooks (signature TAB form body, as bench/webhook_requests.lua reads
    them), each its own MessageSid, to the organizations in turn, each signed with its own token."""
    validators = [RequestValidator(line.token) for line in lines]
    with open(path, "w") as out:
        for i in range(count):
            line = lines[i % len(lines)]
            sid = "SM" + uuid.uuid4().hex
            params = {"MessageSid": sid, "SmsSid": sid, "SmsMessageSid": sid, "AccountSid": line.account_sid,
                      "From": sender(i // len(lines)), "To": line.number,
                      "Body": f"Hello, order {i} please, thanks!", "NumMedia": "0", "NumSegments": "1",
                      "SmsStatus": "received", "ApiVersion": "2010-04-01"}
            signature = validators[i % len(lines)].compute_signature(URL, params)
            out.write(f"{signature}\t{urlencode(params)}\n")


# Measures -------------------------------------------------------------------------------------------


def start(process: launcher.Process) -> subprocess.Popen:
    return pipeline.start(process, pipeline.product_env(), logs=LOGS)


def redis_server() -> psutil.Process | None:
    """The Redis server of REDIS_URL when it runs here (shared: others' work counts too)."""
    port = str(urlsplit(REDIS_URL).port or 6379)
    for proc in psutil.process_iter(["name", "cmdline"]):
        if proc.info["name"] == "redis-server" and any(port in part for part in proc.info["cmdline"] or []):
            return proc
    return None


def cpu_total(root: psutil.Process | None) -> float:
    """CPU seconds (user + system) the process and its descendants have used, those that exited and
    were waited for included (their parents' children_* times): a PostgreSQL backend that ends
    between two readings still counts."""
    if root is None:
        return 0.0
    try:
        family = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for proc in family:
        try:
            times = proc.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
        except psutil.Error:
            pass
    return total


def cpu_by_group(groups: dict) -> dict[str, float]:
    return {name: cpu_total(root) for name, root in groups.items()}


def db_counters() -> dict[str, float]:
    """The benchmark database's commits and rows written, the server's WAL."""
    with connection.cursor() as cursor:
        cursor.execute("""select xact_commit, tup_inserted, tup_updated, tup_deleted from pg_stat_database
                           where datname = current_database()""")
        commits, inserted, updated, deleted = cursor.fetchone()
        cursor.execute("select coalesce(sum(xact_commit), 0) from pg_stat_database where datname <> current_database()")
        (elsewhere,) = cursor.fetchone()
        cursor.execute("select wal_records, wal_fpi, pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0') from pg_stat_wal")
        records, fpi, wal = cursor.fetchone()
    return {"commits": commits, "inserted": inserted, "updated": updated, "deleted": deleted,
            "commits elsewhere": elsewhere, "WAL records": records, "WAL FPI": fpi, "WAL bytes": float(wal)}


def settled_db_counters() -> dict[str, float]:
    """After the stage's processes exited (their backends flush their statistics as they end)."""
    time.sleep(1.0)
    return db_counters()


@dataclass
class Stage:
    name: str
    processes: int
    messages: int
    seconds: float  # until the last message was done
    cpu: dict[str, float]  # CPU seconds per message by group
    cpu_basis: str  # which part of the stage the CPU per message comes from
    db: dict[str, float]  # per message
    busy: float
    steal: float
    extra: dict = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.messages / max(1e-9, self.seconds)


def db_per_message(before: dict, after: dict, messages: int, own_queries: int = 0) -> dict[str, float]:
    spent = {name: after[name] - before[name] for name in before}
    spent["commits"] -= own_queries  # the benchmark's own counting, one transaction each
    return {name: value / max(1, messages) for name, value in spent.items()}


def webhook_stage(n: int, lines: list[Line], requests: Path, count: int) -> Stage:
    """The web server alone, N processes: stored events per second and what each costs."""
    web = launcher.Process(f"web {n}", launcher.web_command(host="127.0.0.1", port=pipeline.PORT, workers=n))
    server = start(web)
    try:
        if not launcher.wait_healthy(f"{BASE}/healthz", [server]):
            raise RuntimeError(f"the web server did not become healthy; see {LOGS}")
        pipeline.wrk(f"{BASE}/bench/bare", seconds=1)  # every process and thread up
        wait_until_quiet(timeout=30)
        groups = {"web": psutil.Process(server.pid), "PostgreSQL": postmaster(), "Redis": redis_server()}
        cpu_before, db_before, wrk_before = cpu_by_group(groups), db_counters(), os.times()
        result = pipeline.wrk(URL, seconds=SECONDS, script=str(Path(pipeline.__file__).with_name("webhook_requests.lua")),
                              env={"WEBHOOK_REQUESTS": str(requests), "WEBHOOK_THREADS": str(pipeline.THREADS)})
        cpu_after, wrk_after = cpu_by_group(groups), os.times()
    finally:
        stop([server])
    db_after = settled_db_counters()
    with platform_scope():
        stored = InboundEvent.objects.filter(organization__in=[line.organization for line in lines]).count()
    spent = {name: cpu_after[name] - cpu_before[name] for name in groups}
    spent["wrk (load generator)"] = (wrk_after.children_user + wrk_after.children_system
                                     - wrk_before.children_user - wrk_before.children_system)
    return Stage("webhook", n, stored, result["seconds"], {name: s / max(1, stored) for name, s in spent.items()},
                 "whole load", db_per_message(db_before, db_after, stored), result["busy"], result["steal"],
                 {"wrk": result, "accepted": result["requests"] - result["non_2xx"],
                  "wrapped": result["requests"] > count})


def queue_length(client: redis.Redis, queue: str) -> int:
    return client.llen(f"{NAMESPACE}:{queue}")


def worker_stage(name: str, queue: str, n: int, total: int, left, client: redis.Redis) -> Stage:
    """The queue's worker (the launcher's command), concurrency N, started on an idle queue and then
    told to consume `queue`; timed until left() says nothing is left, and measured until the queue is
    empty and no task is in flight (unacknowledged)."""
    template = next(p for p in launcher.processes(host="127.0.0.1", port=pipeline.PORT, beat_schedule=LOGS / "beat")
                    if p.name == f"worker {queue}")
    command = list(template.command)
    hostname = f"{SLUG}-{queue}"
    for flag, value in (("--queues", f"{SLUG}-idle"), ("--hostname", f"{hostname}@%h"), ("--concurrency", str(n))):
        command[command.index(flag) + 1] = value
    node = f"{hostname}@{socket.gethostname()}"
    worker = start(launcher.Process(f"{name} {n}", command, nice=template.nice))
    queued = queue_length(client, queue)
    polls = 0
    try:
        deadline = time.monotonic() + 90
        while not celery_app.control.ping(destination=[node], timeout=1.0):
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the {queue} worker did not answer; see {LOGS}")
        wait_until_quiet(timeout=30)
        groups = {name: psutil.Process(worker.pid), "PostgreSQL": postmaster(), "Redis": redis_server()}
        # One scope for all the counting: each count is then one statement, one transaction.
        with platform_scope():
            db_before, machine_before = db_counters(), cpu_times()
            samples = [(time.monotonic(), 0, cpu_by_group(groups))]
            replies = celery_app.control.add_consumer(queue, destination=[node], reply=True, timeout=5.0)
            if not replies:
                raise RuntimeError(f"the {queue} worker did not take the queue")
            finished = None
            while time.monotonic() - samples[0][0] < CATCH_UP_SECONDS:
                time.sleep(SAMPLE_SECONDS)
                remaining = left()
                polls += 1
                samples.append((time.monotonic(), total - remaining, cpu_by_group(groups)))
                if remaining == 0:
                    finished = finished or samples[-1][0]
                    # The drains and embeddings asked for twice find nothing left, but still run: their
                    # cost is the stage's too. Until the queue is empty and the worker idle.
                    if queue_length(client, queue) == 0 and not client.hlen(f"{NAMESPACE}:unacked"):
                        break
            samples.append((time.monotonic(), total - left(), cpu_by_group(groups)))
            polls += 1
        machine_after = cpu_times()
    finally:
        stop([worker])
    db_after = settled_db_counters()
    done = samples[-1][1]
    start_at = samples[0][0]
    seconds = (finished or samples[-1][0]) - start_at
    first = next((s for s in samples if s[1] >= STEADY[0] * total), samples[0])
    last = next((s for s in samples if s[1] >= STEADY[1] * total), samples[-1])
    if last[0] - first[0] >= 1.0 and last[1] > first[1]:
        window, basis = (first, last), f"{STEADY[0]:.0%}-{STEADY[1]:.0%} of the messages"
        steady = (last[1] - first[1]) / (last[0] - first[0])
    else:
        window, basis, steady = (samples[0], samples[-1]), "whole stage (too short for a steady part)", None
    cpu = {group: (window[1][2][group] - window[0][2][group]) / max(1, window[1][1] - window[0][1])
           for group in groups}
    return Stage(name, n, done, seconds, cpu, basis, db_per_message(db_before, db_after, done, polls),
                 busy(machine_before, machine_after), stolen(machine_before, machine_after),
                 {"queued": queued, "steady rate": steady, "left": total - done})


def drain_rates(lines: list[Line]) -> list[float]:
    """Each organization's drain rate, from its batches: every event of a batch has the batch's
    processed_at, so the events after its first batch over the time from the first batch to the last."""
    with connection.cursor() as cursor, platform_scope():
        cursor.execute("""select organization_id, processed_at, count(*) from messaging_inboundevent
                           where organization_id = any(%s) and processed_at is not null
                           group by 1, 2 order by 1, 2""", [[line.organization.pk for line in lines]])
        batches: dict = {}
        for organization_id, processed_at, count in cursor.fetchall():
            batches.setdefault(organization_id, []).append((processed_at, count))
    return sorted(sum(count for _, count in done[1:]) / (done[-1][0] - done[0][0]).total_seconds()
                  for done in batches.values() if len(done) > 1 and done[-1][0] > done[0][0])


# The run --------------------------------------------------------------------------------------------


def one_round(round_index: int, n: int, client: redis.Redis, files: Path) -> dict:
    lines = seed(round_index)
    orgs = [line.organization for line in lines]
    requests = files / f"requests-{n}.txt"
    count = SECONDS * pipeline.MOST_PER_SECOND
    signing = time.monotonic()
    write_requests(requests, lines, count)
    say(f"N = {n}: {ORGS} organizations; {count:,} requests signed in {time.monotonic() - signing:.1f} s")

    webhook = webhook_stage(n, lines, requests, count)
    requests.unlink()
    wrk = webhook.extra["wrk"]
    say(f"  webhook: {wrk['rate']:,.0f} req/s, {webhook.messages:,} events stored of {webhook.extra['accepted']:,} "
        f"accepted, {pipeline.refusals(wrk)}"
        + ("; wrk ran out of distinct requests (duplicates are cheaper)" if webhook.extra["wrapped"] else ""))

    def events_left() -> int:  # in a platform scope
        return InboundEvent.objects.filter(organization__in=orgs, processed_at__isnull=True,
                                           failed_at__isnull=True).count()

    def embeddings_left() -> int:  # in a platform scope
        return Message.objects.filter(organization__in=orgs, embedding_model="").exclude(body="").count()

    drain = worker_stage("drain", "interactive", n, webhook.messages, events_left, client)
    with platform_scope():
        counts = InboundEvent.objects.filter(organization__in=orgs).aggregate(
            processed=Count("id", filter=Q(processed_at__isnull=False)), failed=Count("id", filter=Q(
                failed_at__isnull=False)))
        messages = Message.objects.filter(organization__in=orgs, direction=Direction.INBOUND).count()
    per_org = drain_rates(lines)
    drain.extra["one organization"] = per_org[len(per_org) // 2] if per_org else None
    say(f"  drain: {drain.extra['queued']} drain tasks queued by the webhooks; {counts['processed']:,} events "
        f"processed, {counts['failed']} failed, {messages:,} messages in {drain.seconds:.1f} s")

    with platform_scope():
        embedded = messages - embeddings_left()
    embed = worker_stage("embed", "bulk", n, messages, embeddings_left, client)
    say(f"  embed: {embed.extra['queued']} embedding tasks queued by the drains; {embed.messages:,} of "
        f"{messages:,} messages embedded in {embed.seconds:.1f} s" + (f" ({embedded} before)" if embedded else ""))
    # wrk counts the answers it read: the requests still open when its time ended were stored too.
    ok = (webhook.extra["accepted"] <= webhook.messages <= webhook.extra["accepted"] + pipeline.CONNECTIONS
          and webhook.messages == counts["processed"] == messages == embed.messages
          and wrk["non_2xx"] == 0 and not any(wrk["socket_errors"].values()) and not counts["failed"])
    if not ok:
        say("  COUNTS DIFFER: every event stored should be processed, a message, and embedded; the events "
            f"stored should be the answers wrk read (up to {pipeline.CONNECTIONS} more: those still open)")
    wait_until_quiet(timeout=30)
    return {"n": n, "stages": [webhook, drain, embed], "ok": ok}


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def table(stages: list[Stage]) -> None:
    """One stage, one row per N."""
    stage = stages[0]
    groups = [g for g in stage.cpu if g != "wrk (load generator)"]
    say(f"{stage.name}: CPU ms per message ({stage.cpu_basis})")
    head = f"  {'N':>2} {'msg/s':>7} {'steady':>7} " + " ".join(f"{g[:10]:>10}" for g in groups)
    head += f" {'commits':>7} {'ins':>5} {'upd':>5} {'del':>5} {'WAL rec':>7} {'FPI':>5} {'WAL B':>6} {'busy':>5} {'steal':>5} {'elsewhere':>9}"
    say(head)
    for s in stages:
        steady = s.extra.get("steady rate")
        row = (f"  {s.processes:>2} {s.rate:>7,.0f} {'' if steady is None else f'{steady:,.0f}':>7} "
               + " ".join(f"{ms(s.cpu[g]):>10}" for g in groups))
        row += (f" {s.db['commits']:>7.3f} {s.db['inserted']:>5.2f} {s.db['updated']:>5.2f} {s.db['deleted']:>5.2f}"
                f" {s.db['WAL records']:>7.2f} {s.db['WAL FPI']:>5.2f} {s.db['WAL bytes']:>6,.0f}"
                f" {s.busy:>5.0%} {s.steal:>5.0%} {s.db['commits elsewhere'] * s.messages:>9,.0f}")
        say(row)


def machine() -> str:
    return f"{cpu_model()}, {os.cpu_count()} cores (vCPUs)"


def model(rounds: list[dict]) -> None:
    """Per stage the highest CPU per message of the rounds (to be safe), and what TARGET_RATE takes."""
    by_stage = {}
    for stage_index in range(3):
        stages = [r["stages"][stage_index] for r in rounds]
        own = [g for g in stages[0].cpu if g not in ("PostgreSQL", "Redis", "wrk (load generator)")][0]
        worst = max(stages, key=lambda s: s.cpu[own] + s.cpu["PostgreSQL"])
        by_stage[stages[0].name] = (own, worst, stages)
    say("")
    say(f"Capacity model (per stage the round with the most CPU per message; planning for {TARGET_BUSY:.0%} busy)")
    say(f"  {'stage':<8} {'processes':<14} {'its msg/s/core':>14} {'PG ms/msg':>9} {'PG share':>8} "
        f"{'Redis ms':>8} {'commits':>7} {'rows written':>12} {'WAL B/msg':>9} {'measured msg/s (N)':<24}")
    totals = {"own": 0.0, "PostgreSQL": 0.0, "Redis": 0.0, "commits": 0.0, "rows": 0.0, "WAL": 0.0}
    for name, (own, worst, stages) in by_stage.items():
        rows = worst.db["inserted"] + worst.db["updated"] + worst.db["deleted"]
        share = worst.cpu["PostgreSQL"] / max(1e-12, worst.cpu[own] + worst.cpu["PostgreSQL"])
        measured = ", ".join(f"{s.rate:,.0f} ({s.processes})" for s in stages)
        say(f"  {name:<8} {own:<14} {1 / max(1e-12, worst.cpu[own]):>14,.0f} {ms(worst.cpu['PostgreSQL']):>9} "
            f"{share:>8.0%} {ms(worst.cpu['Redis']):>8} {worst.db['commits']:>7.3f} {rows:>12.2f} "
            f"{worst.db['WAL bytes']:>9,.0f} {measured:<24}")
        totals["own"] += worst.cpu[own]
        totals["PostgreSQL"] += worst.cpu["PostgreSQL"]
        totals["Redis"] += worst.cpu["Redis"]
        totals["commits"] += worst.db["commits"]
        totals["rows"] += rows
        totals["WAL"] += worst.db["WAL bytes"]
    everything = totals["own"] + totals["PostgreSQL"] + totals["Redis"]
    say(f"  a message end to end: {ms(everything)} CPU ms ({ms(totals['own'])} web and workers, "
        f"{ms(totals['PostgreSQL'])} PostgreSQL = {totals['PostgreSQL'] / everything:.0%}, {ms(totals['Redis'])} Redis), "
        f"{totals['commits']:.2f} commits, {totals['rows']:.1f} rows written, {totals['WAL'] / 1024:.1f} KiB of WAL; "
        f"{1 / everything:,.0f} messages/s per core, all stages on one core")

    web = TARGET_RATE * by_stage["webhook"][1].cpu[by_stage["webhook"][0]]
    workers = TARGET_RATE * sum(by_stage[s][1].cpu[by_stage[s][0]] for s in ("drain", "embed"))
    pg, red = TARGET_RATE * totals["PostgreSQL"], TARGET_RATE * totals["Redis"]
    say(f"{TARGET_RATE:,.0f} messages/s sustained: CPU cores busy: web {web:.2f}, workers {workers:.2f} (drain "
        f"{TARGET_RATE * by_stage['drain'][1].cpu[by_stage['drain'][0]]:.2f}, embed "
        f"{TARGET_RATE * by_stage['embed'][1].cpu[by_stage['embed'][0]]:.2f}), PostgreSQL {pg:.2f}, Redis {red:.2f}; "
        f"{TARGET_RATE * totals['commits']:,.0f} commits/s, {TARGET_RATE * totals['rows']:,.0f} rows written/s, "
        f"WAL {TARGET_RATE * totals['WAL'] / 1e6:.1f} MB/s")
    for cores in sorted({MACHINE_CORES, 8}):
        usable = cores * TARGET_BUSY
        app = math.ceil((web + workers + red) / usable)
        db = math.ceil(pg / usable)
        note = ("" if db <= 1 else f"; one PostgreSQL primary does not spread over machines: it needs one machine of "
                f">= {math.ceil(pg / TARGET_BUSY)} cores, or the work split (sharded by organization)")
        say(f"  on {cores}-core machines at {TARGET_BUSY:.0%} busy ({usable:.1f} cores each): {app} for web, workers "
            f"and Redis + {db} for PostgreSQL = {app + db} machines{note}")


def main() -> int:
    if shutil.which("wrk") is None:
        say("wrk is not installed: it sends the load. On Debian: `apt-get install -y wrk`, then run this again.")
        return 1
    LOGS.mkdir(parents=True, exist_ok=True)
    say(f"capacity: N in {PROCESSES} web processes x {launcher.WEB_THREADS} threads, then drain and embedding "
        f"workers of concurrency N; {ORGS} organizations, a new sender every {MESSAGES_PER_SENDER} messages, {SECONDS} s of webhooks a round; "
        f"wrk -t{pipeline.THREADS} -c{pipeline.CONNECTIONS}; logs in {LOGS}")
    say(f"machine: {machine()}")
    prepare_database()
    say(f"removed {redis_forget()} keys left in Redis namespace {NAMESPACE}, "
        f"{forget_organizations()} rows of organizations left by an earlier run")
    client = redis.Redis.from_url(REDIS_URL)
    machine_start = cpu_times()
    rounds = []
    with tempfile.TemporaryDirectory() as files:
        try:
            for index, n in enumerate(PROCESSES):
                rounds.append(one_round(index, n, client, Path(files)))
        finally:
            cleaning = time.monotonic()
            forget_organizations()
            redis_forget()
            cleaned = time.monotonic() - cleaning
    machine_end = cpu_times()

    say("")
    say("Per message: CPU ms by process group; the database's commits, rows inserted, updated, deleted, WAL "
        "records, full-page images and bytes. Elsewhere: commits in other databases meanwhile (WAL is the server's).")
    for stage_index in range(3):
        table([r["stages"][stage_index] for r in rounds])
    drains = [(r["n"], r["stages"][1].extra["one organization"]) for r in rounds]
    say("one organization's drain (median of the organizations, from their batches' processed_at): "
        + ", ".join(f"{rate:,.0f}/s (N = {n})" for n, rate in drains if rate))
    model(rounds)
    fastest = max((rate for _, rate in drains if rate), default=None)
    if fastest:
        say(f"  one organization's events are drained one batch at a time (an advisory lock), by one process: "
            f"about {fastest:,.0f} messages/s at best here, whatever the machines; "
            + (f"{TARGET_RATE:,.0f}/s from a single organization would fall behind"
               if fastest < TARGET_RATE else f"{TARGET_RATE:,.0f}/s from a single organization would keep up"))
    say(f"machine: {machine()}; busy {busy(machine_start, machine_end):.0%}, hypervisor steal "
        f"{stolen(machine_start, machine_end):.0%} over the run (per stage in the tables); the web stage's wrk "
        f"used {', '.join(ms(r['stages'][0].cpu['wrk (load generator)']) for r in rounds)} CPU ms per request on the same "
        "cores")
    say(f"(the benchmark's organizations and Redis keys removed in {cleaned:.1f} s)")
    ok = all(r["ok"] for r in rounds)
    say("every accepted request stored, drained and embedded: " + ("yes" if ok else "NO"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
