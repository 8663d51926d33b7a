"""Inbound events: stored by the webhook in one statement, turned into messages by a worker."""

from __future__ import annotations

import json
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from messaging.models import InboundEvent
from softphone.ids import uuid7
from telephony.models import PhoneNumber
from tenants.models import Organization

from .inbound import _enqueue, message_receive


def inbound_event_store(*, organization: Organization, provider: str, provider_sid: str, payload: dict,
                        phone_number_id=None) -> bool:
    """Store what the provider sent, once per provider id, and queue its processing.

    One INSERT … ON CONFLICT DO NOTHING: a repeated or concurrent duplicate inserts nothing and
    queues nothing. Returns True when this call stored it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "insert into messaging_inboundevent (id, organization_id, provider, provider_sid, phone_number_id, "
            "payload, received_at) values (%s, %s, %s, %s, %s, %s, now()) "
            "on conflict (provider_sid) do nothing returning id",
            [uuid7(), organization.pk, provider, provider_sid, phone_number_id, json.dumps(payload)],
        )
        row = cursor.fetchone()
    if row is None:
        return False
    from messaging.tasks import inbound_event_process

    event = InboundEvent(pk=row[0], organization=organization)
    transaction.on_commit(lambda: _enqueue(inbound_event_process, organization, event, key="event_id"))
    return True


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
