"""The background work messaging's services ask for, by task name (see core.jobs). Every function
sends after the current transaction commits; the task modules are never imported from here."""

from __future__ import annotations

from core.jobs import enqueue


def message_deliver(organization_id, message_id) -> None:
    enqueue("messaging.message_deliver", organization_id=str(organization_id), message_id=str(message_id))


def inbound_events_drain(organization_id) -> None:
    enqueue("messaging.inbound_events_drain", organization_id=str(organization_id))
