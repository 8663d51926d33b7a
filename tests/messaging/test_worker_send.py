"""The send path with a real Celery worker process on the real Redis."""

import os
import signal
import time

import pytest
from django.conf import settings

from crm import services as crm_services
from messaging.models import Message
from messaging.services import conversations, outbound
from tenants.scoping import tenant_scope
from tests.messaging.conftest import CUSTOMER, wait_for
from tests.vendor_fixtures import ACME_SID


@pytest.fixture
def worker_env(twilio):
    return {"TWILIO_API_BASE_URL": settings.TWILIO_API_BASE_URL, "PUBLIC_BASE_URL": settings.PUBLIC_BASE_URL}


def status_of(org, pk):
    with tenant_scope(org):
        return Message.objects.get(pk=pk).status


@pytest.mark.worker
def test_a_real_worker_sends_the_message_once(org, our_number, twilio, live_worker):
    with tenant_scope(org):
        contact = crm_services.contact_for(organization=org, phone=CUSTOMER)
        conversation = conversations.conversation_for(organization=org, contact=contact, channel="sms",
                                                      phone_number=our_number)
        message = outbound.message_send(organization=org, actor=None, conversation=conversation, body="via a worker")
    wait_for(lambda: status_of(org, message.pk) == "queued")
    assert [m["body"] for m in twilio.messages(ACME_SID)] == ["via a worker"]

    # The same task sent again (as after a redelivery) does not send twice.
    from messaging.tasks import message_deliver

    message_deliver.delay(organization_id=str(org.pk), message_id=str(message.pk))
    time.sleep(1.0)
    assert len(twilio.messages(ACME_SID)) == 1


@pytest.mark.worker
def test_a_worker_killed_mid_send_never_sends_twice(org, our_number, twilio, live_worker):
    import psutil

    twilio.set_delay(3.0)  # Twilio is slow: the worker is inside the HTTP call when it dies
    with tenant_scope(org):
        contact = crm_services.contact_for(organization=org, phone=CUSTOMER)
        conversation = conversations.conversation_for(organization=org, contact=contact, channel="sms",
                                                      phone_number=our_number)
        message = outbound.message_send(organization=org, actor=None, conversation=conversation, body="once only")
    wait_for(lambda: status_of(org, message.pk) == "sending")
    workers = [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] and live_worker in " ".join(
        p.info["cmdline"])]
    assert workers, "the worker process was not found"
    for proc in workers:
        os.kill(proc.pid, signal.SIGKILL)
    twilio.set_delay(0)
    # Whatever the broker redelivers, a claimed message is not sent again; the sweeper settles it.
    with tenant_scope(org):
        from datetime import timedelta

        from django.utils import timezone

        Message.objects.filter(pk=message.pk).update(updated_at=timezone.now() - timedelta(minutes=5))
        outbound.messages_sweep(organization=org)
    time.sleep(3.5)  # the request the dead worker made reaches the fake
    assert len(twilio.messages(ACME_SID)) <= 1
    final = status_of(org, message.pk)
    assert final == "failed"
