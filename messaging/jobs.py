"""The background work messaging's services ask for, by task name (see core.jobs). Every function
sends after the current transaction commits (but the one asked from after a commit); the task modules are never imported from here."""

from __future__ import annotations

from core.jobs import enqueue


def message_deliver(organization_id, message_id) -> None:
    enqueue("messaging.message_deliver", organization_id=str(organization_id), message_id=str(message_id))


def inbound_events_drain(organization_id) -> None:
    enqueue("messaging.inbound_events_drain", organization_id=str(organization_id))


def call_in_conversation(organization_id, call_id) -> None:
    # Asked by the receiver of telephony's call_changed, which is sent after commit: send it now.
    enqueue("messaging.call_in_conversation", on_commit=False, organization_id=str(organization_id),
            call_id=str(call_id))


def calls_in_conversations(organization_id) -> None:
    # Asked by the receiver of telephony's calls_waiting, which is sent after commit: send it now.
    enqueue("messaging.calls_in_conversations", on_commit=False, organization_id=str(organization_id))


def whatsapp_templates_sync(organization_id, whatsapp_sender_id) -> None:
    enqueue("messaging.whatsapp_templates_sync", organization_id=str(organization_id),
            whatsapp_sender_id=str(whatsapp_sender_id))


def twilio_templates_sync(organization_id, provider_account_id) -> None:
    enqueue("messaging.twilio_templates_sync", organization_id=str(organization_id),
            provider_account_id=str(provider_account_id))


def messages_embed(organization_id) -> None:
    enqueue("messaging.messages_embed", organization_id=str(organization_id))


def embeddings_backfill(organization_id, job_id) -> None:
    enqueue("messaging.embeddings_backfill", organization_id=str(organization_id), job_id=str(job_id))
