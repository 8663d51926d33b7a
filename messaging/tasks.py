"""Thin Celery tasks of `messaging`."""

from __future__ import annotations

import logging

from celery import shared_task

from telephony.models import Call, Provider, ProviderAccount
from tenants.models import Organization
from tenants.scoping import platform_scope, tenant_scope
from tenants.tasks import TenantTask, row_task

from .embedders import EmbeddingError
from .models import WhatsAppSender
from .providers.base import ProviderError
from .services import attachments, calls, events, meaning, outbound, sentiment, templates
from .services import senders as sender_services

logger = logging.getLogger(__name__)


@shared_task(base=TenantTask, bind=True, name="messaging.message_deliver", max_retries=8)
def message_deliver(self, *, organization_id: str, message_id: str):
    organization = Organization.objects.get(pk=organization_id)
    try:
        return outbound.message_deliver(organization=organization, message_id=message_id)
    except outbound.Paced as paced:
        # Not a failure: wait for the number's next slot without spending a retry.
        message_deliver.apply_async(kwargs={"organization_id": organization_id, "message_id": message_id},
                                    countdown=paced.wait)
        return "paced"
    except ProviderError as exc:
        # Transient (5xx, timeout, 429): the message is pending again; back off and try later.
        raise self.retry(exc=exc, countdown=min(300, 2 ** (self.request.retries + 1))) from None


@shared_task(base=TenantTask, bind=True, name="messaging.inbound_events_drain")
def inbound_events_drain(self, *, organization_id: str):
    organization = Organization.objects.get(pk=organization_id)
    events.inbound_events_drain(organization=organization)
    # An event that failed waits for its retry without holding up the others; a delayed drain tries it
    # then (the sweeper would, later, if this one were lost), on the queue this drain came from.
    wait = events.inbound_events_retry_wait(organization=organization)
    if wait is not None:
        queue = (self.request.delivery_info or {}).get("routing_key")
        inbound_events_drain.apply_async(kwargs={"organization_id": organization_id}, countdown=wait,
                                         **({"queue": queue} if queue else {}))


@shared_task(base=TenantTask, name="messaging.message_analyse")
def message_analyse(*, organization_id: str, message_id: str):
    sentiment.message_analyse(organization=Organization.objects.get(pk=organization_id), message_id=message_id)


@shared_task(name="messaging.messages_sweep")
def messages_sweep():
    for organization in Organization.objects.all():
        with tenant_scope(organization):
            result = outbound.messages_sweep(organization=organization)
        if any(result.values()):
            logger.info("swept messages of %s: %s", organization.slug, result)


@shared_task(name="messaging.attachments_sweep")
def attachments_sweep():
    """Hourly (beat): delete uploaded files no message refers to, past their grace period."""
    for organization in Organization.objects.all():
        with tenant_scope(organization):
            deleted = attachments.attachments_sweep(organization=organization)
        if deleted:
            logger.info("deleted %d unreferenced attachment(s) of %s", deleted, organization.slug)


@row_task("messaging.whatsapp_sender_check", model=WhatsAppSender, key="whatsapp_sender_id",
          related=("organization",))
def whatsapp_sender_check(sender: WhatsAppSender):
    """What Meta says of one sender today (its status, and why it may not send)."""
    sender_services.whatsapp_sender_check(organization=sender.organization, sender=sender)


@shared_task(name="messaging.whatsapp_senders_check_all")
def whatsapp_senders_check_all():
    """Daily (beat): one check per sender of every organization. A check that cannot be sent, or that
    fails when run inline, is logged and the others still go."""
    for organization in Organization.objects.all():
        with tenant_scope(organization):
            ids = list(WhatsAppSender.objects.filter(organization=organization).order_by("pk")
                       .values_list("pk", flat=True))
        for sender_id in ids:
            try:
                whatsapp_sender_check.delay(organization_id=str(organization.pk), whatsapp_sender_id=str(sender_id))
            except Exception:
                logger.exception("WhatsApp sender %s of %s was not checked", sender_id, organization.slug)


@row_task("messaging.call_in_conversation", model=Call, key="call_id",
          related=("organization", "contact", "phone_number"))
def call_in_conversation(call: Call):
    """A call started, changed or ended: its contact's conversation shows it (the latest state of the
    call, whatever order the changes are handled in)."""
    calls.conversation_take_call(call=call)


@shared_task(base=TenantTask, name="messaging.calls_in_conversations")
def calls_in_conversations(*, organization_id: str):
    """New calls of the organization appear in their conversations (one task for however many)."""
    calls.calls_in_conversations(organization=Organization.objects.get(pk=organization_id))


@row_task("messaging.whatsapp_templates_sync", model=WhatsAppSender, key="whatsapp_sender_id",
          related=("organization",))
def whatsapp_templates_sync(sender: WhatsAppSender):
    """Read the sender's business account's message templates (a failure is recorded on the sender)."""
    return templates.templates_sync(organization=sender.organization, sender=sender)


@row_task("messaging.twilio_templates_sync", model=ProviderAccount, key="provider_account_id",
          related=("organization",))
def twilio_templates_sync(account: ProviderAccount):
    """Read a Twilio account's WhatsApp templates (a failure is recorded on the account)."""
    return templates.twilio_templates_sync(organization=account.organization, account=account)


@shared_task(name="messaging.whatsapp_templates_sync_all")
def whatsapp_templates_sync_all():
    """Daily (beat): every business account's templates, once per account (through one of its active
    senders), and every Twilio account's; one task each, so one failing account never holds up the
    others."""
    with platform_scope():
        senders = list(WhatsAppSender.objects.filter(is_active=True).exclude(business_account_id="")
                       .order_by("organization_id", "business_account_id", "created_at")
                       .distinct("organization_id", "business_account_id").values_list("organization_id", "pk"))
        accounts = list(ProviderAccount.objects.filter(provider=Provider.TWILIO).values_list("organization_id", "pk"))
    for organization_id, sender_id in senders:
        whatsapp_templates_sync.delay(organization_id=str(organization_id), whatsapp_sender_id=str(sender_id))
    for organization_id, account_id in accounts:
        twilio_templates_sync.delay(organization_id=str(organization_id), provider_account_id=str(account_id))


@shared_task(base=TenantTask, bind=True, name="messaging.messages_embed", max_retries=6)
def messages_embed(self, *, organization_id: str):
    """Embed the organization's waiting messages; with more left, ask again (after other organizations')."""
    organization = Organization.objects.get(pk=organization_id)
    try:
        done, more = meaning.messages_embed(organization=organization)
    except EmbeddingError as exc:
        if exc.permanent:  # recorded for the health page; the sweep tries again later
            logger.warning("embeddings of %s: %s", organization.slug, exc.message)
            return "failed"
        raise self.retry(exc=exc, countdown=min(300, exc.retry_after or 2 ** (self.request.retries + 2))) from None
    if more:
        messages_embed.delay(organization_id=organization_id)
    return done


@shared_task(name="messaging.messages_embed_sweep")
def messages_embed_sweep():
    """Every 30 s (beat): ask for the embedding of every organization with messages waiting."""
    for organization_id in meaning.organizations_waiting():
        meaning.embedding_request(organization_id)


@shared_task(base=TenantTask, bind=True, name="messaging.embeddings_backfill", max_retries=20)
def embeddings_backfill(self, *, organization_id: str, job_id: str):
    """A backfill job, 50 batches per task (then it asks again from its cursor)."""
    organization = Organization.objects.get(pk=organization_id)
    try:
        job = meaning.embeddings_backfill_run(organization=organization, job_id=job_id, batches=50)
    except EmbeddingError as exc:
        raise self.retry(exc=exc, countdown=min(300, exc.retry_after or 2 ** (self.request.retries + 2))) from None
    if job is not None and job.status == "running":
        embeddings_backfill.delay(organization_id=organization_id, job_id=job_id)
