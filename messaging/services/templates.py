"""WhatsApp message templates: read from the vendor (on demand and daily), filled in and sent.

A template is the only message WhatsApp lets a business send more than 24 hours after the customer
last wrote. Templates are written and reviewed at Meta (or in Twilio's Content API); here they are
synced, never edited. Sending one goes through the same "may we send?" check and the same queue as
every message; the message keeps the template and its values, and its body is the text as the
customer reads it.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from messaging import jobs
from messaging.models import (
    Conversation,
    Direction,
    Message,
    MessageChannel,
    MessageStatus,
    TemplateProvider,
    TemplateStatus,
    WhatsAppSender,
    WhatsAppTemplate,
)
from messaging.providers import WHATSAPP_SENDER_PROVIDER, adapter_class
from messaging.providers.base import (
    NUMBERS,
    PLACEHOLDER,
    WHATSAPP_SENDERS,
    ProviderError,
    TemplateInfo,
    TemplateParameter,
    TemplateSend,
)
from telephony.models import ProviderAccount
from tenants.models import Organization
from tenants.services import audit

from .conversations import conversation_touch
from .policy import may_send

VALUE_LONGEST = 1000  # characters in one value; the whole body is at most 1,024 at Meta


def templates_sync(*, organization: Organization, sender: WhatsAppSender, actor=None) -> dict:
    """Read every template of the sender's business account (Meta's Cloud API) and keep ours in step:
    new ones added, changed ones updated (a review decided, a pause), ones Meta no longer lists marked
    deleted. The outcome is recorded on the senders of that account (when, and the error if it
    failed) for the templates page. Raises ProviderError when Meta could not be read (nothing is
    changed then)."""
    adapter = adapter_class(WHATSAPP_SENDER_PROVIDER, lines=WHATSAPP_SENDERS).for_sender(
        line=sender.phone_number_id, access_token=sender.access_token or "")
    waba = sender.business_account_id
    try:
        found = list(adapter.templates(waba))
    except ProviderError as exc:
        WhatsAppSender.objects.filter(organization=organization, pk=sender.pk).update(
            templates_error=exc.message[:500], updated_at=timezone.now())
        raise
    with transaction.atomic():
        counts = _store(organization, found, provider=TemplateProvider.WHATSAPP_CLOUD, business_account_id=waba)
        WhatsAppSender.objects.filter(organization=organization, business_account_id=waba).update(
            templates_synced_at=timezone.now(), templates_error="", updated_at=timezone.now())
    audit(organization=organization, actor=actor, verb="whatsapp_templates.synced", target=sender, data=counts)
    return counts


def twilio_templates_sync(*, organization: Organization, account: ProviderAccount, actor=None) -> dict:
    """The same for a Twilio account: its Content API templates with their WhatsApp approval, sent
    from its numbers' WhatsApp conversations. The outcome is recorded on the account."""
    adapter = adapter_class(account.provider, lines=NUMBERS).for_account(account)
    try:
        found = adapter.templates()
    except ProviderError as exc:
        ProviderAccount.objects.filter(organization=organization, pk=account.pk).update(
            templates_error=exc.message[:500])
        raise
    with transaction.atomic():
        counts = _store(organization, found, provider=TemplateProvider.TWILIO, provider_account=account)
        ProviderAccount.objects.filter(organization=organization, pk=account.pk).update(
            templates_synced_at=timezone.now(), templates_error="")
    audit(organization=organization, actor=actor, verb="whatsapp_templates.synced", target=account, data=counts)
    return counts


def _store(organization: Organization, found: list[TemplateInfo], *, provider: str, business_account_id: str = "",
           provider_account: ProviderAccount | None = None) -> dict:
    """Make the rows of one account (a business account, or a Twilio account) what the vendor listed."""
    now = timezone.now()
    counts = {"added": 0, "updated": 0, "removed": 0, "listed": len(found)}
    owner = ({"business_account_id": business_account_id} if provider == TemplateProvider.WHATSAPP_CLOUD
             else {"provider_account": provider_account})
    known = {t.external_id: t for t in WhatsAppTemplate.objects.select_for_update().filter(
        organization=organization, provider=provider, **owner)}
    for info in found:
        values = {
            "name": info.name[:512], "language": info.language[:20], "category": info.category[:30],
            "status": info.status, "status_reason": info.status_reason[:500],
            "parameter_format": info.parameter_format, "header": info.header, "body": info.body,
            "footer": info.footer, "unsupported": info.unsupported[:300], "components": info.components,
            "parameters": [{"component": p.component, "name": p.name, "example": p.example[:200]}
                           for p in info.parameters],
        }
        row = known.pop(info.external_id[:64], None)
        if row is None:
            WhatsAppTemplate.objects.create(organization=organization, provider=provider,
                                            external_id=info.external_id[:64], synced_at=now, **owner, **values)
            counts["added"] += 1
        elif any(getattr(row, name) != value for name, value in values.items()):
            WhatsAppTemplate.objects.filter(pk=row.pk).update(synced_at=now, **values)
            counts["updated"] += 1
        else:
            WhatsAppTemplate.objects.filter(pk=row.pk).update(synced_at=now)
    gone = [row.pk for row in known.values() if row.status != TemplateStatus.DELETED]
    counts["removed"] = WhatsAppTemplate.objects.filter(pk__in=gone).update(
        status=TemplateStatus.DELETED, status_reason="No longer listed by the vendor.", synced_at=now)
    return counts


def templates_sync_request(*, organization: Organization, sender: WhatsAppSender, actor) -> None:
    """Ask a worker to read the sender's templates now (the "Sync now" button)."""
    audit(organization=organization, actor=actor, verb="whatsapp_templates.sync_requested", target=sender)
    jobs.whatsapp_templates_sync(organization.pk, sender.pk)


def twilio_templates_sync_request(*, organization: Organization, account: ProviderAccount, actor) -> None:
    audit(organization=organization, actor=actor, verb="whatsapp_templates.sync_requested", target=account)
    jobs.twilio_templates_sync(organization.pk, account.pk)


def parameters_of(template: WhatsAppTemplate) -> list[TemplateParameter]:
    return [TemplateParameter(p.get("component", "body"), str(p.get("name", "")), str(p.get("example", "")))
            for p in template.parameters or []]


def template_values_clean(template: WhatsAppTemplate, raw: Mapping[str, str]) -> dict[str, str]:
    """The value of each of the template's variables, checked as Meta checks them: every one given,
    at most VALUE_LONGEST characters, on one line (no new line or tab, no run of more than four
    spaces). ValidationError naming the variable otherwise."""
    values, errors = {}, []
    for parameter in parameters_of(template):
        value = " ".join(str(raw.get(parameter.name, "") or "").split(" ")).strip()
        label = f"{{{{{parameter.name}}}}}"
        if not value:
            errors.append(f"Fill in {label}.")
        elif any(ch in value for ch in "\n\r\t"):
            errors.append(f"{label} must be on one line (WhatsApp refuses new lines and tabs in a value).")
        elif "     " in value:
            errors.append(f"{label} has more than four spaces in a row, which WhatsApp refuses.")
        elif len(value) > VALUE_LONGEST:
            errors.append(f"{label} can be at most {VALUE_LONGEST} characters.")
        elif "\x00" in value:
            errors.append(f"{label} contains a character that cannot be sent.")
        values[parameter.name] = value
    if errors:
        raise ValidationError(errors)
    return values


def template_render(template: WhatsAppTemplate, values: Mapping[str, str]) -> str:
    """The text the customer reads: header, body and footer with the values in place (a variable
    without a value keeps its {{placeholder}}, as the preview shows it)."""

    def fill(text: str) -> str:
        return PLACEHOLDER.sub(lambda match: values.get(match.group(1)) or match.group(0), text)

    return "\n\n".join(part for part in (fill(template.header), fill(template.body), template.footer) if part)


def template_send(*, organization: Organization, actor, conversation: Conversation, template: WhatsAppTemplate,
                  values: Mapping[str, str]) -> Message:
    """Queue a template message (at any time: outside WhatsApp's 24-hour window too). Refused with the
    reason (ValidationError) when the template may not be sent here or a value is missing."""
    verdict = may_send(conversation, template=template)
    if not verdict:
        raise ValidationError({"template": verdict.reason}, code=verdict.code)
    values = template_values_clean(template, values)
    body = template_render(template, values)
    with transaction.atomic():
        message = Message.objects.create(
            organization=organization, conversation=conversation, direction=Direction.OUTBOUND,
            channel=MessageChannel.WHATSAPP, body=body, status=MessageStatus.PENDING, created_by=actor,
            template=template, template_values=values)
        conversation_touch(conversation=conversation, preview=body, inbound=False)
        jobs.message_deliver(organization.pk, message.pk)
    return message


def template_for_sending(message: Message) -> TemplateSend | None:
    """What the adapter sends for a template message (None for any other message)."""
    template = message.template
    if template is None:
        return None
    return TemplateSend(external_id=template.external_id, name=template.name, language=template.language,
                        parameter_format=template.parameter_format, parameters=tuple(parameters_of(template)),
                        values=dict(message.template_values or {}))
