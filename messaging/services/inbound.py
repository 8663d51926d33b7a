"""What providers tell us: inbound messages and delivery statuses. Stored once, whatever the
number of times and the order in which they arrive."""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from crm.models import Channel
from messaging.models import (
    STATUS_RANK,
    Direction,
    MediaType,
    Message,
    MessageChannel,
    MessageStatus,
)
from messaging.providers.base import Inbound
from tenants.models import Organization

from .conversations import contact_for, contact_set_opt_out, conversation_for, conversation_touch
from .live import inbox_changed

logger = logging.getLogger(__name__)

OPT_OUT = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}
OPT_IN = {"START", "UNSTOP", "YES"}


def _media_type(content_type: str) -> str:
    kind = (content_type or "").split("/")[0]
    if content_type == "image/webp":
        return MediaType.STICKER
    return {"image": MediaType.IMAGE, "video": MediaType.VIDEO, "audio": MediaType.AUDIO}.get(kind, MediaType.DOCUMENT)


def message_receive(*, organization: Organization, inbound: Inbound, phone_number=None,
                    whatsapp_sender=None) -> tuple[Message, bool]:
    """Store an inbound message once. Returns (message, created). Side effects after commit."""
    with transaction.atomic():
        contact = contact_for(organization=organization, phone=inbound.sender, profile_name=inbound.profile_name,
                              wa_id=inbound.wa_id)
        conversation = conversation_for(organization=organization, contact=contact, channel=inbound.channel,
                                        phone_number=phone_number, whatsapp_sender=whatsapp_sender)
        if inbound.channel == Channel.WHATSAPP:
            message_channel = MessageChannel.WHATSAPP
        else:
            message_channel = MessageChannel.MMS if inbound.media else MessageChannel.SMS
        for item in inbound.media:
            item.setdefault("type", _media_type(item.get("content_type", "")))
        try:
            with transaction.atomic():
                message = Message.objects.create(
                    organization=organization, conversation=conversation, direction=Direction.INBOUND,
                    channel=message_channel, body=inbound.body, media=inbound.media,
                    media_type=inbound.media[0]["type"] if inbound.media else MediaType.NONE,
                    status=MessageStatus.RECEIVED, provider_sid=inbound.provider_sid,
                )
        except IntegrityError:
            # The same MessageSid again (a retry, or a concurrent duplicate): already stored.
            return Message.objects.get(provider_sid=inbound.provider_sid), False
        at = inbound.received_at or timezone.now()
        preview = inbound.body or (f"[{message.media_type}]" if inbound.media else "")
        conversation_touch(conversation=conversation, preview=preview, inbound=True, at=at)
        _keywords(contact, inbound)
        from messaging.tasks import message_analyse

        transaction.on_commit(lambda: enqueue_for(message_analyse, organization, message))
    return message, True


def _keywords(contact, inbound: Inbound) -> None:
    word = inbound.body.strip().upper()
    if word in OPT_OUT and not contact.opted_out(inbound.channel):
        contact_set_opt_out(contact=contact, channel=inbound.channel, opted_out=True, source=word)
    elif word in OPT_IN and contact.opted_out(inbound.channel):
        contact_set_opt_out(contact=contact, channel=inbound.channel, opted_out=False, source=word)


def enqueue_for(task, organization, row) -> None:
    """After commit: a broker outage must not lose the row, which is already stored."""
    try:
        task.delay(organization_id=str(organization.pk), message_id=str(row.pk))
    except Exception as exc:  # kombu raises several kinds; the sweeper catches up once Redis is back
        logger.warning("could not enqueue %s for %s (%s: %s); it will be swept", task.name, row.pk,
                       type(exc).__name__, exc)


def status_update(*, organization: Organization, provider_sid: str, status: str, error_code: str = "",
                  error_message: str = "") -> bool:
    """Move a message's status forward, never back. Unknown sids change nothing. True if changed."""
    if status not in STATUS_RANK:
        return False
    lower = [s for s, rank in STATUS_RANK.items() if rank < STATUS_RANK[status] and s != MessageStatus.RECEIVED]
    fields = {"status": status, "updated_at": timezone.now()}
    if status in (MessageStatus.FAILED, MessageStatus.UNDELIVERED):
        fields["error_code"] = str(error_code or "")
        fields["error_message"] = error_message  # readable: the adapter's words for the code (StatusUpdate)
    if status == MessageStatus.SENT:
        fields["sent_at"] = timezone.now()
    changed = Message.objects.filter(organization=organization, provider_sid=provider_sid,
                                     direction=Direction.OUTBOUND, status__in=lower).update(**fields)
    if changed:
        # Tell the tabs that can show it: the conversation's own and its assignee's.
        found = (Message.objects.filter(organization=organization, provider_sid=provider_sid)
                 .values_list("conversation_id", "conversation__assignee_id").first())
        if found:
            inbox_changed(organization, found[0], assignees=[found[1]])
    return changed > 0
