"""Benchmark: the inbound message webhook under the production server configuration.

Serves the product with the production web server (granian) exactly as docs/operations.md runs a web process (2 workers x 8
threads here, DEBUG off, WhiteNoise, every middleware), then, in the same run:
1. `wrk -t2 -c16 -d10s` against a trivial view served by the same processes: the ceiling;
2. the same against POST /webhooks/twilio/messages/ with pre-signed requests, each a new MessageSid
   (signature verified with the account's token, event stored, a drain task asked of Redis when
   none is pending);
3. an open-loop client at half of the webhook's maximum rate for 10 s, measuring latency.
A measure during which the hypervisor took more than STEAL_LIMIT of the CPU (a neighbour of this
shared virtual machine) is printed, set aside and measured again (at most ROUNDS times for the
rounds, three times for the latency run).
Targets (issue: messaging): webhook throughput >= 0.25 of the trivial view; p99 < 100 ms at half load.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlencode

import django

from bench.common import (
    DiskFlushProbe,
    cpu_times,
    percentile,
    prepare_database,
    start_web_server,
    stolen,
    use_bench_database,
    wait_until_quiet,
)

use_bench_database()
django.setup()

from twilio.request_validator import RequestValidator  # noqa: E402

from telephony.models import PhoneNumber, Provider, ProviderAccount  # noqa: E402
from tenants import services as tenant_services  # noqa: E402
from tenants.models import Organization  # noqa: E402
from tenants.scoping import platform_scope, tenant_scope  # noqa: E402

PORT = int(os.environ.get("BENCH_PORT", "8791"))
BASE = f"http://127.0.0.1:{PORT}"
SID = "AC" + "e" * 32
TOKEN = "bench-webhook-token"
OUR_NUMBER = "+14155550142"
REDIS_URL = "redis://127.0.0.1:6379/14"  # a database of its own: the enqueued tasks are thrown away
DURATION = int(os.environ.get("BENCH_SECONDS", "10"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
STEAL_LIMIT = 0.05  # the share of CPU time the hypervisor may take from a measure before it is repeated


def seed():
    from django.contrib.auth import get_user_model

    owner = get_user_model().objects.get_or_create(username="bench-owner", defaults={"email": "bench@example.com"})[0]
    with platform_scope():
        Organization.objects.filter(slug="bench-webhook").delete()
    org = tenant_services.organization_create(name="Webhook benchmark", slug="bench-webhook", owner=owner)
    with tenant_scope(org):
        account = ProviderAccount.objects.create(organization=org, provider=Provider.TWILIO, friendly_name="Bench",
                                                 account_sid=SID, auth_token=TOKEN)
        PhoneNumber.objects.create(organization=org, provider_account=account, phone_number=OUR_NUMBER,
                                   provider_sid="PN" + "e" * 32, capabilities={"sms": True, "mms": True})
    return org


def signed_requests(count: int) -> list[tuple[str, str]]:
    validator = RequestValidator(TOKEN)
    url = BASE + "/webhooks/twilio/messages/"
    out = []
    for i in range(count):
        sid = "SM" + uuid.uuid4().hex
        params = {"MessageSid": sid, "SmsSid": sid, "SmsMessageSid": sid, "AccountSid": SID,
                  "From": f"+1415555{i % 10000:04d}", "To": OUR_NUMBER, "Body": f"Hello, order {i} please, thanks!",
                  "NumMedia": "0", "NumSegments": "1", "SmsStatus": "received", "ApiVersion": "2010-04-01"}
        out.append((validator.compute_signature(url, params), urlencode(params)))
    return out


def wrk(path: str, *, script: str | None = None, env: dict | None = None) -> dict:
    command = ["wrk", "-t2", "-c16", f"-d{DURATION}s", "--latency"]
    if script:
        command += ["-s", script]
    before = cpu_times()
    out = subprocess.run([*command, BASE + path], capture_output=True, text=True, env=env, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rate": rate, "non_2xx": int(non_2xx.group(1)) if non_2xx else 0, "raw": out,
            "steal": stolen(before, cpu_times())}


def open_loop(requests: list[tuple[str, str]], rate: float, seconds: int) -> dict:
    """Send at a fixed rate whatever the answers do (no coordinated omission): latency is measured
    from when each request was due. One asyncio thread: a pool of client threads would add the GIL's
    5 ms switch interval to the figures, which is the client's delay, not the server's."""
    import asyncio

    total = min(int(rate * seconds), len(requests))
    interval = 1.0 / rate
    latencies: list[float] = []
    failures: list[float] = []
    reasons: dict[str, int] = {}  # why requests failed: a status line, or the exception's type
    spans: list[tuple[float, float]] = []  # (due, answered) on the monotonic clock, for each success

    async def run():
        idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.2

        async def one(index: int):
            due = start + index * interval
            signature, body = requests[index]
            payload = (f"POST /webhooks/twilio/messages/ HTTP/1.1\r\nHost: 127.0.0.1:{PORT}\r\n"
                       f"Content-Type: application/x-www-form-urlencoded\r\nX-Twilio-Signature: {signature}\r\n"
                       f"Content-Length: {len(body)}\r\n\r\n{body}").encode()
            try:
                reader, writer = idle.pop() if idle else await asyncio.open_connection("127.0.0.1", PORT)
                writer.write(payload)
                status_line = await asyncio.wait_for(reader.readline(), 10)
                if not status_line:  # an idle connection the server closed (keep-alive timeout): a new one
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", PORT)
                    writer.write(payload)
                    status_line = await asyncio.wait_for(reader.readline(), 10)
                length, keep = 0, True
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.partition(b":")
                    if name.lower() == b"content-length":
                        length = int(value)
                    elif name.lower() == b"connection" and value.strip().lower() == b"close":
                        keep = False
                await reader.readexactly(length)
                ok = status_line.split()[1] == b"200"
                if not ok:
                    reason = status_line.decode(errors="replace").strip()
                    reasons[reason] = reasons.get(reason, 0) + 1
                if keep:
                    idle.append((reader, writer))
                else:
                    writer.close()
            except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
                ok = False
                reasons[type(exc).__name__] = reasons.get(type(exc).__name__, 0) + 1
            (latencies if ok else failures).append(loop.time() - due)
            if ok:
                spans.append((due, loop.time()))

        tasks = []
        for index in range(total):
            delay = start + index * interval - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(index)))
        await asyncio.gather(*tasks)
        for _, writer in idle:
            writer.close()

    asyncio.run(run())
    ms = [seconds * 1000 for seconds in latencies]
    return {"sent": len(ms) + len(failures), "failed": len(failures), "p50": percentile(ms, 0.50),
            "p95": percentile(ms, 0.95), "p99": percentile(ms, 0.99), "max": max(ms), "mean": statistics.mean(ms),
            "spans": spans, "reasons": reasons}


def clear_of(spans: list[tuple[float, float]], stalls: list[tuple[float, float]]) -> list[float]:
    """Latencies (ms) of the requests that were not in flight while the disk stalled."""
    return [(answered - due) * 1000 for due, answered in spans
            if not any(start < answered and start + seconds > due for start, seconds in stalls)]


def disk_of_database() -> Path:
    """var/: the disk of the embedded database (var/pgdata) and of its write-ahead log."""
    from django.conf import settings

    return Path(settings.BASE_DIR) / "var"


def main() -> int:
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian: apt-get install wrk).")
        return 1
    prepare_database()
    org = seed()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.bench_settings", "DEBUG": "false",
           "PUBLIC_BASE_URL": BASE, "REDIS_URL": REDIS_URL, "DATABASE_NAME": os.environ["DATABASE_NAME"]}
    script = str(Path(__file__).with_name("webhook_requests.lua"))
    server = start_web_server(port=PORT, env=env, workers=int(os.environ.get("BENCH_WORKERS", "2")),
                            threads=int(os.environ.get("BENCH_THREADS", "8")))
    rounds, disturbed = [], 0
    try:
        wrk("/bench/bare")  # warm-up
        # The two measures alternate, so a slow spell of this shared machine hits both alike, and each
        # starts on a quiet machine: the vacuum after a round of inserts is not charged to the next.
        # A round in which the hypervisor took more than STEAL_LIMIT of the CPU measured the
        # neighbours, not us: it is printed, set aside and measured again (at most ROUNDS times).
        while len(rounds) < ROUNDS:
            # Each round replays requests of its own: a MessageSid seen before is a cheaper duplicate.
            with tempfile.NamedTemporaryFile("w", suffix=".txt") as handle:
                handle.write("".join(f"{s}\t{b}\n" for s, b in signed_requests(40000)))
                handle.flush()
                wait_until_quiet()
                bare = wrk("/bench/bare")
                wait_until_quiet()
                webhook = wrk("/webhooks/twilio/messages/", script=script,
                              env={**os.environ, "WEBHOOK_REQUESTS": handle.name})
            line = (f"trivial view {bare['rate']:.0f} req/s (steal {bare['steal']:.0%}), webhook {webhook['rate']:.0f} "
                    f"req/s (steal {webhook['steal']:.0%}, non-2xx {webhook['non_2xx']}), "
                    f"ratio {webhook['rate'] / bare['rate']:.2f}")
            if max(bare["steal"], webhook["steal"]) > STEAL_LIMIT and disturbed < ROUNDS:
                disturbed += 1
                print(f"set aside: {line}: the hypervisor took over {STEAL_LIMIT:.0%}; measured again", flush=True)
                continue
            rounds.append((bare, webhook))
            print(f"round {len(rounds)}: {line}", flush=True)
        bare_rate = statistics.median(b["rate"] for b, _ in rounds)
        webhook_rate = statistics.median(w["rate"] for _, w in rounds)
        half = webhook_rate / 2
        # The same for the latency run: up to three tries, the first undisturbed one counts.
        for attempt in range(1, 4):
            steady = signed_requests(int(half * DURATION) + 1)
            wait_until_quiet()
            before = cpu_times()
            with DiskFlushProbe(disk_of_database()) as disk:
                latency = open_loop(steady, half, DURATION)
            latency["steal"] = stolen(before, cpu_times())
            if latency["steal"] <= STEAL_LIMIT or attempt == 3:
                break
            print(f"set aside: a latency run with p99 {latency['p99']:.1f} ms: the hypervisor took "
                  f"{latency['steal']:.0%}; measured again", flush=True)
        clear = clear_of(latency["spans"], disk.stalls(0.02))
    finally:
        server.terminate()
        server.wait(timeout=20)
    with tenant_scope(org):
        from messaging.models import InboundEvent

        stored = InboundEvent.objects.count()
    non_2xx = sum(w["non_2xx"] for _, w in rounds)
    ratio = webhook_rate / bare_rate
    per_round = statistics.median(w["rate"] / b["rate"] for b, w in rounds)
    print(f"trivial view:    median {bare_rate:.0f} req/s over {len(rounds)} rounds (wrk -t2 -c16 -d{DURATION}s)")
    print(f"inbound webhook: median {webhook_rate:.0f} req/s, non-2xx {non_2xx}, ratio of medians {ratio:.2f} "
          f"(median of the rounds' ratios {per_round:.2f})")
    if latency["reasons"]:
        print("failed requests, by reason: " + ", ".join(f"{why} x {n}" for why, n in latency["reasons"].items()))
    print(f"at half load ({half:.0f} req/s, open loop, {latency['sent']} requests, {latency['failed']} failed): "
          f"p50 {latency['p50']:.1f} ms, p95 {latency['p95']:.1f} ms, p99 {latency['p99']:.1f} ms, "
          f"max {latency['max']:.1f} ms (steal {latency['steal']:.0%})")
    print(f"the database's disk meanwhile (write + fdatasync every 5 ms): {disk.summary()}")
    if clear:
        print(f"requests not in flight during a disk stall over 20 ms ({len(clear)} of {len(latency['spans'])}): "
              f"p50 {percentile(clear, 0.5):.1f} ms, p95 {percentile(clear, 0.95):.1f} ms, "
              f"p99 {percentile(clear, 0.99):.1f} ms")
    print(f"inbound events stored: {stored} (each one waiting for the worker, which is not running)")
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    with platform_scope():
        org.delete()
    ok = ratio >= 0.25 and latency["p99"] < 100 and non_2xx == 0 and latency["failed"] == 0
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
