"""Reads of `crm`, organization first."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet, Sum

from tenants.models import Organization
from tenants.scoping import get_for_org

from .models import Contact, Order


def contact_list(*, organization: Organization, search: str = "") -> QuerySet[Contact]:
    qs = Contact.objects.filter(organization=organization)
    if search:
        qs = qs.filter(Q(phone_number__contains=search) | Q(name__icontains=search))
    return qs.order_by("name", "phone_number")


def get_contact_for_org(organization: Organization, public_id) -> Contact:
    return get_for_org(Contact.objects.all(), organization, public_id)


def order_list(*, organization: Organization, status: str = "", contact=None, search: str = "",
               created_from=None, created_to=None) -> QuerySet[Order]:
    """The organization's orders, newest first, with the page's filters (created_* are dates, both
    ends included, in the server's time zone; `search` a part of the customer's name or number)."""
    qs = Order.objects.filter(organization=organization).select_related("contact")
    if status:
        qs = qs.filter(status=status)
    if contact is not None:
        qs = qs.filter(contact=contact)
    if search:
        qs = qs.filter(Q(contact__name__icontains=search) | Q(contact__phone_number__contains=search))
    if created_from is not None:
        qs = qs.filter(created_at__date__gte=created_from)
    if created_to is not None:
        qs = qs.filter(created_at__date__lte=created_to)
    return qs.order_by("-created_at", "-number")


def get_order_for_org(organization: Organization, public_id) -> Order:
    return get_for_org(Order.objects.select_related("contact").prefetch_related("items", "status_changes"),
                       organization, public_id)


def order_totals(orders: QuerySet[Order]) -> list[dict]:
    """What the listed orders add up to, per currency: [{"currency", "count", "sum"}]."""
    return list(orders.order_by().values("currency").annotate(count=Count("id"), sum=Sum("total"))
                .order_by("currency"))


def order_by_number(organization: Organization, number: int) -> Order | None:
    return Order.objects.filter(organization=organization, number=number).first()

