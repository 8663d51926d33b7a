"""Calls in the contact's conversation (telephony.signals.call_changed, connected in
messaging/apps.py): telephony cannot call messaging, so it says when a call changed, and here the
call joins the conversation of its contact on its number, the one its messages are in.

- The conversation is created the first time (a caller who never texted still has one).
- It moves up the inbox when the call starts and again when it ends, with the call as its preview.
- A missed call or a voicemail counts as unread once and reopens a finished conversation, as a
  customer's message does; a later change of the same call (its voicemail's recording arriving)
  updates the preview without counting again.
- Open tabs are told, so the live inbox shows the call appear and change (selectors.inbox_changes).
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from crm.models import Channel
from messaging import jobs
from messaging.models import Conversation, ConversationStatus
from telephony.models import Call
from telephony.presentation import call_kind, call_outcome, duration_text

from .conversations import conversation_for
from .live import inbox_changed

logger = logging.getLogger(__name__)


def call_preview(call: Call) -> str:
    """The inbox row's line for a call: "Missed call", "Voicemail (0:42)", "Incoming call, 3:12",
    "Outgoing call: no answer"."""
    if call.voicemail or call.missed:
        return call_outcome(call) if call.voicemail else "Missed call"
    kind = call_kind(call)
    if not call.ended:
        return kind
    if call.status == "completed":
        length = duration_text(call.duration)
        return f"{kind}, {length}" if length else kind
    return f"{kind}: {call_outcome(call).lower()}"


def call_changed_in_conversation(sender=None, *, call: Call, created: bool = False, **kwargs) -> None:
    """The receiver: it asks a worker (queue `interactive`) to show the call in its conversation.
    The signal is sent on the path of Twilio's webhook, where the caller hears silence until we
    answer: the conversation's queries do not belong there (they took 40 % of the inbound webhook's
    time), and a call never fails because its conversation could not be updated."""
    jobs.call_in_conversation(call.organization_id, call.pk)


@transaction.atomic
def conversation_take_call(*, call: Call) -> Conversation | None:
    """Show `call` in its contact's conversation on its number; None for a call with no contact
    (an anonymous caller) or no number of ours."""
    if call.contact_id is None or call.phone_number_id is None:
        return None
    conversation = conversation_for(organization=call.organization, contact=call.contact, channel=Channel.SMS,
                                    phone_number=call.phone_number)
    at = call.ended_at if call.ended and call.ended_at else call.created_at
    now = timezone.now()
    preview = call_preview(call)
    this = Conversation.objects.filter(organization_id=call.organization_id, pk=conversation.pk)
    newer = Q(last_message_at__isnull=True) | Q(last_message_at__lt=at)
    if call.missed:
        this.filter(newer, status__in=[ConversationStatus.DONE, ConversationStatus.SNOOZED]).update(
            status=ConversationStatus.OPEN, snoozed_until=None)
    fresh = {"last_message_at": at, "last_message_preview": preview[:200], "updated_at": now}
    if call.missed:
        fresh["unread_count"] = F("unread_count") + 1
    if not this.filter(newer).update(**fresh):
        # The same moment of the call again, or older than what the conversation shows: the
        # preview follows the call only while it is the latest thing there.
        this.filter(Q(last_message_at=at) | Q(last_message_preview="")).update(last_message_preview=preview[:200])
        this.update(updated_at=now)
    inbox_changed(call.organization_id, conversation)
    return conversation
