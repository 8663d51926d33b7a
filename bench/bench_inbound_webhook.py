"""Benchmark: the inbound message webhook under the production server configuration.

Serves the product with gunicorn exactly as docs/operations.md runs a web process (2 workers x 8
threads here, DEBUG off, WhiteNoise, every middleware), then, in the same run:
1. `wrk -t2 -c16 -d10s` against a trivial view served by the same processes: the ceiling;
2. the same against POST /webhooks/twilio/messages/ with pre-signed requests, each a new MessageSid
   (signature verified with the account's token, message stored, sentiment task enqueued to Redis);
3. an open-loop client at half of the webhook's maximum rate for 10 s, measuring latency.
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
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlencode

import django

from bench.common import prepare_database, use_bench_database

use_bench_database()
django.setup()

from django.conf import settings  # noqa: E402
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


def start_server(env: dict) -> subprocess.Popen:
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "softphone.wsgi", "--bind", f"127.0.0.1:{PORT}",
         "--workers", os.environ.get("BENCH_WORKERS", "2"), "--threads", os.environ.get("BENCH_THREADS", "8"),
         "--log-level", "warning"],
        cwd=settings.BASE_DIR, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(BASE + "/bench/bare", timeout=1):
                return server
        except OSError:
            time.sleep(0.3)
    server.kill()
    raise RuntimeError("gunicorn did not start")


def wrk(path: str, *, script: str | None = None, env: dict | None = None) -> dict:
    command = ["wrk", "-t2", "-c16", f"-d{DURATION}s", "--latency"]
    if script:
        command += ["-s", script]
    out = subprocess.run([*command, BASE + path], capture_output=True, text=True, env=env, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rate": rate, "non_2xx": int(non_2xx.group(1)) if non_2xx else 0, "raw": out}


def open_loop(requests: list[tuple[str, str]], rate: float, seconds: int) -> dict:
    """Send at a fixed rate whatever the answers do (no coordinated omission): latency is measured
    from when each request was due."""
    import http.client

    latencies, failures = [], []
    lock = threading.Lock()
    interval = 1.0 / rate
    total = int(rate * seconds)
    start = time.perf_counter() + 0.2
    local = threading.local()

    def send(index: int):
        due = start + index * interval
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        signature, body = requests[index]
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
        try:
            local.conn.request("POST", "/webhooks/twilio/messages/", body=body, headers={
                "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature})
            response = local.conn.getresponse()
            response.read()
            ok = response.status == 200
        except OSError:
            local.conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
            ok = False
        elapsed = time.perf_counter() - due
        with lock:
            (latencies if ok else failures).append(elapsed)

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=32) as pool:
        list(pool.map(send, range(min(total, len(requests)))))
    latencies.sort()

    def pct(p):
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {"sent": len(latencies) + len(failures), "failed": len(failures), "p50": pct(0.50), "p95": pct(0.95),
            "p99": pct(0.99), "max": latencies[-1] * 1000, "mean": statistics.mean(latencies) * 1000}


def main() -> int:
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian: apt-get install wrk); `make bench` installs it.")
        return 1
    prepare_database()
    org = seed()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.bench_settings", "DEBUG": "false",
           "PUBLIC_BASE_URL": BASE, "REDIS_URL": REDIS_URL, "DATABASE_NAME": os.environ["DATABASE_NAME"]}
    burst = signed_requests(60000)
    steady = signed_requests(20000)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write("".join(f"{s}\t{b}\n" for s, b in burst))
    server = start_server(env)
    try:
        wrk("/bench/bare")  # warm-up
        bare = wrk("/bench/bare")
        webhook = wrk("/webhooks/twilio/messages/", script=str(Path(__file__).with_name("webhook_requests.lua")),
                      env={**os.environ, "WEBHOOK_REQUESTS": handle.name})
        half = webhook["rate"] / 2
        latency = open_loop(steady, half, DURATION)
    finally:
        server.terminate()
        server.wait(timeout=20)
        os.unlink(handle.name)
    with tenant_scope(org):
        from messaging.models import InboundEvent

        stored = InboundEvent.objects.count()
    ratio = webhook["rate"] / bare["rate"]
    print(f"trivial view:    {bare['rate']:.0f} req/s (wrk -t2 -c16 -d{DURATION}s)")
    print(f"inbound webhook: {webhook['rate']:.0f} req/s, non-2xx {webhook['non_2xx']}, ratio {ratio:.2f}")
    print(f"at half load ({half:.0f} req/s, open loop, {latency['sent']} requests, {latency['failed']} failed): "
          f"p50 {latency['p50']:.1f} ms, p95 {latency['p95']:.1f} ms, p99 {latency['p99']:.1f} ms, "
          f"max {latency['max']:.1f} ms")
    print(f"inbound events stored: {stored} (each one a queued task for the worker)")
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    with platform_scope():
        org.delete()
    ok = ratio >= 0.25 and latency["p99"] < 100 and webhook["non_2xx"] == 0 and latency["failed"] == 0
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
