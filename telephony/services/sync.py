"""Reconcile our numbers with what the vendors have (beat, hourly, and on demand)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from telephony import jobs, platforms, providers
from telephony.models import NumberStatus, PhoneNumber, PlatformState, ProviderAccount
from tenants.models import Organization
from tenants.services import audit

from .editing import phone_number_mark_released
from .webhook_contract import account_webhooks_drift, drift_of, outdated_ours


def account_sync(*, organization: Organization, account: ProviderAccount, actor=None) -> dict:
    """Reconcile one connected account with its vendor, whichever kind it is: a numbers provider's
    numbers, or the numbers we put on a voice-AI platform."""
    if providers.supports(account.provider):
        return provider_account_sync(organization=organization, account=account, actor=actor)
    return platform_numbers_sync(organization=organization, account=account, actor=actor)


def provider_account_sync(*, organization: Organization, account: ProviderAccount, actor=None) -> dict:
    """Compare every number of a numbers-provider account with the provider: released there ->
    inactive; webhook URLs changed behind our back -> drift recorded (one click repairs); URLs still
    as we set them under an older contract -> configured again by a worker; capabilities refreshed."""
    adapter = providers.for_account(account)
    remote = {n.sid: n for n in adapter.iter_incoming_numbers(page_size=1000)}
    counts = {"checked": 0, "released": 0, "drifted": 0, "updated": 0}
    if providers.adapter_class(account.provider).account_webhooks_kind and account.webhooks_configured:
        counts["drifted"] += _account_webhooks_check(organization, account, adapter, actor)
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
            if outdated_ours(number, found, account):
                transaction.on_commit(lambda n=number: jobs.phone_number_configure(organization.pk, n.pk))
                counts["updated"] += 1
                drift = ""
            else:
                drift = drift_of(number, found, account) if number.webhook_configured else ""
            if drift and drift != number.webhook_drift:
                audit(organization=organization, actor=actor, verb="phone_number.webhook_drift", target=number,
                      data={"drift": drift})
            counts["drifted"] += bool(drift)
            PhoneNumber.objects.filter(pk=number.pk).update(
                webhook_drift=drift, capabilities=found.capabilities.as_dict(), last_verified_at=now,
                updated_at=now)
    return counts


def _account_webhooks_check(organization, account, adapter, actor) -> int:
    """A carrier whose webhooks live on the account: has its messaging application been changed
    behind our back? Recorded on the account (one click repairs), audited when it changes."""
    drift = account_webhooks_drift(account, adapter.account_webhooks())
    if drift != account.webhooks_drift:
        ProviderAccount.objects.filter(organization=organization, pk=account.pk).update(
            webhooks_drift=drift, updated_at=timezone.now())
        if drift:
            audit(organization=organization, actor=actor, verb="provider_account.webhook_drift", target=account,
                  data={"drift": drift})
    return int(bool(drift))


def platform_numbers_sync(*, organization: Organization, account: ProviderAccount, actor=None) -> dict:
    """Numbers we put on the voice-AI platform that it no longer has are flagged (the platform
    sweeper re-imports them while their agent is still an AI agent)."""
    platform = platforms.for_account(account)
    counts = {"checked": 0, "missing": 0}
    for number in PhoneNumber.objects.filter(organization=organization, platform=account.provider).exclude(
        platform_id=""
    ):
        counts["checked"] += 1
        if platform.get_number(number.platform_id) is None:
            counts["missing"] += 1
            PhoneNumber.objects.filter(pk=number.pk).update(
                platform_state=PlatformState.ERROR, platform_error="Deleted in VAPI behind our back.",
                platform_id="", updated_at=timezone.now())
            audit(organization=organization, actor=actor, verb="phone_number.vapi_missing", target=number)
    return counts


def provider_account_sync_request(*, organization: Organization, account: ProviderAccount) -> None:
    """Reconcile in a worker (a page never waits on every page of an account)."""
    jobs.provider_account_sync(organization.pk, account.pk)
