"""Numbers on the voice-AI platform (VAPI) follow their agent: reconciled by a worker, retried until
they match.

What the number should be on the platform follows from its agent: an active number of an AI agent
is on the platform with that agent's assistant; any other number is not on it and has our voice URL
again. `phone_number_platform_sync` moves the number towards that, one vendor call at a time, and
records where it stands in `platform_state` (pending, synced, error with the reason) so nothing is
ever half-done without showing it.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from core.vendors import ProviderError
from telephony import jobs, platforms, providers
from telephony.models import NumberStatus, PhoneNumber, PlatformState, ProviderAccount
from telephony.platforms.base import ReportServer, VoicePlatform
from tenants.models import AgentKind, Organization
from tenants.services import audit

from .webhook_contract import new_webhook_secret, vapi_url, webhook_urls

logger = logging.getLogger(__name__)


def platform_account(organization: Organization) -> ProviderAccount | None:
    """The organization's voice-AI platform account (the first connected), or None."""
    return ProviderAccount.objects.filter(organization=organization,
                                          provider__in=list(platforms.ADAPTERS)).order_by("created_at").first()


def _platform(organization: Organization) -> tuple[ProviderAccount, VoicePlatform]:
    account = platform_account(organization)
    if account is None or not account.api_key:
        raise ProviderError("No VAPI account is connected to this organization.", permanent=True)
    return account, platforms.for_account(account)


def report_server(account: ProviderAccount) -> ReportServer:
    """Where the platform reports the calls of the organization's numbers: our webhook, with the
    account's secret. An account connected before secrets existed gets one now, once (the account
    row is locked, so two syncs at the same moment cannot each make a different one)."""
    if not account.webhook_secret:
        with transaction.atomic():
            locked = ProviderAccount.objects.select_for_update().get(organization_id=account.organization_id,
                                                                     pk=account.pk)
            if not locked.webhook_secret:
                locked.webhook_secret = new_webhook_secret()
                locked.save(update_fields=["webhook_secret", "updated_at"])
            account.webhook_secret = locked.webhook_secret
    return ReportServer(url=vapi_url(), secret=account.webhook_secret)


def desired_assistant(number: PhoneNumber) -> str | None:
    agent = number.agent
    if agent is not None and agent.kind == AgentKind.AI and number.status == NumberStatus.ACTIVE:
        return agent.assistant_id
    return None


def phone_number_platform_sync(*, organization: Organization, number_id) -> PhoneNumber:
    """Bring one number's platform presence in line with its agent. Raises ProviderError on failure
    (after recording it on the number) so the task can retry transient ones."""
    account = platform_account(organization)
    if account is not None and account.api_key and not account.webhook_secret:
        # An account connected before report secrets existed gets one first, before the number is
        # locked: the account row is never waited for while a number row is held.
        report_server(account)
    with transaction.atomic():
        # The lock serializes syncs of the same number: a reassignment during a sync waits, then
        # its own sync sees the new agent.
        number = (PhoneNumber.objects.select_for_update(of=("self",)).select_related("agent", "provider_account")
                  .get(organization=organization, pk=number_id))
        try:
            _reconcile(organization, number)
        except ProviderError as exc:
            number.platform_state = PlatformState.ERROR
            number.platform_error = exc.message
            number.save(update_fields=["platform_state", "platform_error", "updated_at"])
            audit(organization=organization, actor=None, verb="phone_number.platform_sync_failed", target=number,
                  data={"reason": exc.message, "will_retry": not exc.permanent})
            raise_after = exc
        else:
            raise_after = None
    if raise_after is not None:
        raise raise_after
    return number


def _reconcile(organization: Organization, number: PhoneNumber) -> None:
    assistant = desired_assistant(number)
    if assistant:
        account, platform = _platform(organization)
        server = report_server(account)
        remote = platform.get_number(number.platform_id) if number.platform_id else None
        if remote is None:
            carrier = number.provider_account
            remote = platform.attach_number(
                phone_number=number.phone_number, carrier=carrier.provider, account_sid=carrier.account_sid,
                auth_token=carrier.auth_token or "", assistant_id=assistant,
                name=number.friendly_name or number.phone_number, server=server,
            )
            number.platform, number.platform_id = account.provider, remote.id
            audit(organization=organization, actor=None, verb="phone_number.vapi_imported", target=number,
                  data={"assistant_id": assistant, "vapi_id": remote.id})
        else:
            # The assistant and the report server (its URL and the secret VAPI presents) are set on
            # every sync, changed or not: VAPI does not show the secret it holds, so a secret changed
            # since (an admin typing a new one) reaches the number only this way, and a number
            # attached before we received VAPI's reports starts reporting to us.
            platform.set_assistant(number.platform_id, assistant, server=server)
            if remote.assistant_id != assistant or remote.server_url != server.url:
                verb = ("phone_number.vapi_assistant_changed" if remote.assistant_id != assistant
                        else "phone_number.vapi_report_server_set")
                audit(organization=organization, actor=None, verb=verb, target=number,
                      data={"assistant_id": assistant})
        number.platform_state, number.platform_error = PlatformState.SYNCED, ""
    elif number.platform_id:
        platform_leave(organization=organization, number=number, restore_ours=number.status == NumberStatus.ACTIVE)
    else:
        number.platform_state, number.platform_error = PlatformState.NONE, ""
    number.save(update_fields=["platform", "platform_id", "platform_state", "platform_error", "updated_at"])


def platform_leave(*, organization: Organization, number: PhoneNumber, restore_ours: bool) -> None:
    """Take the number off the platform and, if it stays with us, point its voice URL back at us."""
    _, platform = _platform(organization)
    platform.detach_number(number.platform_id)
    audit(organization=organization, actor=None, verb="phone_number.vapi_removed", target=number,
          data={"vapi_id": number.platform_id})
    number.platform, number.platform_id = "", ""
    number.platform_state, number.platform_error = PlatformState.NONE, ""
    PhoneNumber.objects.filter(organization=organization, pk=number.pk).update(
        platform="", platform_id="", platform_state="", platform_error="")
    if restore_ours and number.webhook_configured:
        ours = webhook_urls()
        providers.for_account(number.provider_account).configure_webhooks(number.provider_sid, ours, voice=True)
        number.voice_url = ours.voice_url
        PhoneNumber.objects.filter(organization=organization, pk=number.pk).update(voice_url=ours.voice_url)


def numbers_with_lost_platform_sync(*, organization: Organization, older_than_seconds: int = 120):
    """Numbers left `pending` longer than a sync takes: their task was lost (broker or worker down)."""
    return PhoneNumber.objects.filter(organization=organization, platform_state=PlatformState.PENDING,
                                      updated_at__lt=timezone.now() - timedelta(seconds=older_than_seconds))


def platform_report_secret_changed(*, organization: Organization, account: ProviderAccount, actor) -> int:
    """The secret VAPI presents to our webhook changed (typed in the admin): every number of ours on
    that platform is synced again, which sends VAPI the new one. How many were asked for."""
    numbers = list(PhoneNumber.objects.filter(organization=organization, platform=account.provider)
                   .exclude(platform_id=""))
    for number in numbers:
        platform_sync_request(organization=organization, actor=actor, number=number)
    return len(numbers)


@transaction.atomic
def platform_sync_request(*, organization: Organization, actor, number: PhoneNumber) -> None:
    """Ask a worker to bring the number in line with the platform again (the "retry" button)."""
    PhoneNumber.objects.filter(organization=organization, pk=number.pk).update(
        platform_state=PlatformState.PENDING, platform_error="")
    audit(organization=organization, actor=actor, verb="phone_number.platform_sync_requested", target=number)
    jobs.phone_number_platform_sync(organization.pk, number.pk)
