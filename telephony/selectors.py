"""Reads of `telephony`, organization first."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from tenants.models import Job, Organization
from tenants.scoping import get_for_org

from .models import Call, PhoneNumber, Provider, ProviderAccount


def provider_account_list(*, organization: Organization, provider: str | None = None) -> QuerySet[ProviderAccount]:
    qs = ProviderAccount.objects.filter(organization=organization).select_related("client")
    if provider:
        qs = qs.filter(provider=provider)
    return qs.order_by("provider", "friendly_name")


def get_provider_account_for_org(organization: Organization, public_id) -> ProviderAccount:
    return get_for_org(ProviderAccount.objects.all(), organization, public_id)


def twilio_accounts(*, organization: Organization) -> QuerySet[ProviderAccount]:
    return provider_account_list(organization=organization, provider=Provider.TWILIO)


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


def get_phone_number_for_org(organization: Organization, public_id) -> PhoneNumber:
    return get_for_org(PhoneNumber.objects.select_related("agent", "client", "provider_account"), organization,
                       public_id)


def get_job_for_org(organization: Organization, public_id) -> Job:
    return get_for_org(Job.objects.all(), organization, public_id)


def get_call_for_org(organization: Organization, public_id) -> Call:
    return get_for_org(Call.objects.select_related("phone_number__provider_account", "agent", "contact",
                                                   "transfer_target"), organization, public_id)
