"""Point a number's webhooks at us (a worker does it after a number is added), and repair them when
they drifted."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils import timezone

from core.phones import describe
from core.vendors import ProviderError
from telephony import providers
from telephony.models import PhoneNumber, WebhookMode
from tenants.models import Organization
from tenants.services import audit

from .editing import phone_number_mark_released
from .webhook_contract import takes_voice, webhook_urls


def phone_number_configure(*, organization: Organization, number: PhoneNumber, actor=None,
                           geocode: bool = False) -> PhoneNumber:
    """Point the number's SMS, status-callback and (unless on the voice-AI platform) voice URLs at
    our webhooks; workers also fill in the number's region (``geocode``)."""
    account = number.provider_account
    if account.webhook_mode == WebhookMode.GLOBAL:
        return number
    ours = webhook_urls()
    try:
        remote = providers.for_account(account).configure_webhooks(number.provider_sid, ours,
                                                                   voice=takes_voice(number))
    except ProviderError as exc:
        PhoneNumber.objects.filter(organization=organization, pk=number.pk).update(
            webhook_drift=f"Could not set our webhooks: {exc.message}", updated_at=timezone.now())
        raise
    fields = {"webhook_configured": True, "sms_url": ours.sms_url, "status_callback_url": ours.status_callback,
              "webhook_drift": "", "last_verified_at": timezone.now(), "updated_at": timezone.now()}
    if takes_voice(number):
        fields["voice_url"] = ours.voice_url
    fields["capabilities"] = remote.capabilities.as_dict()
    if geocode and "region" not in number.metadata:
        fields["metadata"] = {**describe(number.phone_number, geocode=True), **number.metadata}
    PhoneNumber.objects.filter(organization=organization, pk=number.pk).update(**fields)
    audit(organization=organization, actor=actor, verb="phone_number.webhooks_configured", target=number,
          data={"voice": takes_voice(number)})
    number.refresh_from_db()
    return number


def phone_number_repair_webhooks(*, organization: Organization, actor, number: PhoneNumber) -> PhoneNumber:
    try:
        return phone_number_configure(organization=organization, number=number, actor=actor)
    except ProviderError as exc:
        if exc.gone:
            phone_number_mark_released(organization, number, actor)
            label = providers.adapter_class(number.provider).label
            raise ValidationError(f"This number is no longer in the {label} account (released); it is now "
                                  "inactive.") from None
        raise ValidationError(exc.message) from None
