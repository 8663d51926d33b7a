"""Point a number's webhooks at us (a worker does it after a number is added), and repair them when
they drifted."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils import timezone

from core.phones import describe
from core.vendors import ProviderError
from telephony import providers
from telephony.models import PhoneNumber, ProviderAccount, WebhookMode
from telephony.providers.base import AccountWebhooks
from tenants.models import Organization
from tenants.services import audit

from .editing import phone_number_mark_released
from .webhook_contract import account_webhooks_drift, account_webhooks_ours, takes_voice, webhook_urls


def phone_number_configure(*, organization: Organization, number: PhoneNumber, actor=None,
                           geocode: bool = False) -> PhoneNumber:
    """Point the number's SMS, status-callback and (unless on the voice-AI platform) voice URLs at
    our webhooks; workers also fill in the number's region (``geocode``)."""
    account = number.provider_account
    if account.webhook_mode == WebhookMode.GLOBAL:
        return number
    ours = webhook_urls(account.provider)
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


# Carriers whose webhooks live on the account (Bandwidth's messaging application) ---------------------


def provider_account_configure(*, organization: Organization, account: ProviderAccount, actor=None) -> ProviderAccount:
    """Point the account's messaging application at our webhooks, with the callback credentials we
    generated. What it called before is kept, the first time, to be given back on disconnection. A
    failure is recorded on the account in words and raised."""
    adapter_class = providers.adapter_class(account.provider)
    if not adapter_class.account_webhooks_kind or account.webhook_mode == WebhookMode.GLOBAL:
        return account
    adapter = providers.for_account(account)
    ours = account_webhooks_ours(account)
    try:
        before = adapter.account_webhooks()
        adapter.configure_account_webhooks(ours)
    except ProviderError as exc:
        ProviderAccount.objects.filter(organization=organization, pk=account.pk).update(
            webhooks_drift=f"Could not set our webhooks: {exc.message}", updated_at=timezone.now())
        raise
    fields = {"webhooks_configured": True, "webhooks_drift": "", "updated_at": timezone.now()}
    already_ours = account_webhooks_drift(account, before) == ""
    if not account.webhooks_configured and not account.previous_webhooks and not already_ours:
        fields["previous_webhooks"] = {"inbound_url": before.inbound_url, "status_url": before.status_url,
                                       "username": before.username}
    ProviderAccount.objects.filter(organization=organization, pk=account.pk).update(**fields)
    audit(organization=organization, actor=actor, verb="provider_account.webhooks_configured", target=account,
          data={"inbound_url": ours.inbound_url, "status_url": ours.status_url})
    account.refresh_from_db()
    return account


def provider_account_repair_webhooks(*, organization: Organization, actor, account: ProviderAccount) -> ProviderAccount:
    """The accounts page's and the API's "Repair": our webhooks set again, now."""
    if not providers.adapter_class(account.provider).account_webhooks_kind:
        raise ValidationError("This account's webhooks are set on each number: repair them from the numbers list.")
    try:
        return provider_account_configure(organization=organization, account=account, actor=actor)
    except ProviderError as exc:
        raise ValidationError(exc.message) from None


def provider_account_restore_webhooks(account: ProviderAccount) -> str:
    """Give the messaging application back what it called before we took it over (its URLs; the
    callback password it had is Bandwidth's secret, never readable, so the credentials are cleared).
    Returns what could not be done, in words ('' when all went well): a disconnection never waits on it."""
    if not (providers.adapter_class(account.provider).account_webhooks_kind and account.webhooks_configured):
        return ""
    previous = account.previous_webhooks or {}
    try:
        providers.for_account(account).configure_account_webhooks(AccountWebhooks(
            inbound_url=previous.get("inbound_url", ""), status_url=previous.get("status_url", "")))
    except ProviderError as exc:
        return exc.message
    return ""
