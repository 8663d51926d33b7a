"""Numbers on VAPI follow their agent: reconciled by a worker, retried until they match.

What the number should be on VAPI follows from its agent: an active number of an AI agent is on
VAPI with that agent's assistant; any other number is not on VAPI and has our voice URL again.
`phone_number_platform_sync` moves the number towards that, one vendor call at a time, and records
where it stands in `platform_state` (pending, synced, error with the reason) so nothing is ever
half-done without showing it.
"""

from __future__ import annotations

import logging

from django.db import transaction

from core.vendors import ProviderError
from telephony import providers
from telephony.models import NumberStatus, PhoneNumber, Platform, PlatformState, Provider, ProviderAccount
from telephony.platforms.vapi import VapiClient
from tenants.models import AgentKind, Organization
from tenants.services import audit

logger = logging.getLogger(__name__)


def _vapi(organization: Organization) -> VapiClient:
    account = ProviderAccount.objects.filter(organization=organization, provider=Provider.VAPI).order_by(
        "created_at").first()
    if account is None or not account.api_key:
        raise ProviderError("No VAPI account is connected to this organization.", permanent=True)
    return VapiClient(account.api_key)


def desired_assistant(number: PhoneNumber) -> str | None:
    agent = number.agent
    if agent is not None and agent.kind == AgentKind.AI and number.status == NumberStatus.ACTIVE:
        return agent.assistant_id
    return None


def phone_number_platform_sync(*, organization: Organization, number_id) -> PhoneNumber:
    """Bring one number's VAPI presence in line with its agent. Raises ProviderError on failure
    (after recording it on the number) so the task can retry transient ones."""
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
        client = _vapi(organization)
        remote = client.get_number(number.platform_id) if number.platform_id else None
        if remote is None:
            account = number.provider_account
            remote = client.import_twilio_number(
                number=number.phone_number, twilio_account_sid=account.account_sid,
                twilio_auth_token=account.auth_token or "", assistant_id=assistant,
                name=number.friendly_name or number.phone_number,
            )
            number.platform, number.platform_id = Platform.VAPI, remote.id
            audit(organization=organization, actor=None, verb="phone_number.vapi_imported", target=number,
                  data={"assistant_id": assistant, "vapi_id": remote.id})
        elif remote.assistant_id != assistant:
            client.update_assistant(number.platform_id, assistant)
            audit(organization=organization, actor=None, verb="phone_number.vapi_assistant_changed", target=number,
                  data={"assistant_id": assistant})
        number.platform_state, number.platform_error = PlatformState.SYNCED, ""
    elif number.platform_id:
        vapi_leave(organization=organization, number=number, restore_ours=number.status == NumberStatus.ACTIVE)
    else:
        number.platform_state, number.platform_error = PlatformState.NONE, ""
    number.save(update_fields=["platform", "platform_id", "platform_state", "platform_error", "updated_at"])


def vapi_leave(*, organization: Organization, number: PhoneNumber, restore_ours: bool) -> None:
    """Delete the number from VAPI and, if it stays with us, point its voice URL back at us."""
    from .numbers import webhook_urls

    _vapi(organization).delete_number(number.platform_id)
    audit(organization=organization, actor=None, verb="phone_number.vapi_removed", target=number,
          data={"vapi_id": number.platform_id})
    number.platform, number.platform_id = Platform.NONE, ""
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
    from datetime import timedelta

    from django.utils import timezone

    return PhoneNumber.objects.filter(organization=organization, platform_state=PlatformState.PENDING,
                                      updated_at__lt=timezone.now() - timedelta(seconds=older_than_seconds))


@transaction.atomic
def platform_sync_request(*, organization: Organization, actor, number: PhoneNumber) -> None:
    """Ask a worker to bring the number in line with VAPI again (the "retry" button)."""
    PhoneNumber.objects.filter(organization=organization, pk=number.pk).update(
        platform_state=PlatformState.PENDING, platform_error="")
    audit(organization=organization, actor=actor, verb="phone_number.platform_sync_requested", target=number)
    from telephony.tasks import phone_number_platform_sync as task

    transaction.on_commit(lambda: task.delay(organization_id=str(organization.pk), phone_number_id=str(number.pk)))
