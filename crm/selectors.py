"""Reads of `crm`, organization first."""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.postgres.search import SearchQuery
from django.core.exceptions import ValidationError
from django.db.models import BooleanField, CharField, Count, Exists, F, Func, Max, OuterRef, Q, QuerySet, Sum
from django.db.models.expressions import RawSQL
from django.utils import timezone

from core import counts
from core.labels import labels_in_use
from tenants.access import current_access
from tenants.models import Organization
from tenants.scoping import get_for_org

from .models import Contact, ContactImport, ContactLabelUse, ContactMerge, Order, OrderStatus


def search_words(text: str) -> list[str]:
    """The words of a search as typed, lower case, at most eight."""
    return re.findall(r"\w+", text.lower())[:8]


def search_query(text: str) -> SearchQuery | None:
    """Every word typed must match, each as a prefix ("ord 1042" finds "order 1042"), against a
    search vector built with the 'simple' configuration (names as typed); None when nothing to search."""
    words = search_words(text)
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


class _Unindexed(Func):
    """The text as it is, in an expression no index serves: `ORDER BY (name || '')` sorts exactly as
    `ORDER BY name` does, but only after the rows are found."""

    template = "(%(expressions)s || '')"
    output_field = CharField()


# A search sorted by name, when it matches a few thousand contacts: they are found through the search
# indexes, then sorted. Left to itself, the planner walks the name index and filters each row,
# expecting the matches spread evenly; but contacts named Timothy sit together near the end of the
# alphabet (a first name is the start of a name): 90,000 rows read, 52 ms, against 1.2 ms this way.
# A broad search is the other way round: sorting "j"'s 22,000 matches takes 22 ms (about a
# microsecond each), while the walk meets 51 of them at once (2 ms). At a million contacts a common
# first name is shared by 20,000 of them: "Mary" walked 1.5 s to reach the M's, and sorted in 34 ms.
# Up to 50,000 matches sorting costs at most about 100 ms (1.5 to 2.6 µs a match), whatever their
# place in the alphabet; a search with more matches than one name can have (a letter, "j": 224,539)
# finds them spread through the alphabet, and walks (docs/benchmarks.md, issues 16 and 21).
CONTACT_SEARCH_SORT = (_Unindexed("name"), "phone_number", "id")
CONTACT_SEARCH_SORTED_UP_TO = 50_000  # matches, as the planner estimates them


def searched_by_name(qs: QuerySet[Contact], *, sort: str = "name", search: str = "") -> QuerySet[Contact]:
    """contact_list's rows for a page: a search by name that matches a few thousand contacts sorts its
    matches instead of walking the name index (the order is the same)."""
    if sort == "name" and search and counts.estimated(qs) <= CONTACT_SEARCH_SORTED_UP_TO:
        return qs.order_by(*CONTACT_SEARCH_SORT)
    return qs


# Keyset paging: the row a page ends with, as the values of its sort's columns; the next page starts
# after it (a row comparison the sort's index serves: page 2,000 costs what page 1 does, and no
# page counts the whole list).
CONTACT_AFTER = {"name": "(crm_contact.name, crm_contact.phone_number, crm_contact.id) > (%s, %s, %s::uuid)",
                 "newest": "(crm_contact.created_at, crm_contact.id) < (%s::timestamptz, %s::uuid)"}


def contact_cursor(row: Contact | Order, sort: str) -> str:
    """Where the page after `row` starts (an opaque token for the next page's link): by name for a
    contact, else by creation time (contacts newest first, orders)."""
    values = ([row.name, row.phone_number, str(row.pk)] if sort != "newest"
              else [row.created_at.isoformat(), str(row.pk)])
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def _after(sort: str, cursor: str) -> list[str]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        expected = 3 if sort != "newest" else 2
        if not (isinstance(values, list) and len(values) == expected and all(isinstance(v, str) for v in values)):
            raise ValueError
        uuid.UUID(values[-1])
        if sort == "newest":
            datetime.fromisoformat(values[0])
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ValidationError({"after": "That page link is broken: start again from the first page."}) from None
    return values


def contact_page(*, organization: Organization, sort: str = "name", after: str = "", limit: int = 50,
                 fields: tuple[str, ...] = (), **filters) -> tuple[list[Contact], str]:
    """One page of the contacts list and the cursor of the next one ("" on the last page); `filters`
    are contact_list's."""
    sort = sort if sort in CONTACT_SORTS else "name"
    qs = searched_by_name(contact_list(organization=organization, sort=sort, **filters), sort=sort,
                          search=filters.get("search", ""))
    if after:
        qs = qs.filter(RawSQL(CONTACT_AFTER[sort], _after(sort, after), output_field=BooleanField()))
    if fields:
        qs = qs.only(*fields)
    rows = list(qs[:limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, contact_cursor(rows[-1], sort) if more else ""


OPEN_ORDER_STATUSES = (OrderStatus.PENDING, OrderStatus.CONFIRMED, OrderStatus.PROCESSING, OrderStatus.SHIPPED)


# "Last contact": when a message (either way) or a call last moved one of the contact's conversations.
LAST_CONTACT = {"7d": "In the last 7 days", "30d": "In the last 30 days", "90d": "In the last 90 days",
                "quiet90": "Not in 90 days, or never", "never": "Never"}
LAST_CONTACT_DAYS = {"7d": 7, "30d": 30, "90d": 90, "quiet90": 90}


def _contacted_since(organization: Organization, since) -> QuerySet[Contact]:
    """The ids of contacts with a conversation that moved since `since` (None: ever), through the
    conversations' (organization, last_message_at) index."""
    qs = Contact.objects.filter(organization=organization, conversations__organization=organization)
    if since is None:
        return qs.filter(conversations__last_message_at__isnull=False).values("pk")
    return qs.filter(conversations__last_message_at__gte=since).values("pk")


def contact_list(*, organization: Organization, search: str = "", has_open_orders: bool = False,
                 opted_out: bool = False, label: str = "", last_contact: str = "",
                 sort: str = "name") -> QuerySet[Contact]:
    """The organization's contacts for the contacts page, its export and the API: search (name, number,
    email), those with an order still on its way, those opted out of a channel, with a label, by when
    we were last in touch; by name or newest first."""
    qs = Contact.objects.filter(organization=organization)
    if label:
        qs = qs.filter(labels__contains=[" ".join(label.split())])
    if last_contact in LAST_CONTACT_DAYS:
        since = timezone.now() - timedelta(days=LAST_CONTACT_DAYS[last_contact])
        recent = _contacted_since(organization, since)
        qs = qs.filter(pk__in=recent) if last_contact != "quiet90" else qs.exclude(pk__in=recent)
    elif last_contact == "never":
        qs = qs.exclude(pk__in=_contacted_since(organization, None))
    if search:
        match = contact_matches(organization, search)
        qs = qs.filter(match) if match is not None else qs.none()
    if has_open_orders:
        qs = qs.filter(Exists(Order.objects.filter(organization=organization, contact=OuterRef("pk"),
                                                   status__in=OPEN_ORDER_STATUSES)))
    if opted_out:
        qs = qs.filter(Q(sms_opted_out_at__isnull=False) | Q(whatsapp_opted_out_at__isnull=False))
    return qs.order_by(*CONTACT_SORTS.get(sort, CONTACT_SORTS["name"]))


def contact_labels(*, organization: Organization) -> list[str]:
    """The labels the organization's contacts carry, for the filter's and the edit form's suggestions:
    the label counts (ContactLabelUse, kept by a trigger), or for a member limited to some clients'
    contacts the labels of those (core.labels)."""
    access = current_access()
    return labels_in_use(counted=ContactLabelUse.objects.filter(organization=organization, contacts__gt=0),
                         labelled=Contact.objects.filter(organization=organization).exclude(labels=[]),
                         everything=access is not None and access.everything)


def last_contacted(*, organization: Organization, contacts: list[Contact]) -> dict:
    """When each of these contacts was last in touch (their conversations' latest move), by contact id;
    one query for a page of them."""
    return dict(Contact.objects.filter(organization=organization, pk__in=[c.pk for c in contacts])
                .annotate(last=Max("conversations__last_message_at")).values_list("pk", "last"))


def get_contact_for_org(organization: Organization, public_id) -> Contact:
    return get_for_org(Contact.objects.all(), organization, public_id)


def order_list(*, organization: Organization, status: str = "", contact=None, search: str = "",
               created_from=None, created_to=None) -> QuerySet[Order]:
    """The organization's orders, newest first, with the page's filters (created_* are dates, both
    ends included, in the server's time zone; `search` the customer as the contacts page finds them:
    words of the name, digits of the number)."""
    qs = Order.objects.filter(organization=organization).select_related("contact")
    if status:
        qs = qs.filter(status=status)
    if contact is not None:
        qs = qs.filter(contact=contact)
    if search:
        # The matching contacts first (through their indexes), then their orders (through the
        # contact's orders index), instead of joining every order to its contact.
        match = contact_matches(organization, search)
        qs = qs.filter(contact__in=Contact.objects.filter(organization=organization).filter(match).values("pk")
                       if match is not None else Contact.objects.none())
    if created_from is not None:
        qs = qs.filter(created_at__date__gte=created_from)
    if created_to is not None:
        qs = qs.filter(created_at__date__lte=created_to)
    return qs.order_by("-created_at", "-id")


def get_order_for_org(organization: Organization, public_id) -> Order:
    return get_for_org(Order.objects.select_related("contact").prefetch_related("items", "status_changes"),
                       organization, public_id)


def order_page(*, organization: Organization, after: str = "", limit: int = 50, **filters) -> tuple[list[Order], str]:
    """One page of the orders list, newest first, and the cursor of the next one ("" on the last page)."""
    qs = order_list(organization=organization, **filters)
    if after:
        qs = qs.filter(RawSQL("(crm_order.created_at, crm_order.id) < (%s::timestamptz, %s::uuid)",
                              _after("newest", after), output_field=BooleanField()))
    rows = list(qs.order_by("-created_at", "-id")[:limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, contact_cursor(rows[-1], "newest") if more else ""


def order_totals(orders: QuerySet[Order]) -> list[dict]:
    """What the listed orders add up to, per currency: [{"currency", "count", "sum"}]."""
    # count(*), not count(id): the status index carries currency and total, so the sum reads the index
    # alone (an index-only scan), never the orders themselves.
    return list(orders.order_by().values("currency").annotate(count=Count("*"), sum=Sum("total"))
                .order_by("currency"))


def order_by_number(organization: Organization, number: int) -> Order | None:
    return Order.objects.filter(organization=organization, number=number).first()



def merge_preview(*, organization: Organization, duplicate: Contact) -> list[tuple[str, int]]:
    """What merging `duplicate` into another contact would move: (what, how many) for every kind of row
    that points at it, whatever app it belongs to (as crm.merges moves them)."""
    counts = []
    for relation in Contact._meta.related_objects:
        model = relation.related_model
        count = model._default_manager.filter(organization=organization, **{relation.field.name: duplicate}).count()
        if count:
            counts.append((str(model._meta.verbose_name_plural), count))
    return counts


def contact_merges(*, organization: Organization, contact: Contact) -> QuerySet[ContactMerge]:
    return ContactMerge.objects.filter(organization=organization, contact=contact).select_related("merged_by")


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # "conversation" | "call" | "order" | "merge"
    item: object


def contact_timeline(*, organization: Organization, contact: Contact, limit: int = 50) -> list[TimelineEntry]:
    """One timeline of everything with the contact, newest first: their conversations (at their last
    message), calls, orders and merges; at most `limit`, four small queries through the contact's
    indexes. Conversations and calls are other apps' rows, read through the contact's relations."""
    entries = [TimelineEntry(c.last_message_at or c.created_at, "conversation", c)
               for c in contact.conversations.filter(organization=organization)
               .select_related("phone_number", "whatsapp_sender")
               .order_by(F("last_message_at").desc(nulls_last=True))[:limit]]
    entries += [TimelineEntry(call.created_at, "call", call)
                for call in contact.calls.filter(organization=organization).order_by("-created_at")[:limit]]
    entries += [TimelineEntry(order.created_at, "order", order)
                for order in Order.objects.filter(organization=organization, contact=contact)
                .order_by("-created_at")[:limit]]
    entries += [TimelineEntry(merge.merged_at, "merge", merge)
                for merge in contact_merges(organization=organization, contact=contact)[:limit]]
    entries.sort(key=lambda entry: entry.at, reverse=True)
    return entries[:limit]


def contact_imports(*, organization: Organization) -> QuerySet[ContactImport]:
    """The organization's CSV imports, newest first, without their lines."""
    return (ContactImport.objects.filter(organization=organization).defer("rows")
            .select_related("created_by", "applied_by").order_by("-created_at"))


def get_contact_import_for_org(organization: Organization, public_id) -> ContactImport:
    return get_for_org(ContactImport.objects.all(), organization, public_id)
