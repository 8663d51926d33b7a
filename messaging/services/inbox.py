"""What an agent does from the inbox: replies and notes, attachments, canned replies."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from messaging.models import CannedReply, Conversation, Direction, Message, MessageStatus
from tenants.models import Organization
from tenants.services import audit

from .attachments import attachment_discard, attachment_store
from .conversations import conversation_for
from .live import inbox_changed
from .outbound import message_send
from .policy import may_send


def reply_send(*, organization: Organization, actor, conversation: Conversation, body: str, upload=None,
               note: bool = False) -> Message:
    """What the composer sends: a private note, or a reply (perhaps with an attachment) to the
    customer. A refused reply (ValidationError with the reason) is refused before its attachment is
    stored, so it leaves no file behind."""
    if note:
        return note_add(organization=organization, actor=actor, conversation=conversation, body=body)
    verdict = may_send(conversation, has_media=upload is not None)
    if not verdict:
        raise ValidationError(verdict.reason)
    urls = [attachment_store(organization=organization, upload=upload)] if upload else []
    try:
        return message_send(organization=organization, actor=actor, conversation=conversation, body=body,
                            media_urls=urls, media_content_type=upload.content_type if upload else "")
    except BaseException:
        for url in urls:  # refused or failed: the file would belong to no message
            attachment_discard(url)
        raise


def contact_write(*, organization: Organization, actor, contact, channel: str, phone_number=None,
                  whatsapp_sender=None, body: str) -> Conversation:
    """A message to a contact from their page, on one of our lines: their conversation there (created
    the first time) and the message, through the composer's "may we send?". A refused message leaves
    nothing behind, not even the new conversation."""
    with transaction.atomic():
        conversation = conversation_for(organization=organization, contact=contact, channel=channel,
                                        phone_number=phone_number, whatsapp_sender=whatsapp_sender)
        reply_send(organization=organization, actor=actor, conversation=conversation, body=body)
    return conversation


def note_add(*, organization: Organization, actor, conversation: Conversation, body: str) -> Message:
    """A private note in the thread: seen by the team, never sent to the customer."""
    body = (body or "").replace("\r\n", "\n").strip()
    if not body:
        raise ValidationError({"body": "Write the note first."})
    with transaction.atomic():
        note = Message.objects.create(organization=organization, conversation=conversation, direction=Direction.NOTE,
                                      channel=conversation.channel,
                                      body=body, status=MessageStatus.RECEIVED, created_by=actor)
        Conversation.objects.filter(pk=conversation.pk).update(updated_at=timezone.now())
        inbox_changed(organization, conversation)
    return note


def canned_reply_create(*, organization: Organization, actor, shortcut: str, title: str, body: str) -> CannedReply:
    try:
        with transaction.atomic():
            reply = CannedReply.objects.create(organization=organization, shortcut=shortcut.lower(), title=title,
                                               body=body, created_by=actor)
    except IntegrityError:
        raise ValidationError({"shortcut": f"/{shortcut} is already used by another canned reply."}) from None
    audit(organization=organization, actor=actor, verb="canned_reply.created", target=reply)
    return reply


def canned_reply_delete(*, organization: Organization, actor, reply: CannedReply) -> None:
    audit(organization=organization, actor=actor, verb="canned_reply.deleted", target=reply,
          data={"shortcut": reply.shortcut})
    reply.delete()
