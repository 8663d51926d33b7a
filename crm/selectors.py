"""Reads of `crm`, organization first."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from tenants.models import Organization
from tenants.scoping import get_for_org

from .models import Contact


def contact_list(*, organization: Organization, search: str = "") -> QuerySet[Contact]:
    qs = Contact.objects.filter(organization=organization)
    if search:
        qs = qs.filter(Q(phone_number__contains=search) | Q(name__icontains=search))
    return qs.order_by("name", "phone_number")


def get_contact_for_org(organization: Organization, public_id) -> Contact:
    return get_for_org(Contact.objects.all(), organization, public_id)
