"""Writes of `crm`: contacts, found or created once whatever arrives concurrently; orders, their
items and their workflow.

Open inbox tabs show contacts, but crm knows nothing of the inbox: a write that changes what a tab
shows of a contact sends `crm.signals.contact_changed` after it, and messaging listens
(messaging/apps.py)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from core.ids import uuid7
from core.phones import contact_address
from tenants.access import everything_in
from tenants.models import Organization
from tenants.services import audit

from .models import (
    CONTACT_LABEL_LONGEST,
    CONTACT_LABELS_MAX,
    ORDER_ITEMS_MAX,
    ORDER_TRANSITIONS,
    QUANTITY_MAX,
    UNIT_PRICE_MAX_DIGITS,
    Channel,
    Contact,
    ContactMerge,
    Order,
    OrderItem,
    OrderStatus,
    OrderStatusChange,
)
from .signals import contact_changed

NAME_LONGEST = 200  # Contact.whatsapp_profile_name

# The same senders write again and again, and parsing a number (libphonenumber) costs more than the
# rest of finding its contact: each process remembers the answers (a pure function of the address).
_contact_address = lru_cache(maxsize=20_000)(contact_address)


@dataclass(frozen=True)
class Sender:
    """Whoever sent a message, as seen in it: the address in its canonical form and its kind
    (core.phones.contact_address), and what WhatsApp tells of them, when it does."""

    address: str
    kind: str
    profile_name: str = ""
    wa_id: str = ""

    @classmethod
    def of(cls, phone: str, profile_name: str = "", wa_id: str = "") -> Sender:
        """ValidationError when there is no usable address (see core.phones.contact_address)."""
        address, kind = _contact_address(phone)
        return cls(address, kind, (profile_name or "")[:NAME_LONGEST], wa_id or "")


def contact_for(*, organization: Organization, phone: str, profile_name: str = "", wa_id: str = "") -> Contact:
    """The contact of an address, created once. A valid number is kept in its canonical form; a short
    code, an alphanumeric sender id or a number libphonenumber rejects is kept as given, with its kind
    (core.phones.contact_address). ValidationError only when there is no usable address."""
    sender = Sender.of(phone, profile_name, wa_id)
    return contacts_for(organization=organization, senders=[sender])[sender.address]


def contacts_for(*, organization: Organization, senders: list[Sender]) -> dict[str, Contact]:
    """The contacts of many senders at once, by address, each created once: one SELECT for every
    address; for the others, one SELECT of merged contacts' numbers (crm.merges: such a number reaches
    the contact it was merged into), one INSERT … ON CONFLICT DO NOTHING for the rest (a contact
    created meanwhile by a concurrent drain or webhook is simply found) and one SELECT for those. What a sender tells of
    themselves (the address's kind, WhatsApp's profile name and id) is kept, the latest sighting
    winning, as if the senders had been seen one after the other.

    A member limited to some clients (tenants.access) who writes to or calls an address finds its
    contact whatever client it was seen by: one person is one contact in the organization, and it
    becomes theirs to see through the conversation or call they are starting."""
    with everything_in(organization):
        return _contacts_for(organization, senders)


def _contacts_for(organization: Organization, senders: list[Sender]) -> dict[str, Contact]:
    seen: dict[str, Sender] = {}
    for sender in senders:
        before = seen.get(sender.address)
        if before is not None:  # a later message of the same sender: what it says that is new wins
            sender = Sender(sender.address, sender.kind, sender.profile_name or before.profile_name,
                            sender.wa_id or before.wa_id)
        seen[sender.address] = sender
    contacts = {contact.phone_number: contact
                for contact in Contact.objects.filter(organization=organization, phone_number__in=list(seen))}
    missing = sorted(address for address in seen if address not in contacts)  # one order for every writer
    aliases: set[str] = set()
    if missing:
        # A number of a contact merged into another reaches that other (crm.merges).
        merged = dict(ContactMerge.objects.filter(organization=organization, merged_address__in=missing)
                      .values_list("merged_address", "contact_id"))
        if merged:
            survivors = Contact.objects.filter(organization=organization).in_bulk(set(merged.values()))
            contacts.update((address, survivors[contact_id]) for address, contact_id in merged.items())
            aliases = set(merged)
            missing = [address for address in missing if address not in aliases]
    if missing:
        Contact.objects.bulk_create(
            [Contact(organization=organization, phone_number=address, address_kind=seen[address].kind,
                     whatsapp_profile_name=seen[address].profile_name, wa_id=seen[address].wa_id)
             for address in missing],
            ignore_conflicts=True)
        contacts.update((contact.phone_number, contact)
                        for contact in Contact.objects.filter(organization=organization, phone_number__in=missing))
    now = timezone.now()
    for address, sender in seen.items():
        contact = contacts[address]
        changed = []
        if contact.address_kind != sender.kind and address not in aliases:  # e.g. a range libphonenumber did not know when first seen
            contact.address_kind = sender.kind
            changed.append("address_kind")
        if sender.profile_name and contact.whatsapp_profile_name != sender.profile_name:
            contact.whatsapp_profile_name = sender.profile_name
            changed.append("whatsapp_profile_name")
        if sender.wa_id and contact.wa_id != sender.wa_id:
            contact.wa_id = sender.wa_id
            changed.append("wa_id")
        if changed:
            contact.updated_at = now
            contact.save(update_fields=[*changed, "updated_at"])
    return contacts


def contact_set_opt_out(*, contact: Contact, channel: str, opted_out: bool, source: str) -> None:
    """Opt the contact out of a channel (or back in), recording how (the keyword the customer sent,
    or who changed it)."""
    now = timezone.now()
    if channel == Channel.WHATSAPP:
        contact.whatsapp_opted_out_at, contact.whatsapp_opt_out_source = (now, source) if opted_out else (None, source)
    else:
        contact.sms_opted_out_at, contact.sms_opt_out_source = (now, source) if opted_out else (None, source)
    contact.save()
    contact_changed.send(sender=Contact, contact=contact)  # the composer's verdict changes


def contact_update_notes(*, organization: Organization, actor, contact: Contact, notes: str) -> Contact:
    """The inbox panel's notes box: contact_update of the notes alone."""
    return contact_update(organization=organization, actor=actor, contact=contact, notes=notes)


def contact_labels_clean(labels) -> list[str]:
    """Labels as kept: spaces collapsed, one of each whatever its case (the first spelling wins),
    sorted; a ValidationError that says what is wrong for too long a label or too many."""
    kept: dict[str, str] = {}
    for label in labels:
        label = " ".join(str(label).split())
        if not label:
            continue
        if len(label) > CONTACT_LABEL_LONGEST:
            raise ValidationError({"labels": f"A label can be at most {CONTACT_LABEL_LONGEST} characters "
                                             f"({label[:20]!r}… has {len(label)})."})
        kept.setdefault(label.casefold(), label)
    if len(kept) > CONTACT_LABELS_MAX:
        raise ValidationError({"labels": f"A contact can have at most {CONTACT_LABELS_MAX} labels ({len(kept)} given)."})
    return sorted(kept.values(), key=str.casefold)


def contact_update(*, organization: Organization, actor, contact: Contact, name: str | None = None,
                   email: str | None = None, notes: str | None = None, labels: list[str] | None = None) -> Contact:
    """Edit what the team knows of a contact: name, email, notes, labels (None: unchanged; `labels`
    replaces them all). Audited with the fields' names; open inbox tabs are told."""
    changes = {}
    if name is not None:
        name = " ".join(name.split())
        if len(name) > 200:
            raise ValidationError({"name": "A name can be at most 200 characters."})
        changes["name"] = name
    if email is not None:
        email = email.strip()
        if email:
            try:
                validate_email(email)
            except ValidationError:
                raise ValidationError({"email": f"{email[:80]!r} is not an email address."}) from None
        changes["email"] = email
    if notes is not None:
        notes = notes.strip()
        if len(notes) > 5000:
            raise ValidationError({"notes": "Notes can be at most 5,000 characters."})
        changes["notes"] = notes
    if labels is not None:
        changes["labels"] = contact_labels_clean(labels)
    changed = [field for field, value in changes.items() if getattr(contact, field) != value]
    if changed:
        for field in changed:
            setattr(contact, field, changes[field])
        contact.save(update_fields=[*changed, "updated_at"])
        audit(organization=organization, actor=actor, verb="contact.updated", target=contact,
              data={"fields": changed})
        contact_changed.send(sender=Contact, contact=contact)
    return contact


# Orders ----------------------------------------------------------------------------------------------
#
# The only writer of orders and their items. The database keeps what must never be wrong (each item's
# rules, the order's total: crm/sql/orders.sql); here are the workflow, the numbering, and conflicts:
# every change names the version of the order it was made against, and a change made against an
# older version (someone else changed the order meanwhile) is refused, never applied over theirs.


class OrderConflict(Exception):
    """The order changed since the version the change was made against."""

    def __init__(self, order: Order):
        self.order = order
        super().__init__(f"Order #{order.number} was changed by someone else meanwhile (it is now at version "
                         f"{order.version}, status {order.get_status_display().lower()}). Reload it and "
                         "make your change again.")


@dataclass(frozen=True)
class ItemInput:
    name: str
    quantity: int
    unit_price: Decimal


def _items_checked(items) -> list[ItemInput]:
    """The lines as given, checked as the database will check them, with messages a person understands."""
    items = list(items)
    if len(items) > ORDER_ITEMS_MAX:
        raise ValidationError({"items": f"An order has at most {ORDER_ITEMS_MAX} lines."})
    checked = []
    for position, item in enumerate(items, start=1):
        name = (item.name or "").strip()
        price = Decimal(item.unit_price)
        if not name:
            raise ValidationError({"items": f"Line {position}: give the item a name."})
        if not 1 <= int(item.quantity) <= QUANTITY_MAX:
            raise ValidationError({"items": f"Line {position}: the quantity must be from 1 to {QUANTITY_MAX:,}."})
        if price < 0 or price != price.quantize(Decimal("0.01")) or price >= Decimal(10) ** (UNIT_PRICE_MAX_DIGITS - 2):
            raise ValidationError({"items": f"Line {position}: the unit price must be 0 or more, in cents, "
                                            f"below {Decimal(10) ** (UNIT_PRICE_MAX_DIGITS - 2):,}."})
        checked.append(ItemInput(name[:200], int(item.quantity), price))
    return checked


def _next_order_number(organization: Organization) -> int:
    """The organization's next order number (1001, 1002, ...): one atomic upsert of its counter."""
    with connection.cursor() as cursor:
        cursor.execute(
            "insert into crm_ordercounter (id, organization_id, last_number) values (%s, %s, 1001) "
            "on conflict (organization_id) do update set last_number = crm_ordercounter.last_number + 1 "
            "returning last_number", [uuid7(), organization.pk])
        return cursor.fetchone()[0]


def _locked(organization: Organization, order: Order, version: int | None) -> Order:
    locked = Order.objects.select_for_update().get(organization=organization, pk=order.pk)
    if version is not None and locked.version != version:
        raise OrderConflict(locked)
    return locked


def _changed(locked: Order) -> Order:
    Order.objects.filter(organization_id=locked.organization_id, pk=locked.pk).update(
        version=F("version") + 1, updated_at=timezone.now())
    locked.refresh_from_db()
    return locked


@transaction.atomic
def order_create(*, organization: Organization, actor, contact: Contact, items=(), notes: str = "",
                 shipping_address: str = "") -> Order:
    """A new order for `contact`, pending, numbered, in the organization's currency."""
    if contact.organization_id != organization.pk:
        raise ValidationError({"contact": "That contact is not one of this organization's."})
    lines = _items_checked(items)
    order = Order.objects.create(organization=organization, contact=contact, number=_next_order_number(organization),
                                 currency=organization.currency, notes=notes, shipping_address=shipping_address,
                                 created_by=actor if actor is not None and actor.is_authenticated else None)
    OrderItem.objects.bulk_create([OrderItem(organization=organization, order=order, name=line.name,
                                             quantity=line.quantity, unit_price=line.unit_price) for line in lines])
    OrderStatusChange.objects.create(organization=organization, order=order, from_status=None,
                                     to_status=OrderStatus.PENDING, changed_by=order.created_by)
    order.refresh_from_db()
    audit(organization=organization, actor=actor, verb="order.created", target=order,
          data={"number": order.number, "items": len(lines), "total": str(order.total)})
    return order


@transaction.atomic
def order_update(*, organization: Organization, actor, order: Order, version: int, notes: str | None = None,
                 shipping_address: str | None = None, items=None) -> Order:
    """Change the order's notes or shipping address, or replace its lines (only while it is pending or
    confirmed), against the version the change was made on."""
    locked = _locked(organization, order, version)
    changed = []
    for field, value in (("notes", notes), ("shipping_address", shipping_address)):
        if value is not None and getattr(locked, field) != value:
            setattr(locked, field, value)
            changed.append(field)
    if changed:
        locked.save(update_fields=[*changed, "updated_at"])
    if items is not None:
        if not locked.editable:
            raise ValidationError({"items": f"The items of a {locked.get_status_display().lower()} order cannot "
                                            "change any more."})
        lines = _items_checked(items)
        OrderItem.objects.filter(organization=organization, order=locked).delete()
        OrderItem.objects.bulk_create([OrderItem(organization=organization, order=locked, name=line.name,
                                                 quantity=line.quantity, unit_price=line.unit_price)
                                       for line in lines])
        changed.append("items")
    if not changed:
        return locked
    locked = _changed(locked)
    audit(organization=organization, actor=actor, verb="order.updated", target=locked,
          data={"fields": changed, "total": str(locked.total)})
    return locked


@transaction.atomic
def order_transition(*, organization: Organization, actor, order: Order, to: str, version: int | None = None) -> Order:
    """Move the order through its workflow (ORDER_TRANSITIONS); any other move is refused with the
    moves that are possible. Without `version`, the move is checked against the order as it is."""
    locked = _locked(organization, order, version)
    if to not in OrderStatus.values:
        raise ValidationError({"to": f"{to!r} is not an order status; the statuses are "
                                     f"{', '.join(OrderStatus.values)}."})
    allowed = ORDER_TRANSITIONS[locked.status]
    if to not in allowed:
        current = locked.get_status_display().lower()
        possible = " or ".join(OrderStatus(s).label.lower() for s in allowed)
        raise ValidationError({"to": f"A {current} order cannot become {OrderStatus(to).label.lower()}"
                                     + (f"; it can become {possible}." if possible else "; it is final.")})
    before = locked.status
    locked.status = to
    locked.save(update_fields=["status", "updated_at"])
    OrderStatusChange.objects.create(organization=organization, order=locked, from_status=before, to_status=to,
                                     changed_by=actor if actor is not None and actor.is_authenticated else None)
    locked = _changed(locked)
    audit(organization=organization, actor=actor, verb="order.status_changed", target=locked,
          data={"from": before, "to": to})
    return locked
