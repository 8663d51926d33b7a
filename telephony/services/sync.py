"""Reconcile our numbers with what the providers have (beat, hourly, and on demand)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from telephony import providers
from telephony.models import NumberStatus, PhoneNumber, PlatformState, Provider, ProviderAccount
from telephony.platforms.vapi import VapiClient
from tenants.models import Organization
from tenants.services import audit

from .numbers import drift_of, phone_number_mark_released


def provider_account_sync(*, organization: Organization, account: ProviderAccount, actor=None) -> dict:
    """Compare every number of a Twilio account with Twilio: released there -> inactive; webhook URLs
    changed behind our back -> drift recorded (one click repairs); capabilities refreshed."""
    remote = {n.sid: n for n in providers.for_account(account).iter_incoming_numbers(page_size=1000)}
    counts = {"checked": 0, "released": 0, "drifted": 0}
    now = timezone.now()
    for number in PhoneNumber.objects.filter(organization=organization, provider_account=account).exclude(
        status=NumberStatus.INACTIVE
    ):
        counts["checked"] += 1
        found = remote.get(number.provider_sid)
        with transaction.atomic():
            if found is None:
                phone_number_mark_released(organization, number, actor)
                counts["released"] += 1
                continue
            drift = drift_of(number, found, account) if number.webhook_configured else ""
            if drift and drift != number.webhook_drift:
                audit(organization=organization, actor=actor, verb="phone_number.webhook_drift", target=number,
                      data={"drift": drift})
            counts["drifted"] += bool(drift)
            PhoneNumber.objects.filter(pk=number.pk).update(
                webhook_drift=drift, capabilities=found.capabilities.as_dict(), last_verified_at=now,
                updated_at=now)
    return counts


def vapi_sync(*, organization: Organization, actor=None) -> dict:
    """Numbers we put on VAPI that VAPI no longer has are flagged (the platform sweeper re-imports
    them while their agent is still an AI agent)."""
    account = ProviderAccount.objects.filter(organization=organization, provider=Provider.VAPI).first()
    counts = {"checked": 0, "missing": 0}
    if account is None:
        return counts
    client = VapiClient(account.api_key or "")
    for number in PhoneNumber.objects.filter(organization=organization).exclude(platform_id=""):
        counts["checked"] += 1
        if client.get_number(number.platform_id) is None:
            counts["missing"] += 1
            PhoneNumber.objects.filter(pk=number.pk).update(
                platform_state=PlatformState.ERROR, platform_error="Deleted in VAPI behind our back.",
                platform_id="", updated_at=timezone.now())
            audit(organization=organization, actor=actor, verb="phone_number.vapi_missing", target=number)
    return counts


def provider_account_sync_request(*, organization: Organization, account: ProviderAccount) -> None:
    """Reconcile in a worker (a page never waits on every page of an account)."""
    from telephony.tasks import provider_account_sync as task

    transaction.on_commit(lambda: task.delay(organization_id=str(organization.pk), provider_account_id=str(account.pk)))
