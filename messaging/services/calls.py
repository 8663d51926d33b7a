"""Calls in the contact's conversation (telephony.signals.call_changed, connected in
messaging/apps.py): telephony cannot call messaging, so it says when a call changed, and here the
call joins the conversation of its contact on its number, the one its messages are in.

- The conversation is created the first time (a caller who never texted still has one).
- It moves up the inbox when the call starts and again when it ends, with the call as its preview.
- A missed call or a voicemail counts as unread once and reopens a finished conversation, as a
  customer's message does; a later change of the same call (its voicemail's recording arriving)
  updates the preview without counting again.
- Open tabs are told, so the live inbox shows the call appear and change (selectors.inbox_changes).

A call reaches its conversation by one of two roads. A change of a call (telephony's call_changed)
queues one task for it. A new inbound call, whose webhook has one round trip to spend, queues
nothing of its own: it is stored as pending (Call.conversation_pending) and, when no worker has been
asked yet (telephony's calls_waiting), one task is asked for, which shows every pending call of the
organization (`calls_in_conversations`). Calls left pending by a lost task are shown by the messages
sweep. Either road marks the call shown.
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
from telephony.services.calls import call_drain_spent, calls_pending_conversation

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


def calls_waiting_in_conversation(sender=None, *, organization_id, **kwargs) -> None:
    """The receiver of calls_waiting: one task shows every pending call of the organization."""
    jobs.calls_in_conversations(organization_id)


CALLS_BATCH = 200


def calls_in_conversations(*, organization) -> int:
    """Show every call of the organization still pending in its conversation, oldest first; how many.

    The request this worker was asked with (CallDrain) is marked spent before the last look, so a call
    stored meanwhile is either seen by that look or asks for another worker. A call whose
    conversation cannot be updated fails alone: it is logged with its reason and no longer pending
    (it stays in the call log; its next change shows it again), and the others go on."""
    done = 0
    cleared = False
    while True:
        batch = list(calls_pending_conversation(organization=organization)
                     .select_related("organization", "contact", "phone_number")[:CALLS_BATCH])
        for call in batch:
            try:
                conversation_take_call(call=call)
            except Exception:
                logger.exception("call %s could not be shown in its conversation", call.pk)
                Call.objects.filter(organization=organization, pk=call.pk).update(conversation_pending=False)
        done += len(batch)
        if len(batch) == CALLS_BATCH:
            continue
        if cleared:
            return done
        call_drain_spent(organization=organization)
        cleared = True  # look once more: a call may have come in while the request still stood


@transaction.atomic
def conversation_take_call(*, call: Call) -> Conversation | None:
    """Show `call` in its contact's conversation on its number; None for a call with no contact
    (an anonymous caller) or no number of ours. Either way the call is no longer pending."""
    if call.conversation_pending:
        Call.objects.filter(organization_id=call.organization_id, pk=call.pk).update(conversation_pending=False)
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
