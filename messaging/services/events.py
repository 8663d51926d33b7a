"""Inbound events: stored by the webhook in one statement, turned into messages by a worker."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from messaging.models import InboundDrain, InboundEvent
from softphone.ids import uuid7
from telephony.models import PhoneNumber
from tenants.models import Organization
from tenants.rls import call_committing, execute_in_tenant

from .inbound import message_receive

logger = logging.getLogger(__name__)


def inbound_event_store(*, organization: Organization, provider: str, provider_sid: str, payload: dict,
                        phone_number_id=None) -> bool:
    """Store what the provider sent, once per provider id, and ask for its processing.

    One INSERT … ON CONFLICT DO NOTHING, as the organization (row-level security checks it): a
    repeated or concurrent duplicate inserts nothing and asks for nothing. Outside a transaction (a
    webhook) one round trip does it all: the procedure messaging_inbound_event_store inserts,
    commits, and then claims a drain request unless one stands (see InboundDrain); the broker is
    called only by the webhook that claimed it. Inside a transaction the same insert runs, and the
    claim after the commit. Returns True when this call stored the event."""
    event = [organization.pk, uuid7(), provider, provider_sid, phone_number_id, json.dumps(payload)]
    if transaction.get_connection().in_atomic_block:
        [(stored,)] = execute_in_tenant(organization.pk,
                                        "select messaging_inbound_event_insert(%s, %s, %s, %s, %s, %s)", event)
        if stored:
            transaction.on_commit(lambda: drain_request(organization))
        return stored
    stored, claimed = call_committing("messaging_inbound_event_store", [*event, uuid7(), DRAIN_REQUEST_SECONDS])
    if claimed:
        _drain_enqueue(organization)
    return stored


# Coalescing: under load one drain task serves many events. A request for a drain stands for
# DRAIN_REQUEST_SECONDS (or until the drain runs out of work); while it stands, webhooks ask for
# nothing. The drain marks it spent before its last look for work, so an event committed while it
# stood is seen by that look, and one committed later finds no request standing and makes one.
DRAIN_REQUEST_SECONDS = 2


def drain_request(organization: Organization) -> None:
    """Ask a worker to process the organization's events, unless a request stands already."""
    [(claimed,)] = execute_in_tenant(organization.pk, "select messaging_inbound_drain_claim(%s, %s, %s)",
                                     [organization.pk, uuid7(), DRAIN_REQUEST_SECONDS])
    if claimed:
        _drain_enqueue(organization)


def _drain_enqueue(organization: Organization) -> None:
    from messaging.tasks import inbound_events_drain

    try:
        inbound_events_drain.delay(organization_id=str(organization.pk))
    except Exception as exc:  # the broker is down: the event is stored; the sweeper drains it
        # The claimed request lapses by itself, so a webhook asks again once the broker is back.
        logger.warning("could not request a drain for %s (%s: %s); the sweeper will", organization.pk,
                       type(exc).__name__, exc)


def _drain_request_spent(organization: Organization) -> None:
    InboundDrain.objects.filter(organization=organization).update(requested_until=timezone.now() - timedelta(days=1))


def inbound_events_drain(*, organization: Organization, batch: int = 200) -> int:
    """Process every unprocessed event of the organization, oldest first. Returns how many."""
    done = 0
    cleared = False
    while True:
        ids = list(InboundEvent.objects.filter(organization=organization, processed_at__isnull=True)
                   .order_by("received_at").values_list("pk", flat=True)[:batch])
        for event_id in ids:
            done += inbound_event_process(organization=organization, event_id=event_id)
        if len(ids) == batch:
            continue
        if cleared:
            return done
        _drain_request_spent(organization)
        cleared = True  # look once more: an event may have come in while the request still stood


_redis = None


def redis_client():
    global _redis
    if _redis is None:
        import redis
        from django.conf import settings

        _redis = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
    return _redis


def inbound_event_process(*, organization: Organization, event_id) -> bool:
    """Turn a stored event into contact, conversation and message (once, whoever runs it)."""
    from messaging.webhooks import twilio_inbound

    with transaction.atomic():
        event = (InboundEvent.objects.select_for_update(skip_locked=True)
                 .filter(organization=organization, pk=event_id, processed_at__isnull=True).first())
        if event is None:
            return False  # done already, or being done by another worker right now
        number = PhoneNumber.objects.select_related("agent").filter(pk=event.phone_number_id).first()
        if event.provider == "twilio" and number is not None:
            message = twilio_inbound(event.payload)
            message.received_at = event.received_at
            message_receive(organization=organization, inbound=message, phone_number=number)
        event.processed_at = timezone.now()
        event.save(update_fields=["processed_at"])
    return True


def inbound_events_unprocessed(*, organization: Organization, older_than: timedelta):
    return InboundEvent.objects.filter(organization=organization, processed_at__isnull=True,
                                       received_at__lt=timezone.now() - older_than)
