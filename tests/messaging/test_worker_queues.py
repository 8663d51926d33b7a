"""With real workers, as `make run` starts them: an inbound message does not wait behind bulk work."""

from __future__ import annotations

import time

import pytest
import redis
from django.conf import settings

from messaging.models import Direction, Message
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
