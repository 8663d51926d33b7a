"""What the browser softphone of a signed-in person needs: its identity, one Voice access token per
Twilio account of the organization with voice set up (a Twilio Device registers with one account),
and the numbers they may call from.

Tokens are signed with the account's API key secret (created by voice set-up, stored encrypted),
never with the auth token, and live TOKEN_TTL seconds; the page asks again on `tokenWillExpire`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db.models import Q

from telephony.identity import client_identity
from telephony.models import Provider, ProviderAccount, VoiceStatus
from telephony.providers import voice_for_account
from telephony.providers.voice import ProviderError
from tenants import presence
from tenants.models import Agent, AgentKind, Organization

from .routing import voice_numbers

logger = logging.getLogger(__name__)

TOKEN_TTL = 3600  # one hour, the most the issue allows (Twilio's own ceiling is 24 h)


@dataclass
class Softphone:
    identity: str
    ttl: int
    devices: list[dict] = field(default_factory=list)  # {"account": id, "token": jwt}
    numbers: list[dict] = field(default_factory=list)  # {"id", "number", "label", "account"}
    problems: list[str] = field(default_factory=list)  # why an account gave no token (for the page)


def voice_accounts(*, organization: Organization, agent: Agent):
    """The Twilio accounts whose calls may ring this agent: voice ready, and the agent's client's
    or the organization's own (an agent of a client account never rings on another client's)."""
    accounts = ProviderAccount.objects.filter(organization=organization, provider=Provider.TWILIO,
                                              voice_status=VoiceStatus.READY)
    if agent.client_id:
        accounts = accounts.filter(Q(client_id=agent.client_id) | Q(client__isnull=True))
    return accounts.order_by("created_at")


def softphone_for(*, organization: Organization, agent: Agent | None) -> Softphone:
    if agent is None or agent.kind != AgentKind.HUMAN:
        raise ValidationError("You are not an agent of this organization, so there is no softphone for you.")
    phone = Softphone(identity=client_identity(agent), ttl=TOKEN_TTL)
    for account in voice_accounts(organization=organization, agent=agent):
        try:
            token = voice_for_account(account).access_token(
                api_key_sid=account.api_key_sid, api_key_secret=account.api_key_secret or "",
                twiml_app_sid=account.twiml_app_sid, identity=phone.identity, ttl=TOKEN_TTL)
        except ProviderError as exc:
            logger.warning("softphone: no token for account %s: %s", account.pk, exc)
            phone.problems.append(f"{account.friendly_name or account.account_sid}: {exc}")
            continue
        phone.devices.append({"account": str(account.pk), "token": token})
    ready = {device["account"] for device in phone.devices}
    phone.numbers = [
        {"id": str(n.pk), "number": n.phone_number, "label": n.friendly_name or n.phone_number,
         "account": str(n.provider_account_id)}
        for n in voice_numbers(organization=organization, agent=agent) if str(n.provider_account_id) in ready
    ]
    return phone


def softphone_presence(*, organization: Organization, agent: Agent, state: str) -> tuple[str, bool]:
    """The page's heartbeat (`registered`) or goodbye (`gone`): what others now see of the agent, and
    whether Redis recorded it."""
    if state == "registered":
        recorded = presence.heartbeat(organization.pk, agent.pk)
    elif state == "gone":
        presence.gone(organization.pk, agent.pk)
        recorded = True
    else:
        raise ValidationError("state must be 'registered' or 'gone'.")
    return presence.status_of([agent], organization.pk)[str(agent.pk)], recorded
