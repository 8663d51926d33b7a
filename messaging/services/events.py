"""Inbound events: stored by the webhook in one statement, turned into messages by a worker."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from messaging.models import InboundEvent
from softphone.ids import uuid7
from telephony.models import PhoneNumber
from tenants.models import Organization
from tenants.rls import execute_in_tenant

from .inbound import message_receive

logger = logging.getLogger(__name__)


def inbound_event_store(*, organization: Organization, provider: str, provider_sid: str, payload: dict,
                        phone_number_id=None) -> bool:
    """Store what the provider sent, once per provider id, and ask for its processing.

    One INSERT … ON CONFLICT DO NOTHING, as the organization (row-level security checks it), in one
    round trip: a repeated or concurrent duplicate inserts nothing and asks for nothing. Returns
    True when this call stored it."""
    rows = execute_in_tenant(
        organization.pk,
        "insert into messaging_inboundevent (id, organization_id, provider, provider_sid, phone_number_id, "
        "payload, received_at) values (%s, %s, %s, %s, %s, %s, now()) "
        "on conflict (provider_sid) do nothing returning id",
        [uuid7(), organization.pk, provider, provider_sid, phone_number_id, json.dumps(payload)],
    )
    if not rows:
        return False
    transaction.on_commit(lambda: drain_request(organization))
    return True


# Coalescing: under load one drain task serves many events. A webhook asks for a drain only if none
# was asked for in the last DRAIN_KEY_MS (one Redis SET instead of a task per message); the drain
# clears the key when it runs out of work and then looks once more, so an event that arrived while
# the key was set is never left behind.
DRAIN_KEY_MS = 2000


def _drain_key(organization) -> str:
    return f"softphone:drain:{organization.pk}"


def drain_request(organization: Organization) -> None:
    from messaging.tasks import inbound_events_drain

    try:
        if not redis_client().set(_drain_key(organization), "1", nx=True, px=DRAIN_KEY_MS):
            return  # a drain is already on its way
        inbound_events_drain.delay(organization_id=str(organization.pk))
    except Exception as exc:  # Redis or the broker is down: the event is stored; the sweeper drains it
        logger.warning("could not request a drain for %s (%s: %s); the sweeper will", organization.pk,
                       type(exc).__name__, exc)


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
        redis_client().delete(_drain_key(organization))
        cleared = True  # look once more: an event may have come in while the key was still set


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
