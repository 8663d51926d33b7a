"""Benchmark: how fast a worker turns stored inbound events into messages, in one process.

Stores BENCH_EVENTS events from BENCH_SENDERS senders through the webhook's own store
(events.inbound_event_store, outside any transaction, from 8 threads as a web process would), then
times one drain of the organization (events.inbound_events_drain) in this process. Sentiment that
the drain leaves to message_analyse tasks is scored afterwards, as a worker would, and counted in
the total: the end-to-end figure is what a person waiting for the inbox sees. Two rounds: new
senders (contacts and conversations created), then the same senders again.

This machine is shared, so beside the wall-clock rate it prints the CPU time the work took (this
process and its PostgreSQL backend): messages per CPU-second does not depend on the neighbours.

    .venv/bin/python -m bench.bench_inbound_drain

Target (issue 14): at least 700 messages a second end to end on this 2-core machine.
"""

from __future__ import annotations

import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import django

from bench.common import prepare_database, use_bench_database

use_bench_database()
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")  # the tasks it enqueues are thrown away
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402

from messaging.models import Direction, Message  # noqa: E402
from messaging.services import events, sentiment  # noqa: E402
from softphone import celery_app  # noqa: E402
from telephony.models import PhoneNumber, Provider, ProviderAccount  # noqa: E402
from tenants import services as tenant_services  # noqa: E402
from tenants.models import Organization  # noqa: E402
from tenants.scoping import platform_scope, tenant_scope  # noqa: E402

EVENTS = int(os.environ.get("BENCH_EVENTS", "10000"))
SENDERS = int(os.environ.get("BENCH_SENDERS", "500"))
# Events per transaction (the drain before batches took 200 event ids a page, one transaction each).
BATCH = int(os.environ.get("BENCH_BATCH", getattr(events, "BATCH", 200)))
OUR_NUMBER = "+14155550142"
BODIES = ["Hello, where is my order {i}?", "Thanks so much, I love it! ({i})", "This is terrible, refund {i} now",
          "ok {i}", "Can I change the delivery address for {i}?"]


def seed() -> tuple[Organization, PhoneNumber]:
    owner = get_user_model().objects.get_or_create(username="bench-owner", defaults={"email": "bench@example.com"})[0]
    with platform_scope():
        Organization.objects.filter(slug="bench-drain").delete()
    org = tenant_services.organization_create(name="Drain benchmark", slug="bench-drain", owner=owner)
    with tenant_scope(org):
        account = ProviderAccount.objects.create(organization=org, provider=Provider.TWILIO, friendly_name="Bench",
                                                 account_sid="AC" + "d" * 32, auth_token="bench-drain-token")
        number = PhoneNumber.objects.create(organization=org, provider_account=account, phone_number=OUR_NUMBER,
                                            provider_sid="PN" + "d" * 32, capabilities={"sms": True})
    return org, number


def payload(i: int) -> dict:
    sid = "SM" + uuid.uuid4().hex
    return {"MessageSid": sid, "SmsSid": sid, "SmsMessageSid": sid, "AccountSid": "AC" + "d" * 32,
            "From": f"+1415555{i % SENDERS:04d}", "To": OUR_NUMBER, "Body": BODIES[i % len(BODIES)].format(i=i),
            "NumMedia": "0", "NumSegments": "1", "SmsStatus": "received", "ApiVersion": "2010-04-01"}


def store(org: Organization, number: PhoneNumber) -> float:
    def one(i: int) -> None:
        data = payload(i)
        events.inbound_event_store(organization=org, provider="twilio", provider_sid=data["MessageSid"],
                                   payload=data, phone_number_id=number.pk)

    def chunk(start: int) -> None:
        try:
            for i in range(start, EVENTS, 8):
                one(i)
        finally:
            connection.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(chunk, range(8)))
    return time.perf_counter() - started


def cpu_seconds() -> float:
    """CPU time of this process and of its database backend (readable here: same machine)."""
    with connection.cursor() as cursor:
        cursor.execute("select pg_backend_pid()")
        [(backend,)] = cursor.fetchall()
    with open(f"/proc/{backend}/stat") as stat:
        ticks = sum(int(field) for field in stat.read().rsplit(")", 1)[1].split()[11:13])
    return time.process_time() + ticks / os.sysconf("SC_CLK_TCK")


def drain(org: Organization) -> tuple[int, float, int, float, float]:
    """(messages made, seconds of the drain, messages scored afterwards, seconds of that scoring,
    CPU-seconds of both)."""
    with tenant_scope(org):
        cpu = cpu_seconds()
        started = time.perf_counter()
        made = events.inbound_events_drain(organization=org, batch=BATCH)
        drained = time.perf_counter() - started
        left = list(Message.objects.filter(direction=Direction.INBOUND, sentiment__isnull=True)
                    .exclude(body="").values_list("pk", flat=True))
        started = time.perf_counter()
        for message_id in left:  # what one message_analyse task per message does, without Celery's own cost
            sentiment.message_analyse(organization=org, message_id=message_id)
        scored = time.perf_counter() - started
        cpu = cpu_seconds() - cpu
    return made, drained, len(left), scored, cpu


def main() -> None:
    prepare_database()
    org, number = seed()
    sentiment.message_sentiment("warm up the lexicon")
    print(f"{EVENTS} events from {SENDERS} senders, one drain in this process, batches of {BATCH}")
    for name in ("new senders", "same senders again"):
        stored = store(org, number)
        made, drained, left, scored, cpu = drain(org)
        total = drained + scored
        print(f"{name:>20}: stored in {stored:.1f} s; drain {made} messages in {drained:.2f} s "
              f"({made / drained:.0f}/s); sentiment left to tasks: {left} in {scored:.2f} s; "
              f"end to end {made / total:.0f} messages/s, {made / cpu:.0f} per CPU-second")
        assert made == EVENTS, f"the drain made {made} messages of {EVENTS}"
    celery_app.control.purge()
    with platform_scope():
        Organization.objects.filter(pk=org.pk).delete()


if __name__ == "__main__":
    main()
