"""Conversations: found or created once whatever arrives concurrently, updated by the team."""

from __future__ import annotations

from typing import NamedTuple
from uuid import UUID

from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from crm.models import Contact
from messaging.models import Conversation, ConversationStatus, Direction, Message
from tenants.access import everything_in
from tenants.models import Organization
from tenants.services import audit

from .live import inbox_changed


class ConversationKey(NamedTuple):
    """What makes a conversation: a contact on one of our lines (a number, or a WhatsApp sender) and a
    channel."""

    contact_id: UUID
    channel: str
    phone_number_id: UUID | None
    whatsapp_sender_id: UUID | None


def conversation_for(*, organization: Organization, contact: Contact, channel: str, phone_number=None,
                     whatsapp_sender=None) -> Conversation:
    """The conversation of a contact on one of our lines and a channel, created once."""
    key = ConversationKey(contact.pk, channel, getattr(phone_number, "pk", None), getattr(whatsapp_sender, "pk", None))
    ids = conversations_for(organization=organization, wanted={key: getattr(phone_number, "agent_id", None)})
    with everything_in(organization):  # one an agent who sees only their own starts on a shared line
        return Conversation.objects.get(organization=organization, pk=ids[key])


def conversations_for(*, organization: Organization, wanted: dict[ConversationKey, UUID | None]
                      ) -> dict[ConversationKey, UUID]:
    """The ids of the conversations of many keys at once, each created once: one SELECT, one INSERT …
    ON CONFLICT DO NOTHING for the missing ones (one created meanwhile by someone else is simply
    found), one SELECT for those. `wanted` maps each key to the agent a new conversation is assigned
    to (the number's agent), or None. Keyed lookups find every conversation of the key, whatever the
    asking member may see (tenants.access): a conversation is one per key."""
    with everything_in(organization):
        return _conversations_for(organization, wanted)


def _conversations_for(organization: Organization, wanted: dict[ConversationKey, UUID | None]
                       ) -> dict[ConversationKey, UUID]:
    found: dict[ConversationKey, UUID] = {}

    def look(keys) -> None:
        rows = (Conversation.objects.filter(organization=organization, contact_id__in={key.contact_id for key in keys})
                .values_list("id", "contact_id", "channel", "phone_number_id", "whatsapp_sender_id"))
        for conversation_id, *parts in rows:
            key = ConversationKey(*parts)
            if key in wanted:
                found[key] = conversation_id

    look(wanted)
    missing = sorted((key for key in wanted if key not in found), key=str)  # one order for every writer
    if missing:
        now = timezone.now()
        Conversation.objects.bulk_create(
            [Conversation(organization=organization, contact_id=key.contact_id, channel=key.channel,
                          phone_number_id=key.phone_number_id, whatsapp_sender_id=key.whatsapp_sender_id,
                          assignee_id=wanted[key], last_message_at=now) for key in missing],
            ignore_conflicts=True)
        look(missing)
    return found


def conversation_touch(*, conversation: Conversation, preview: str, inbound: bool, at=None) -> None:
    """Record new activity with one UPDATE (no read-modify-write, so concurrent messages add up)."""
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


def contact_conversations_changed(sender, *, contact, **kwargs) -> None:
    """A contact's opt-outs or notes changed (crm.signals.contact_changed, connected in
    messaging/apps.py): the composer's verdict and the contact pane of its conversations change, so
    open tabs re-read them."""
    Conversation.objects.filter(organization_id=contact.organization_id, contact=contact).update(
        updated_at=timezone.now())
    inbox_changed(contact.organization_id)


# Merging contacts: a person's two conversations on one line of ours become one ---------------------

# Which of two conversations' statuses the combined one takes: the one that still asks for work.
STATUS_WEIGHT = {ConversationStatus.OPEN: 3, ConversationStatus.PENDING: 2, ConversationStatus.SNOOZED: 1,
                 ConversationStatus.DONE: 0}


def _line(conversation: Conversation) -> tuple:
    # The unique constraints' keys: a number and a channel, or a WhatsApp sender.
    if conversation.phone_number_id is not None:
        return ("number", conversation.channel, conversation.phone_number_id)
    return ("sender", conversation.whatsapp_sender_id)


def contacts_merging_conversations(sender, *, organization, survivor, duplicate, moved, **kwargs) -> None:
    """crm.signals.contacts_merging (connected in messaging/apps.py): where both contacts talk with us
    on the same line, the duplicate's conversation joins the survivor's (its messages, and every other
    row that points at it, move; the counts add up; the labels are joined; the status that still asks
    for work wins) and is removed. The duplicate's other conversations then move with its other rows."""
    ours = {_line(c): c for c in Conversation.objects.select_for_update().filter(organization=organization,
                                                                                   contact=survivor)}
    combined = messages = 0
    for theirs in Conversation.objects.select_for_update().filter(organization=organization, contact=duplicate):
        target = ours.get(_line(theirs))
        if target is None:
            continue
        theirs_later = _later(theirs, target)
        for relation in Conversation._meta.related_objects:
            model, field = relation.related_model, relation.field.name
            count = model._default_manager.filter(organization=organization, **{field: theirs}).update(
                **{field: target})
            if model._meta.label_lower == "messaging.message":
                messages += count
        _combine(target, theirs, theirs_later)
        theirs.delete()
        combined += 1
    if combined:
        moved["conversations combined"] = combined
        moved["messages moved into them"] = messages
    inbox_changed(organization.pk)


def _later(theirs: Conversation, target: Conversation) -> bool:
    """Whether `theirs` was written in last (its latest message is the later one, where the two
    conversations' last_message_at, the time a batch of messages was stored, are the same)."""
    if theirs.last_message_at is None or target.last_message_at is None:
        return target.last_message_at is None
    if theirs.last_message_at != target.last_message_at:
        return theirs.last_message_at > target.last_message_at
    newest = {conversation_id: at for conversation_id, at in Message.objects.filter(
        organization_id=target.organization_id, conversation__in=[theirs, target]).values_list(
        "conversation_id").annotate(at=Max("created_at"))}
    return (newest.get(theirs.pk) or theirs.last_message_at) > (newest.get(target.pk) or target.last_message_at)


def _combine(target: Conversation, theirs: Conversation, theirs_later: bool) -> None:
    if theirs_later:
        target.last_message_at, target.last_message_preview = theirs.last_message_at, theirs.last_message_preview
    if theirs.last_inbound_at and (target.last_inbound_at is None or theirs.last_inbound_at > target.last_inbound_at):
        target.last_inbound_at = theirs.last_inbound_at
    target.unread_count += theirs.unread_count
    target.labels = [*target.labels, *(label for label in theirs.labels if label not in target.labels)]
    if STATUS_WEIGHT.get(theirs.status, 0) > STATUS_WEIGHT.get(target.status, 0):
        target.status, target.snoozed_until = theirs.status, theirs.snoozed_until
    if target.assignee_id is None:
        target.assignee_id = theirs.assignee_id
    target.updated_at = timezone.now()
    target.save()
