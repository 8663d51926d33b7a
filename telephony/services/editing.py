"""A number we have: rename it, take it out of service when the provider released it, remove it."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from core.vendors import ProviderError
from telephony import jobs, providers
from telephony.lines import lines_changed
from telephony.models import NumberStatus, PhoneNumber, PlatformState, WebhookMode
from telephony.providers.base import WebhookUrls
from tenants.models import Organization
from tenants.services import audit

from .platform import platform_leave


@transaction.atomic
def phone_number_update(*, organization: Organization, actor, number: PhoneNumber, friendly_name: str) -> PhoneNumber:
    locked = PhoneNumber.objects.select_for_update().get(organization=organization, pk=number.pk)
    if locked.friendly_name != friendly_name:
        previous = locked.friendly_name
        locked.friendly_name = friendly_name[:100]
        locked.save(update_fields=["friendly_name", "updated_at"])
        audit(organization=organization, actor=actor, verb="phone_number.renamed", target=locked,
              data={"from": previous, "to": locked.friendly_name})
    return locked


def phone_number_mark_released(organization: Organization, number: PhoneNumber, actor) -> None:
    """The provider no longer has the number (released there): it stays with us, inactive."""
    label = providers.adapter_class(number.provider).label
    with transaction.atomic():
        PhoneNumber.objects.filter(organization=organization, pk=number.pk).update(
            status=NumberStatus.INACTIVE, status_reason=f"Released in {label} (no longer in the account).",
            webhook_configured=False, updated_at=timezone.now())
        audit(organization=organization, actor=actor, verb="phone_number.released_at_provider", target=number)
        lines_changed(number.provider_account.account_sid)


@transaction.atomic
def phone_number_remove(*, organization: Organization, actor, number: PhoneNumber) -> None:
    """Remove the number from Softphone. If it is on the voice-AI platform it leaves it first (a
    worker, retried); either way a worker gives the number back the URLs it had before we took it
    over."""
    locked = PhoneNumber.objects.select_for_update().get(organization=organization, pk=number.pk)
    audit(organization=organization, actor=actor, verb="phone_number.removal_requested", target=locked)
    locked.status, locked.status_reason = NumberStatus.INACTIVE, "Being removed"
    locked.agent = None
    locked.platform_state = PlatformState.PENDING if locked.platform_id else PlatformState.NONE
    locked.save(update_fields=["status", "status_reason", "agent", "platform_state", "updated_at"])
    lines_changed(locked.provider_account.account_sid)
    jobs.phone_number_finish_removal(organization.pk, locked.pk)


def phone_number_finish_removal(*, organization: Organization, number: PhoneNumber) -> None:
    if number.platform_id:
        platform_leave(organization=organization, number=number, restore_ours=False)
    account = number.provider_account
    if account.webhook_mode == WebhookMode.PER_NUMBER and number.webhook_configured:
        try:
            providers.for_account(account).configure_webhooks(
                number.provider_sid,
                WebhookUrls(sms_url=number.previous_sms_url, status_callback="", voice_url=number.previous_voice_url),
            )
        except ProviderError as exc:
            if not exc.gone:  # gone at the provider already: nothing to give back
                PhoneNumber.objects.filter(organization=organization, pk=number.pk).update(
                    status_reason=f"Removal failed: {exc.message}", updated_at=timezone.now())
                raise
    with transaction.atomic():
        audit(organization=organization, actor=None, verb="phone_number.removed", target=number,
              data={"phone_number": number.phone_number})
        PhoneNumber.objects.filter(organization=organization, pk=number.pk).delete()
