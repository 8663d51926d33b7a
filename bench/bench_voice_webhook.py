"""Benchmark: the inbound voice webhook when 50 calls arrive at once.

Twilio waits at most 15 s for our TwiML and the caller hears silence meanwhile: the issue (Voice)
asks for a p99 under 100 ms with 50 calls at the same moment, on this machine. Serves the product
with the production web server (granian) as docs/operations.md runs a web process (2 workers x 8 threads, DEBUG off, every
middleware) and, in the same run:

1. bursts of 50 requests sent at the same instant to a trivial view of the same processes (the
   reference: what the server and the machine cost, whatever the view does);
2. the same bursts to POST /webhooks/twilio/voice/inbound/, each request a new call (new CallSid,
   a new caller: a contact is created), signed with the account's token, to a number whose agent's
   softphone is online: the tenant is found, the signature verified, the contact and the Call stored,
   presence read from Redis and the <Dial><Client> answered. No worker runs (its work would be on
   other machines in production); before each burst the request for one is marked spent, as a worker
   that took the last burst's calls would, so each burst asks the broker for a worker again.

Bursts alternate (reference, webhook, reference, ...), BURSTS of each, one per BURST_GAP seconds; the
latency of each request is from the burst's start to its answer. A burst during which the
hypervisor took more than STEAL_LIMIT of the CPU is measured again.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from urllib.parse import urlencode

from bench.common import (
    busy,
    cpu_spent,
    cpu_times,
    percentile,
    prepare_database,
    process_cpu,
    start_web_server,
    stolen,
    use_bench_database,
)

use_bench_database()
REDIS_URL = "redis://127.0.0.1:6379/14"  # the server's and ours: presence lives there
os.environ["REDIS_URL"] = REDIS_URL
os.environ.setdefault("REDIS_NAMESPACE", "bench-voice")

import django  # noqa: E402

django.setup()

from twilio.request_validator import RequestValidator  # noqa: E402

from telephony.models import PhoneNumber, Provider, ProviderAccount  # noqa: E402
from telephony.services.calls import call_drain_spent  # noqa: E402
from tenants import presence  # noqa: E402
from tenants import services as tenant_services  # noqa: E402
from tenants.models import Agent, AgentKind, Organization  # noqa: E402
from tenants.scoping import platform_scope, tenant_scope  # noqa: E402

PORT = int(os.environ.get("BENCH_PORT", "8792"))
BASE = f"http://127.0.0.1:{PORT}"
SID = "AC" + "f" * 32
TOKEN = "bench-voice-token"
OUR_NUMBER = "+14155550142"
CONCURRENT = int(os.environ.get("BENCH_CONCURRENT", "50"))
BURSTS = int(os.environ.get("BENCH_BURSTS", "30"))
BURST_GAP = 1.0
STEAL_LIMIT = 0.05
INBOUND = "/webhooks/twilio/voice/inbound/"


def seed():
    from django.contrib.auth import get_user_model

    owner = get_user_model().objects.get_or_create(username="bench-voice-owner",
                                                   defaults={"email": "bench-voice@example.com"})[0]
    with platform_scope():
        Organization.objects.filter(slug="bench-voice").delete()
    org = tenant_services.organization_create(name="Voice benchmark", slug="bench-voice", owner=owner)
    with tenant_scope(org):
        agent = Agent.objects.create(organization=org, name="Bench agent", kind=AgentKind.HUMAN, user=owner)
        account = ProviderAccount.objects.create(organization=org, provider=Provider.TWILIO, friendly_name="Bench",
                                                 account_sid=SID, auth_token=TOKEN)
        PhoneNumber.objects.create(organization=org, provider_account=account, phone_number=OUR_NUMBER, agent=agent,
                                   provider_sid="PN" + "f" * 32, capabilities={"voice": True, "sms": True})
    return org, agent


def inbound_requests(count: int, start: int) -> list[bytes]:
    validator = RequestValidator(TOKEN)
    url = BASE + INBOUND
    out = []
    for i in range(start, start + count):
        params = {"CallSid": "CA" + uuid.uuid4().hex, "AccountSid": SID, "From": f"+1415556{i % 10000:04d}",
                  "To": OUR_NUMBER, "Caller": f"+1415556{i % 10000:04d}", "Called": OUR_NUMBER,
                  "CallStatus": "ringing", "Direction": "inbound", "ApiVersion": "2010-04-01"}
        body = urlencode(params)
        out.append((f"POST {INBOUND} HTTP/1.1\r\nHost: 127.0.0.1:{PORT}\r\n"
                    f"Content-Type: application/x-www-form-urlencoded\r\n"
                    f"X-Twilio-Signature: {validator.compute_signature(url, params)}\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n{body}").encode())
    return out


def bare_requests(count: int) -> list[bytes]:
    return [f"GET /bench/bare HTTP/1.1\r\nHost: 127.0.0.1:{PORT}\r\n\r\n".encode()] * count


def burst(payloads: list[bytes]) -> tuple[list[float], int]:
    """Send every payload at the same instant, each on its own connection (50 calls are 50
    connections from Twilio); latencies in ms from the start, and how many failed."""

    async def run():
        loop = asyncio.get_running_loop()
        connections = await asyncio.gather(*(asyncio.open_connection("127.0.0.1", PORT) for _ in payloads))
        start = loop.time()

        async def one(payload, reader, writer):
            writer.write(payload)
            status = await asyncio.wait_for(reader.readline(), 15)
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            writer.close()
            return (loop.time() - start) * 1000, status.split()[1] == b"200"

        results = await asyncio.gather(*(one(p, r, w) for p, (r, w) in zip(payloads, connections, strict=True)))
        return [ms for ms, ok in results if ok], sum(1 for _, ok in results if not ok)

    return asyncio.run(run())


def summary(name: str, values: list[float], failed: int) -> str:
    return (f"{name}: {len(values)} requests in bursts of {CONCURRENT}, {failed} failed: p50 {percentile(values, .5):.1f} ms, "
            f"p95 {percentile(values, .95):.1f} ms, p99 {percentile(values, .99):.1f} ms, max {max(values):.1f} ms")


def main() -> int:
    prepare_database()
    org, agent = seed()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.bench_settings", "DEBUG": "false",
           "PUBLIC_BASE_URL": BASE, "REDIS_URL": REDIS_URL, "DATABASE_NAME": os.environ["DATABASE_NAME"]}
    server = start_web_server(port=PORT, env=env, workers=int(os.environ.get("BENCH_WORKERS", "2")),
                            threads=int(os.environ.get("BENCH_THREADS", "8")))
    reference, webhook = [], []
    failures = {"reference": 0, "webhook": 0}
    cpu: dict[str, dict[str, float]] = {"reference": {}, "webhook": {}}
    busy_shares: list[float] = []
    disturbed = 0
    try:
        presence.heartbeat(org.pk, agent.pk)
        burst(bare_requests(CONCURRENT))  # warm-up: every thread of both workers loaded
        burst(inbound_requests(CONCURRENT, 9000))
        done = 0
        while done < BURSTS:
            presence.heartbeat(org.pk, agent.pk)  # the agent's page, every 15 s in life
            presence.in_call_clear(org.pk, agent.pk)  # each burst finds the agent free, as a new call would
            with tenant_scope(org):  # a worker took the last burst's calls: this burst asks for one again
                call_drain_spent(organization=org)
            before = cpu_times()
            processes = process_cpu()
            ref_ms, ref_failed = burst(bare_requests(CONCURRENT))
            ref_cpu = cpu_spent(processes, process_cpu())
            time.sleep(BURST_GAP / 2)
            payloads = inbound_requests(CONCURRENT, done * CONCURRENT)
            processes = process_cpu()
            machine = cpu_times()
            hook_ms, hook_failed = burst(payloads)
            busy_shares.append(busy(machine, cpu_times()))
            if os.environ.get("BENCH_VERBOSE"):
                print(f"burst {done}: webhook max {max(hook_ms):.0f} ms, median {percentile(hook_ms, .5):.0f} ms, "
                      f"busy {busy_shares[-1]:.0%}", flush=True)
            hook_cpu = cpu_spent(processes, process_cpu())
            steal = stolen(before, cpu_times())
            if steal > STEAL_LIMIT and disturbed < BURSTS:
                disturbed += 1
                print(f"set aside: a burst pair during which the hypervisor took {steal:.0%}", flush=True)
                continue
            reference += ref_ms
            webhook += hook_ms
            for kind, seconds in ref_cpu.items():
                cpu["reference"][kind] = cpu["reference"].get(kind, 0.0) + seconds
            for kind, seconds in hook_cpu.items():
                cpu["webhook"][kind] = cpu["webhook"].get(kind, 0.0) + seconds
            failures["reference"] += ref_failed
            failures["webhook"] += hook_failed
            done += 1
            time.sleep(BURST_GAP / 2)
    finally:
        server.terminate()
        server.wait(timeout=20)
    with tenant_scope(org):
        from telephony.models import Call

        stored = Call.objects.count()
    print(summary("trivial view (reference)", reference, failures["reference"]))
    print(summary("inbound voice webhook", webhook, failures["webhook"]))
    print(f"calls stored: {stored} (every request, warm-up included, is a new call); bursts set aside: {disturbed}")
    print(f"machine busy during the webhook's bursts: {sum(busy_shares) / max(1, len(busy_shares)):.0%} "
          "of both cores (idle or waiting for the disk the rest of the time)")
    for name, spent in cpu.items():
        requests = len(reference if name == "reference" else webhook) or 1
        parts = ", ".join(f"{kind} {seconds / requests * 1000:.2f}" for kind, seconds in sorted(spent.items()))
        print(f"CPU per request, {name} (ms): {parts}; total {sum(spent.values()) / requests * 1000:.2f}")
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    with platform_scope():
        org.delete()
    ok = percentile(webhook, 0.99) < 100 and failures["webhook"] == 0
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
