"""Contacts and conversations: found or created once, whatever arrives concurrently."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.phones import contact_address
from crm.models import Channel, Contact
from messaging.models import Conversation, ConversationStatus, Direction
from tenants.models import Organization
from tenants.services import audit

from .live import inbox_changed


def contact_for(*, organization: Organization, phone: str, profile_name: str = "", wa_id: str = "") -> Contact:
    """The contact of an address, created once. A valid number is kept in its canonical form; a short
    code, an alphanumeric sender id or a number libphonenumber rejects is kept as given, with its kind
    (core.phones.contact_address). ValidationError only when there is no usable address."""
    number, kind = contact_address(phone)
    contact = Contact.objects.filter(organization=organization, phone_number=number).first()
    if contact is None:
        try:
            with transaction.atomic():
                contact = Contact.objects.create(organization=organization, phone_number=number, address_kind=kind,
                                                 whatsapp_profile_name=profile_name[:200], wa_id=wa_id)
        except IntegrityError:  # created concurrently by a duplicate webhook
            contact = Contact.objects.get(organization=organization, phone_number=number)
    changed = []
    if contact.address_kind != kind:  # e.g. a range libphonenumber did not know when we first saw the number
        contact.address_kind = kind
        changed.append("address_kind")
    if profile_name and contact.whatsapp_profile_name != profile_name[:200]:
        contact.whatsapp_profile_name = profile_name[:200]
        changed.append("whatsapp_profile_name")
    if wa_id and contact.wa_id != wa_id:
        contact.wa_id = wa_id
        changed.append("wa_id")
    if changed:
        contact.save(update_fields=[*changed, "updated_at"])
    return contact


def conversation_for(*, organization: Organization, contact: Contact, channel: str, phone_number=None,
                     whatsapp_sender=None) -> Conversation:
    lookup = {"organization": organization, "contact": contact, "channel": channel,
              "phone_number": phone_number, "whatsapp_sender": whatsapp_sender}
    conversation = Conversation.objects.filter(**lookup).first()
    if conversation is None:
        try:
            with transaction.atomic():
                conversation = Conversation.objects.create(**lookup, assignee=getattr(phone_number, "agent", None),
                                                           last_message_at=timezone.now())
        except IntegrityError:
            conversation = Conversation.objects.get(**lookup)
    return conversation


def conversation_touch(*, conversation: Conversation, preview: str, inbound: bool, at=None) -> None:
    """Record new activity with one UPDATE (no read-modify-write, so concurrent messages add up)."""
    from django.db.models import F

    at = at or timezone.now()
    # updated_at is when the row changed (the live inbox's cursor), not when the message was received:
    # an event drained late must still count as a change after the tabs' cursors.
    fields = {"last_message_at": at, "last_message_preview": preview[:200], "updated_at": timezone.now()}
    if inbound:
        fields.update(unread_count=F("unread_count") + 1, last_inbound_at=at)
        # A customer writing again reopens a finished or snoozed conversation.
        Conversation.objects.filter(pk=conversation.pk, status__in=[ConversationStatus.DONE,
                                                                   ConversationStatus.SNOOZED]).update(
            status=ConversationStatus.OPEN, snoozed_until=None)
    Conversation.objects.filter(pk=conversation.pk).update(**fields)
    inbox_changed(conversation.organization_id, conversation)


@transaction.atomic
def conversation_update(*, organization: Organization, actor, conversation: Conversation, status=None,
                        snoozed_until=None, assignee=..., labels=None, add_label: str = "",
                        remove_label: str = "") -> Conversation:
    """Status (snoozed until a time), assignee and labels. `labels` replaces them all (the API);
    `add_label` / `remove_label` change one, on the locked row, so two agents labelling at once both
    count (the inbox)."""
    locked = Conversation.objects.select_for_update(of=("self",)).get(organization=organization, pk=conversation.pk)
    assigned_before = locked.assignee_id
    changes = {}
    if status is not None and status != locked.status:
        changes["status"] = status
        locked.status = status
        locked.snoozed_until = snoozed_until if status == ConversationStatus.SNOOZED else None
    if assignee is not ... and getattr(assignee, "pk", None) != locked.assignee_id:
        changes["assignee"] = assignee.name if assignee else None
        locked.assignee = assignee
    if add_label or remove_label:
        labels = [label for label in (labels if labels is not None else locked.labels) if label != remove_label]
        labels += [add_label] if add_label else []
    if labels is not None:
        clean = sorted({label.strip()[:50] for label in labels if label.strip()})
        if clean != locked.labels:
            changes["labels"] = clean
            locked.labels = clean
    if changes:
        locked.save()
        audit(organization=organization, actor=actor, verb="conversation.updated", target=locked, data=changes)
        inbox_changed(organization, locked, assignees=[assigned_before, locked.assignee_id])
    return locked


def conversation_mark_read(*, organization: Organization, conversation: Conversation) -> None:
    """Read for the whole team: one agent opening it clears the badge for everyone."""
    if Conversation.objects.filter(organization=organization, pk=conversation.pk, unread_count__gt=0).update(
            unread_count=0, updated_at=timezone.now()):
        inbox_changed(organization, conversation)


def conversation_mark_unread(*, organization: Organization, conversation: Conversation) -> None:
    if Conversation.objects.filter(organization=organization, pk=conversation.pk, unread_count=0).update(
            unread_count=1, updated_at=timezone.now()):
        inbox_changed(organization, conversation)


def conversation_read_by_open_tab(*, organization: Organization, conversation: Conversation, messages, since) -> None:
    """A tab that has the conversation open reads what the customer writes while it is open."""
    if any(m.direction == Direction.INBOUND and m.created_at > since for m in messages):
        conversation_mark_read(organization=organization, conversation=conversation)


def conversations_wake(*, organization: Organization) -> int:
    """Snoozed conversations whose time has come are open again."""
    woken = Conversation.objects.filter(organization=organization, status=ConversationStatus.SNOOZED,
                                        snoozed_until__lte=timezone.now()).update(
        status=ConversationStatus.OPEN, snoozed_until=None, updated_at=timezone.now())
    if woken:
        inbox_changed(organization)
    return woken


def contact_set_opt_out(*, contact: Contact, channel: str, opted_out: bool, source: str) -> None:
    now = timezone.now()
    if channel == Channel.WHATSAPP:
        contact.whatsapp_opted_out_at, contact.whatsapp_opt_out_source = (now, source) if opted_out else (None, source)
    else:
        contact.sms_opted_out_at, contact.sms_opt_out_source = (now, source) if opted_out else (None, source)
    contact.save()
    # The composer's verdict changes: open tabs re-read this contact's conversations.
    contact.conversations.update(updated_at=now)
    inbox_changed(contact.organization_id)


def contact_update_notes(*, organization: Organization, actor, contact: Contact, notes: str) -> Contact:
    notes = notes.strip()
    if len(notes) > 5000:
        raise ValidationError({"notes": "Notes can be at most 5,000 characters."})
    if notes != contact.notes:
        contact.notes = notes
        contact.save(update_fields=["notes", "updated_at"])
        audit(organization=organization, actor=actor, verb="contact.notes_updated", target=contact)
        contact.conversations.update(updated_at=timezone.now())
        inbox_changed(organization)
    return contact
