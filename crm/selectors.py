"""Reads of `crm`, organization first."""

from __future__ import annotations

import re

from django.contrib.postgres.search import SearchQuery
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum

from tenants.models import Organization
from tenants.scoping import get_for_org

from .models import Contact, Order, OrderStatus


def search_query(text: str) -> SearchQuery | None:
    """Every word typed must match, each as a prefix ("ord 1042" finds "order 1042"), against a
    search vector built with the 'simple' configuration (names as typed); None when nothing to search."""
    words = re.findall(r"\w+", text.lower())[:8]
    if not words:
        return None
    return SearchQuery(" & ".join(f"{word}:*" for word in words), config="simple", search_type="raw")


def contact_matches(organization: Organization, text: str) -> Q | None:
    """Contacts whose name, WhatsApp name or email has every word typed (as prefixes), whose email
    starts with what was typed (with an @), or whose number contains the digits typed (three or more).
    None: nothing to search for."""
    query = search_query(text)
    if query is None:
        return None
    match = Q(search_vector=query)
    if "@" in text:  # an email address, typed from its start (the search vector keeps it as one word)
        match |= Q(email__istartswith=text.strip())
    digits = re.sub(r"\D", "", text)
    if len(digits) >= 3:
        match |= Q(phone_number__contains=digits)
    return match


CONTACT_SORTS = {"name": ("name", "phone_number", "id"), "newest": ("-created_at", "-id")}
OPEN_ORDER_STATUSES = (OrderStatus.PENDING, OrderStatus.CONFIRMED, OrderStatus.PROCESSING, OrderStatus.SHIPPED)


def contact_list(*, organization: Organization, search: str = "", has_open_orders: bool = False,
                 opted_out: bool = False, sort: str = "name") -> QuerySet[Contact]:
    """The organization's contacts for the contacts page and the API: search (name, number, email),
    those with an order still on its way, those opted out of a channel, by name or newest first."""
    qs = Contact.objects.filter(organization=organization)
    if search:
        match = contact_matches(organization, search)
        qs = qs.filter(match) if match is not None else qs.none()
    if has_open_orders:
        qs = qs.filter(Exists(Order.objects.filter(organization=organization, contact=OuterRef("pk"),
                                                   status__in=OPEN_ORDER_STATUSES)))
    if opted_out:
        qs = qs.filter(Q(sms_opted_out_at__isnull=False) | Q(whatsapp_opted_out_at__isnull=False))
    return qs.order_by(*CONTACT_SORTS.get(sort, CONTACT_SORTS["name"]))


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

