"""Benchmark: the inbound pipeline end to end (issue 14), with the product running as `make run` runs it.

Starts what `make run` starts (softphone.launcher.processes(): granian 2 workers x 8 threads, one
Celery worker per queue, beat) on the embedded PostgreSQL (a database of its own, softphone_bench)
and Redis (every key under a namespace of its own, deleted afterwards), with the product's settings
plus one trivial view (bench.bench_settings). Then, in one run:

1. a bare Django application (bench/bare_django.py: one view, no middleware) under the same web server
   command, alone on the machine: `wrk` for BENCH_CEILING_SECONDS;
2. the trivial view served by the product's own processes (workers and beat idle), the same way;
3. the sustained load: signed Twilio inbound webhooks (each a new MessageSid, from BENCH_SENDERS
   senders) replayed by `wrk` for BENCH_SECONDS: requests/s, latency, refusals (non-2xx answers
   and socket errors), and the messages the workers stored meanwhile;
4. right after it, a burst of BENCH_BURST distinct messages, each sent once, as fast as wrk can:
   when the first of them was stored, and when all of them are visible as Message rows, counted
   from the burst's first request; messages stored per second after the load, and end to end.
A thread counts the organization's Message rows every BENCH_SAMPLE_SECONDS meanwhile.

Targets (issue 14): end to end >= 700 messages/s, the burst all visible < 15 s from its first
request, the webhook's throughput and p99 where they were (docs/benchmarks.md).

Knobs (environment): BENCH_SECONDS (sustained load, 30), BENCH_BURST (10000), BENCH_SENDERS (500),
BENCH_CONNECTIONS (16), BENCH_THREADS (wrk threads, 2), BENCH_CEILING_SECONDS (10),
BENCH_CATCH_UP_SECONDS (longest wait for the workers after the load, 600), BENCH_SAMPLE_SECONDS (0.5),
BENCH_PORT (8793; the bare application BENCH_PORT + 1), BENCH_REDIS_URL (else REDIS_URL, else the
Redis on 127.0.0.1:6379 database 0); and the launcher's own: INTERACTIVE_WORKER_CONCURRENCY,
BULK_WORKER_CONCURRENCY, BULK_WORKER_NICE (docs/operations.md).

Needs `wrk` (Debian: `apt-get install -y wrk`).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import django
import psutil

from bench.common import busy, cpu_times, prepare_database, stolen, use_bench_database, wait_until_quiet
from softphone import embedded, launcher

SECONDS = int(os.environ.get("BENCH_SECONDS", "30"))
BURST = int(os.environ.get("BENCH_BURST", "10000"))
SENDERS = int(os.environ.get("BENCH_SENDERS", "500"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
THREADS = int(os.environ.get("BENCH_THREADS", "2"))
CEILING_SECONDS = int(os.environ.get("BENCH_CEILING_SECONDS", "10"))
CATCH_UP_SECONDS = float(os.environ.get("BENCH_CATCH_UP_SECONDS", "600"))
SAMPLE_SECONDS = float(os.environ.get("BENCH_SAMPLE_SECONDS", "0.5"))
MOST_PER_SECOND = 3000  # the sustained load's file holds this many requests per second of load
PORT = int(os.environ.get("BENCH_PORT", "8793"))
BARE_PORT = PORT + 1
BASE = f"http://127.0.0.1:{PORT}"
REDIS_URL = os.environ.get("BENCH_REDIS_URL") or os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
NAMESPACE = embedded.checkout_namespace(launcher.BASE_DIR, suite="bench-pipeline")
SLUG = "bench-pipeline"
SID = "AC" + "d" * 32
TOKEN = "bench-pipeline-token"
OUR_NUMBER = "+14155550143"
# MessageSids in Twilio's form (SM + 32 hex digits); the first digit tells the two loads apart.
SUSTAINED_SID, BURST_SID = "SMa", "SMb"
TARGET_RATE, TARGET_BURST_SECONDS = 700, 15
LOGS = launcher.BASE_DIR / "var" / "bench-pipeline"

# The benchmark's own process reads the same database, broker and namespace as the product's.
use_bench_database()
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.bench_settings"
os.environ["REDIS_URL"] = REDIS_URL
os.environ["REDIS_NAMESPACE"] = NAMESPACE
django.setup()

from django.db import connection  # noqa: E402
from django.db.models import Count, Min, Q  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

from messaging.models import Direction, InboundEvent, Message  # noqa: E402
from softphone import celery_app  # noqa: E402
from telephony.models import PhoneNumber, Provider, ProviderAccount  # noqa: E402
from tenants import services as tenant_services  # noqa: E402
from tenants.models import Organization  # noqa: E402
from tenants.scoping import platform_scope, tenant_scope  # noqa: E402


def say(text: str) -> None:
    print(text, flush=True)


# Set-up ---------------------------------------------------------------------------------------------


def forget_organization() -> None:
    with platform_scope():
        Organization.objects.filter(slug=SLUG).delete()


def seed() -> Organization:
    from django.contrib.auth import get_user_model

    owner = get_user_model().objects.get_or_create(username="bench-pipeline-owner",
                                                   defaults={"email": "bench-pipeline@example.com"})[0]
    forget_organization()
    org = tenant_services.organization_create(name="Pipeline benchmark", slug=SLUG, owner=owner)
    with tenant_scope(org):
        account = ProviderAccount.objects.create(organization=org, provider=Provider.TWILIO, friendly_name="Bench",
                                                 account_sid=SID, auth_token=TOKEN)
        PhoneNumber.objects.create(organization=org, provider_account=account, phone_number=OUR_NUMBER,
                                   provider_sid="PN" + "d" * 32, capabilities={"sms": True, "mms": True})
    return org


def write_requests(path: Path, count: int, *, sid_prefix: str, first: int = 0) -> None:
    """`count` signed inbound webhooks, one per line (signature TAB form body), each its own
    MessageSid, from SENDERS senders in turn."""
    validator = RequestValidator(TOKEN)
    url = BASE + "/webhooks/twilio/messages/"
    with open(path, "w") as out:
        for i in range(first, first + count):
            sid = sid_prefix + uuid.uuid4().hex[: 34 - len(sid_prefix)]
            params = {"MessageSid": sid, "SmsSid": sid, "SmsMessageSid": sid, "AccountSid": SID,
                      "From": f"+1415555{5000 + i % SENDERS:04d}", "To": OUR_NUMBER,
                      "Body": f"Hello, order {i} please, thanks!", "NumMedia": "0", "NumSegments": "1",
                      "SmsStatus": "received", "ApiVersion": "2010-04-01"}
            out.write(f"{validator.compute_signature(url, params)}\t{urlencode(params)}\n")


def redis_forget() -> int:
    """Delete every key of the benchmark's namespace (queues left over included)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{NAMESPACE}:*", count=1000))
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start:start + 1000])
    return len(keys)


# Processes ------------------------------------------------------------------------------------------


def product_env() -> dict:
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.bench_settings", "DEBUG": "false",
            "PUBLIC_BASE_URL": BASE, "REDIS_URL": REDIS_URL, "REDIS_NAMESPACE": NAMESPACE,
            "DATABASE_NAME": os.environ["DATABASE_NAME"]}


def start(process: launcher.Process, env: dict, *, logs: Path = LOGS) -> subprocess.Popen:
    log = open(logs / (process.name.replace(" ", "-") + ".log"), "w")  # noqa: SIM115 (closed with the process)
    return process.start(env=env, stdout=log, stderr=subprocess.STDOUT)


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def wait_for_workers(procs: list[subprocess.Popen], timeout: float = 90) -> None:
    """Until every queue's worker answers a ping."""
    wanted = {worker.queue for worker in launcher.WORKERS}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(proc.poll() is not None for proc in procs):
            raise RuntimeError(f"a process of the product exited; see {LOGS}")
        answered = {name.split("@")[0] for reply in celery_app.control.ping(timeout=1.0) for name in reply}
        if wanted <= answered:
            return
    raise RuntimeError(f"the workers did not answer within {timeout:.0f} s; see {LOGS}")


def postmaster() -> psutil.Process | None:
    try:
        return psutil.Process(int((embedded.PGDATA / "postmaster.pid").read_text().split()[0]))
    except (OSError, ValueError, psutil.Error):
        return None


def cpu_by_group(groups: dict[str, psutil.Process | None]) -> dict[str, dict[int, float]]:
    """CPU seconds (user + system) of each group's process and its descendants, by pid."""
    seen = {}
    for name, root in groups.items():
        seen[name] = {}
        if root is None:
            continue
        try:
            family = [root, *root.children(recursive=True)]
        except psutil.Error:
            continue
        for proc in family:
            try:
                times = proc.cpu_times()
                seen[name][proc.pid] = times.user + times.system
            except psutil.Error:
                pass
    return seen


def cpu_spent(before: dict, after: dict) -> dict[str, float]:
    return {name: sum(seconds - before.get(name, {}).get(pid, 0.0) for pid, seconds in pids.items())
            for name, pids in after.items()}


# Load -----------------------------------------------------------------------------------------------

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * UNITS[unit]


def wrk(url: str, *, seconds: float, script: str | None = None, env: dict | None = None,
        done_dir: Path | None = None) -> dict:
    """Run wrk and read its figures. With `done_dir`, wrk is interrupted (SIGINT, after which it
    prints its figures) as soon as each of its threads has written its file there (a burst sent
    once, see webhook_requests.lua)."""
    command = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds:.0f}s", "--latency"]
    if script:
        command += ["-s", script]
    before = cpu_times()
    started = time.monotonic()
    proc = subprocess.Popen([*command, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})
    if done_dir is not None:
        # Every answer in, or, if a connection broke and an answer never comes, 30 s after the last
        # request was sent (the stored events tell then what arrived).
        issued_at = None
        while proc.poll() is None:
            names = [path.name for path in done_dir.iterdir()]
            if sum(name.startswith("done-") for name in names) == THREADS:
                break
            if issued_at is None and sum(name.startswith("issued-") for name in names) == THREADS:
                issued_at = time.monotonic()
            if issued_at is not None and time.monotonic() - issued_at > 30:
                break
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
    out, err = proc.communicate()
    ended = time.monotonic()
    if proc.returncode != 0 or "Requests/sec" not in out:
        raise RuntimeError(f"wrk failed: {out}{err}")
    requests, took = re.search(r"(\d+) requests in ([\d.]+\w+)", out).groups()
    latency = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.MULTILINE))
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    after = cpu_times()
    errors = dict(zip(("connect", "read", "write", "timeout"), map(int, socket.groups()), strict=True)) if socket else {}
    return {"rate": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "requests": int(requests),
            "seconds": _ms(took) / 1000, "p50": _ms(latency["50"]), "p99": _ms(latency["99"]),
            "non_2xx": int(non_2xx.group(1)) if non_2xx else 0, "socket_errors": errors, "started": started,
            "ended": ended, "busy": busy(before, after), "steal": stolen(before, after), "raw": out}


def refusals(result: dict) -> str:
    errors = {kind: n for kind, n in result["socket_errors"].items() if n}
    return f"non-2xx {result['non_2xx']}, socket errors {errors or 0}"


class Counter(threading.Thread):
    """Counts the organization's inbound Message rows, and those of the burst, every SAMPLE_SECONDS."""

    def __init__(self, org: Organization):
        super().__init__(daemon=True)
        self.org = org
        self.samples: list[tuple[float, int, int]] = []  # (monotonic, all, burst)
        self.query_seconds = 0.0
        self._halt = threading.Event()

    def count(self) -> tuple[int, int]:
        started = time.monotonic()
        with tenant_scope(self.org):
            counts = Message.objects.filter(direction=Direction.INBOUND).aggregate(
                all=Count("id"), burst=Count("id", filter=Q(provider_sid__startswith=BURST_SID)))
        self.query_seconds += time.monotonic() - started
        return counts["all"], counts["burst"]

    def run(self) -> None:
        try:
            while not self._halt.is_set():
                total, burst = self.count()
                self.samples.append((time.monotonic(), total, burst))
                self._halt.wait(SAMPLE_SECONDS)
        finally:
            connection.close()

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def latest(self) -> tuple[float, int, int]:
        return self.samples[-1] if self.samples else (time.monotonic(), 0, 0)

    def at(self, moment: float) -> int:
        """Messages visible at `moment` (the last sample taken by then)."""
        earlier = [total for at, total, _ in self.samples if at <= moment]
        return earlier[-1] if earlier else 0

    def first(self, predicate) -> float | None:
        return next((at for at, total, burst in self.samples if predicate(total, burst)), None)


def events_stored(org: Organization) -> tuple[int, int]:
    """The organization's inbound events: all of them, and the burst's."""
    with tenant_scope(org):
        counts = InboundEvent.objects.aggregate(all=Count("id"), burst=Count("id", filter=Q(
            provider_sid__startswith=BURST_SID)))
    return counts["all"], counts["burst"]


# The run --------------------------------------------------------------------------------------------


def main() -> int:
    if shutil.which("wrk") is None:
        say("wrk is not installed: it sends the load. On Debian: `apt-get install -y wrk`, then run this again.")
        return 1
    LOGS.mkdir(parents=True, exist_ok=True)
    layout = ", ".join(f"{w.queue} x {w.concurrency}" + (f" (nice {w.nice})" if w.nice else "")
                       for w in launcher.WORKERS)
    say(f"inbound pipeline: {SECONDS} s of load from {SENDERS} senders, then a burst of {BURST:,}; "
        f"wrk -t{THREADS} -c{CONNECTIONS}; workers {layout}; logs in {LOGS}")
    prepare_database()
    say(f"removed {redis_forget()} keys left in Redis namespace {NAMESPACE}")
    org = seed()
    script = str(Path(__file__).with_name("webhook_requests.lua"))
    files = tempfile.TemporaryDirectory()
    sustained_file, burst_file = Path(files.name) / "sustained.txt", Path(files.name) / "burst.txt"
    signing = time.monotonic()
    write_requests(sustained_file, SECONDS * MOST_PER_SECOND, sid_prefix=SUSTAINED_SID)
    write_requests(burst_file, BURST, sid_prefix=BURST_SID, first=SECONDS * MOST_PER_SECOND)
    say(f"signed {SECONDS * MOST_PER_SECOND + BURST:,} requests in {time.monotonic() - signing:.1f} s")

    host_processes = launcher.processes(host="127.0.0.1", port=PORT, beat_schedule=LOGS / "celerybeat-schedule")
    web, *_ = host_processes
    env = product_env()

    # 1. The bare Django application, same web server command, alone.
    bare_web = launcher.Process("bare-django", launcher.web_command(host="127.0.0.1", port=BARE_PORT,
                                                                    app="bench.bare_django:application"))
    bare_server = start(bare_web, env)
    try:
        if not launcher.wait_healthy(f"http://127.0.0.1:{BARE_PORT}/bench/bare", [bare_server]):
            raise RuntimeError(f"the bare application did not start; see {LOGS}")
        wrk(f"http://127.0.0.1:{BARE_PORT}/bench/bare", seconds=2)  # warm-up
        wait_until_quiet(timeout=20)
        bare = wrk(f"http://127.0.0.1:{BARE_PORT}/bench/bare", seconds=CEILING_SECONDS)
    finally:
        stop([bare_server])
    say(f"bare Django application: {bare['rate']:,.0f} req/s (p99 {bare['p99']:.1f} ms, busy {bare['busy']:.0%}, "
        f"steal {bare['steal']:.0%})")

    procs = [start(process, env) for process in host_processes]
    counter = Counter(org)
    try:
        if not launcher.wait_healthy(f"{BASE}/healthz", procs):
            raise RuntimeError(f"the product did not become healthy; see {LOGS}")
        wait_for_workers(procs)
        groups = {process.name: psutil.Process(proc.pid)
                  for process, proc in zip(host_processes, procs, strict=True)}
        groups["PostgreSQL"] = postmaster()

        # 2. The trivial view, served by the product's processes.
        wrk(f"{BASE}/bench/bare", seconds=2)  # warm-up
        wait_until_quiet(timeout=20)
        trivial = wrk(f"{BASE}/bench/bare", seconds=CEILING_SECONDS)
        say(f"trivial view, product's processes: {trivial['rate']:,.0f} req/s (p99 {trivial['p99']:.1f} ms, "
            f"busy {trivial['busy']:.0%}, steal {trivial['steal']:.0%})")

        # 3. The sustained load, then 4. the burst right after it.
        wait_until_quiet(timeout=20)
        counter.start()
        cpu_start, machine_start = cpu_by_group(groups), cpu_times()
        sustained = wrk(f"{BASE}/webhooks/twilio/messages/", seconds=SECONDS, script=script,
                        env={"WEBHOOK_REQUESTS": str(sustained_file), "WEBHOOK_THREADS": str(THREADS)})
        cpu_mid, machine_mid = cpu_by_group(groups), cpu_times()
        burst_started_wall = time.time()
        done_dir = Path(files.name) / "done"
        done_dir.mkdir()
        burst = wrk(f"{BASE}/webhooks/twilio/messages/", seconds=3600, script=script, done_dir=done_dir,
                    env={"WEBHOOK_REQUESTS": str(burst_file), "WEBHOOK_THREADS": str(THREADS), "WEBHOOK_ONCE": "1",
                         "WEBHOOK_DONE_DIR": str(done_dir)})
        burst_sent = time.monotonic()
        stored, stored_burst = events_stored(org)
        say(f"sustained load: {sustained['rate']:,.0f} req/s over {sustained['seconds']:.1f} s, p50 "
            f"{sustained['p50']:.1f} ms, p99 {sustained['p99']:.1f} ms, {refusals(sustained)}; "
            f"{counter.at(sustained['ended']):,} messages visible at its end")
        say(f"burst: {BURST:,} sent in {burst_sent - burst['started']:.1f} s ({refusals(burst)}), "
            f"{stored_burst:,} stored; {stored:,} events stored in all; waiting for the workers "
            f"(at most {CATCH_UP_SECONDS:.0f} s)")

        # Until every stored event is a message (or the patience runs out).
        deadline = burst_sent + CATCH_UP_SECONDS
        reported = time.monotonic()
        while time.monotonic() < deadline:
            at, total, in_burst = counter.latest()
            if total >= stored:
                break
            if time.monotonic() - reported >= 15:
                say(f"  +{at - burst['started']:.0f} s after the burst's first request: {total:,} of {stored:,} "
                    f"messages, {in_burst:,} of the burst")
                reported = time.monotonic()
            time.sleep(SAMPLE_SECONDS)
        time.sleep(SAMPLE_SECONDS * 2)
        cpu_end, machine_end = cpu_by_group(groups), cpu_times()
    finally:
        stop(procs)
        if counter.is_alive():
            counter.stop()
        files.cleanup()

    # Figures ----------------------------------------------------------------------------------------
    samples = counter.samples
    end_at, total, in_burst = samples[-1]
    burst_start = burst["started"]
    first_seen = counter.first(lambda total, burst: burst > 0)
    all_seen = counter.first(lambda total, burst: burst >= BURST) if stored_burst == BURST else None
    everything_seen = counter.first(lambda total, burst: total >= stored)
    with tenant_scope(org):
        first_created = Message.objects.filter(provider_sid__startswith=BURST_SID).aggregate(
            first=Min("created_at"))["first"]
    during = (counter.at(sustained["ended"]) - counter.at(sustained["started"])) / sustained["seconds"]
    caught_up = everything_seen or end_at
    after = (counter.at(caught_up) - counter.at(sustained["ended"])) / max(1e-9, caught_up - sustained["ended"])
    sustained_2xx = sustained["requests"] - sustained["non_2xx"]
    end_to_end = counter.at(caught_up) / max(1e-9, caught_up - sustained["started"])
    burst_end_to_end = BURST / (all_seen - burst_start) if all_seen else None
    spent_load, spent_after = cpu_spent(cpu_start, cpu_mid), cpu_spent(cpu_mid, cpu_end)

    say("")
    say(f"bare Django application:           {bare['rate']:,.0f} req/s")
    say(f"trivial view, product's processes: {trivial['rate']:,.0f} req/s")
    say(f"inbound webhook, sustained load:   {sustained['rate']:,.0f} req/s over {sustained['seconds']:.0f} s, "
        f"p50 {sustained['p50']:.1f} ms, p99 {sustained['p99']:.1f} ms, {refusals(sustained)}; "
        f"ratio to the bare application {sustained['rate'] / bare['rate']:.2f}, "
        f"to the trivial view {sustained['rate'] / trivial['rate']:.2f}")
    if sustained["requests"] > SECONDS * MOST_PER_SECOND:
        say(f"  (wrk ran out of distinct requests: {sustained['requests'] - SECONDS * MOST_PER_SECOND:,} were "
            "sent twice, cheaper duplicates; raise MOST_PER_SECOND)")
    say(f"messages stored during the load:   {during:,.0f}/s ({counter.at(sustained['ended']):,} of "
        f"{sustained_2xx:,} accepted; backlog at its end {sustained_2xx - counter.at(sustained['ended']):,})")
    say(f"messages stored after the load:    {after:,.0f}/s (from the end of the load until "
        + ("every message was visible)" if everything_seen else f"the wait ended, {total:,} of {stored:,})"))
    say(f"burst of {BURST:,}: sent in {burst_sent - burst_start:.1f} s; first stored "
        + (f"+{first_created.timestamp() - burst_started_wall:.1f} s (seen +{first_seen - burst_start:.1f} s)"
           if first_created and first_seen else "never")
        + (f", all visible +{all_seen - burst_start:.1f} s after its first request" if all_seen else
           f", {in_burst:,} visible after {end_at - burst_start:.0f} s"))
    say(f"end to end: {end_to_end:,.0f} messages/s over everything (from the load's first request until "
        f"every message was visible)"
        + (f"; the burst alone {burst_end_to_end:,.0f}/s" if burst_end_to_end else ""))
    say("CPU seconds per second (during the load | from its end until caught up): "
        + ", ".join(f"{name} {spent_load[name] / sustained['seconds']:.2f} | "
                    f"{spent_after[name] / max(1e-9, end_at - sustained['ended']):.2f}" for name in spent_load))
    say(f"machine busy {busy(machine_start, machine_mid):.0%} | {busy(machine_mid, machine_end):.0%}, "
        f"steal {stolen(machine_start, machine_mid):.0%} | {stolen(machine_mid, machine_end):.0%}; "
        f"the counting thread's queries took {counter.query_seconds:.1f} s in {len(samples)} samples")

    cleaning = time.monotonic()
    forget_organization()
    redis_forget()
    say(f"(the benchmark's organization and Redis keys removed in {time.monotonic() - cleaning:.1f} s)")
    ok = (all_seen is not None and all_seen - burst_start < TARGET_BURST_SECONDS and end_to_end >= TARGET_RATE
          and sustained["non_2xx"] == 0 and not any(sustained["socket_errors"].values()))
    say(f"targets: end to end >= {TARGET_RATE}/s, the burst visible in < {TARGET_BURST_SECONDS} s, none refused: "
        + ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
