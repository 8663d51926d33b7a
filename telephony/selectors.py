"""Reads of `telephony`, organization first."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q, QuerySet

from core import counts
from core.dates import day_start
from tenants.models import Agent, Job, Organization
from tenants.scoping import get_for_org

from . import providers
from .models import CALL_ENDED, Call, CallDirection, PhoneNumber, ProviderAccount


def provider_account_list(*, organization: Organization, provider: str | None = None) -> QuerySet[ProviderAccount]:
    qs = ProviderAccount.objects.filter(organization=organization).select_related("client")
    if provider:
        qs = qs.filter(provider=provider)
    return qs.order_by("provider", "friendly_name")


def get_provider_account_for_org(organization: Organization, public_id) -> ProviderAccount:
    return get_for_org(ProviderAccount.objects.all(), organization, public_id)


def carrier_accounts(*, organization: Organization) -> QuerySet[ProviderAccount]:
    """The accounts that hold phone numbers (Twilio, Vonage, Bandwidth: not a voice-AI platform)."""
    return provider_account_list(organization=organization).filter(provider__in=list(providers.ADAPTERS))


def phone_number_list(*, organization: Organization, filters: dict | None = None) -> QuerySet[PhoneNumber]:
    """Seed 001's queries: a client's unassigned numbers (client + assigned=False), an agent's
    numbers (agent); plus status and the provider account."""
    filters = filters or {}
    qs = PhoneNumber.objects.filter(organization=organization).select_related("agent", "client", "provider_account")
    if filters.get("client"):
        qs = qs.filter(client=filters["client"])
    if filters.get("agent"):
        qs = qs.filter(agent=filters["agent"])
    if filters.get("assigned") is True:
        qs = qs.filter(agent__isnull=False)
    elif filters.get("assigned") is False:
        qs = qs.filter(agent__isnull=True)
    if filters.get("status"):
        qs = qs.filter(status=filters["status"])
    if filters.get("provider_account"):
        qs = qs.filter(provider_account=filters["provider_account"])
    if filters.get("search"):
        qs = qs.filter(Q(phone_number__icontains=filters["search"]) | Q(friendly_name__icontains=filters["search"]))
    return qs.order_by("phone_number")


def phone_number_choices(*, organization: Organization) -> QuerySet[PhoneNumber]:
    """The organization's numbers for a filter's list: each shows as its number, so nothing else is
    read (not the provider account, whose credentials would be decrypted for every number)."""
    return PhoneNumber.objects.filter(organization=organization).only("id", "phone_number").order_by("phone_number")


def get_phone_number_for_org(organization: Organization, public_id) -> PhoneNumber:
    return get_for_org(PhoneNumber.objects.select_related("agent", "client", "provider_account"), organization,
                       public_id)


def get_job_for_org(organization: Organization, public_id) -> Job:
    return get_for_org(Job.objects.all(), organization, public_id)


# Calls -------------------------------------------------------------------------------------------

# What a missed call is: an inbound call that ended without anyone of ours answering (a voicemail
# is one too). Still ringing is not missed yet.
MISSED = Q(direction=CallDirection.INBOUND, answered_at__isnull=True, status__in=CALL_ENDED)


# What a row of the call log shows (telephony/rows.py, telephony/presentation.py): a call has some forty
# columns, transcripts and summaries among them, and loading them all cost more than the page's query.
CALL_LOG_FIELDS = (
    "id", "organization_id", "direction", "from_number", "to_number", "status", "failure_reason", "on_hold",
    "answered_at", "seen_at", "created_at", "duration", "voicemail", "recording_duration",
    "contact__id", "contact__name", "contact__whatsapp_profile_name", "contact__phone_number",
    "phone_number__id", "phone_number__phone_number", "phone_number__friendly_name",
    "agent__id", "agent__name", "agent__kind",
)


def call_list(*, organization: Organization, filters: dict | None = None, user=None) -> QuerySet[Call]:
    """The call log, newest first. Filters: `mine` (calls of the asking user's own agent: nothing
    for someone who is no agent), `missed`, `voicemail`, `number` (a PhoneNumber), `direction`,
    `date_from` / `date_to` (days, both included). Served by call_org_recent_idx, or
    call_agent_recent_idx for "mine"."""
    filters = filters or {}
    qs = Call.objects.filter(organization=organization).select_related("contact", "agent", "phone_number")
    if filters.get("mine"):
        agent = (Agent.objects.filter(organization=organization, user=user).first()
                 if getattr(user, "is_authenticated", False) else None)
        qs = qs.filter(agent=agent) if agent is not None else qs.none()
    if filters.get("missed"):
        qs = qs.filter(MISSED)
    if filters.get("voicemail"):
        qs = qs.filter(voicemail=True)
    if filters.get("number"):
        qs = qs.filter(phone_number=filters["number"])
    if filters.get("direction"):
        qs = qs.filter(direction=filters["direction"])
    if filters.get("date_from"):
        qs = qs.filter(created_at__gte=day_start(filters["date_from"]))
    if filters.get("date_to"):
        qs = qs.filter(created_at__lt=day_start(filters["date_to"] + timedelta(days=1)))
    return qs.order_by("-created_at", "-id")


def get_call_for_org(organization: Organization, public_id) -> Call:
    return get_for_org(Call.objects.select_related("contact", "agent", "phone_number", "transferred_by",
                                                   "transferred_to", "transfer_target"), organization, public_id)


# The top bar's missed-call badge shows up to this many, then "99+" (core.counts).
MISSED_SHOWN_UP_TO = 99


def missed_calls_unseen_count(*, organization: Organization) -> int:
    """The top bar's badge: missed calls (and voicemails) nobody has looked at yet, counted up to
    MISSED_SHOWN_UP_TO + 1 on the partial index call_unseen_missed_idx. Counted exactly, 1,700 of
    them took 11 ms: the planner expected 33,000 and split the count over parallel workers."""
    return counts.up_to(Call.objects.filter(MISSED, organization=organization, seen_at__isnull=True),
                        MISSED_SHOWN_UP_TO)


def contact_calls(*, organization: Organization, contact_id, phone_number_id, before: tuple | None = None,
                  changed_since: datetime | None = None, limit: int = 50) -> list[Call]:
    """The calls of one contact on one of our numbers (their conversation's calls), newest first:
    before a (created_at, id) position, or changed since a time (the live inbox). Served by
    call_contact_number_idx."""
    qs = Call.objects.filter(organization=organization, contact_id=contact_id, phone_number_id=phone_number_id)
    if before is not None:
        at, pk = before
        qs = qs.filter(Q(created_at__lt=at) | Q(created_at=at, pk__lt=pk))
    if changed_since is not None:
        qs = qs.filter(updated_at__gt=changed_since)
    return list(qs.select_related("agent").order_by("-created_at", "-id")[:limit])
