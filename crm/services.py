"""Writes of `crm`: contacts, found or created once whatever arrives concurrently.

Open inbox tabs show contacts, but crm knows nothing of the inbox: a write that changes what a tab
shows of a contact sends `crm.signals.contact_changed` after it, and messaging listens
(messaging/apps.py)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from django.core.exceptions import ValidationError
from django.utils import timezone

from core.phones import contact_address
from tenants.models import Organization
from tenants.services import audit

from .models import Channel, Contact
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
    address, one INSERT … ON CONFLICT DO NOTHING for the missing ones (a contact created meanwhile by
    a concurrent drain or webhook is simply found), one SELECT for those. What a sender tells of
    themselves (the address's kind, WhatsApp's profile name and id) is kept, the latest sighting
    winning, as if the senders had been seen one after the other."""
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
        if contact.address_kind != sender.kind:  # e.g. a range libphonenumber did not know when first seen
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
    notes = notes.strip()
    if len(notes) > 5000:
        raise ValidationError({"notes": "Notes can be at most 5,000 characters."})
    if notes != contact.notes:
        contact.notes = notes
        contact.save(update_fields=["notes", "updated_at"])
        audit(organization=organization, actor=actor, verb="contact.notes_updated", target=contact)
        contact_changed.send(sender=Contact, contact=contact)
    return contact
