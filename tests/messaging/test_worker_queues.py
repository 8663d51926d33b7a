"""With real workers, as `make run` starts them: an inbound message does not wait behind bulk work."""

from __future__ import annotations

import time

import pytest
import redis
from django.conf import settings
from django.core.cache import cache

from messaging.models import Direction, Message
from messaging.tasks import messages_embed_sweep
from softphone import celery_app
from tenants.scoping import tenant_scope
from tests.messaging.conftest import TwilioPoster, wait_for
from tests.vendor_fixtures import ACME_TOKEN

SLOW_TASKS = 300
SLOW_SECONDS = 0.05  # 300 of them keep the bulk worker busy for 15 s


@pytest.mark.worker
def test_a_message_is_stored_at_once_while_hundreds_of_bulk_tasks_wait(org, our_number, live_worker):
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    bulk_queue = f"{settings.REDIS_KEY_PREFIX}{live_worker}.bulk"
    for _ in range(SLOW_TASKS):
        celery_app.send_task("tests.slow", kwargs={"seconds": SLOW_SECONDS})  # no route: the default queue
    assert broker.llen(bulk_queue) > SLOW_TASKS / 2  # they wait there: the bulk worker has only started

    posted = time.monotonic()
    response, params = TwilioPoster().inbound(ACME_TOKEN, body="is anyone there?")
    assert response.status_code == 200

    def stored():
        with tenant_scope(org):
            return Message.objects.filter(direction=Direction.INBOUND, provider_sid=params["MessageSid"]).exists()

    wait_for(stored, 5, "the inbound message")
    waited = time.monotonic() - posted
    still_waiting = broker.llen(bulk_queue)
    assert still_waiting > SLOW_TASKS / 3, f"the message took {waited:.1f} s, behind the bulk work"
    with tenant_scope(org):
        assert list(Message.objects.values_list("body", "status")) == [("is anyone there?", "received")]


@pytest.mark.worker
def test_the_bulk_worker_embeds_a_message_after_it_reached_the_inbox(org, our_number, live_worker):
    """Search by meaning: the message is in the inbox first; the bulk worker embeds it afterwards."""
    response, params = TwilioPoster().inbound(ACME_TOKEN, body="the parcel still has not arrived")
    assert response.status_code == 200

    def message():
        with tenant_scope(org):
            return Message.objects.filter(direction=Direction.INBOUND, provider_sid=params["MessageSid"]).first()

    stored = wait_for(message, 5, "the inbound message")
    assert stored.embedding_model == ""
    # The drain (in the interactive worker) asked for the embedding on the real bulk queue, which this
    # test's workers do not read; beat's sweep, run here, asks again onto this test's bulk queue.
    cache.delete(f"messaging:embed-request:{org.pk}")
    messages_embed_sweep()
    embedded = wait_for(lambda: (m := message()) and m.embedding_model and m, 20, "the embedding")
    assert embedded.embedding_model == "wordllama/l2_supercat_256" and embedded.embedded_at >= stored.created_at
