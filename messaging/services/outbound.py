"""Sending: saved first as `pending`, delivered by a worker after commit, exactly once."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.safe_http import FetchRefused, check_public_https_url
from core.stamps import redis_client
from crm.models import Channel
from messaging import jobs
from messaging.models import Conversation, Direction, MediaType, Message, MessageChannel, MessageStatus
from messaging.providers import for_conversation
from messaging.providers.base import OutboundMedia, ProviderError
from telephony.services.calls import calls_pending_conversation
from telephony.services.webhook_contract import message_status_url
from tenants.models import Organization

from .attachments import hosted_attachment
from .calls import calls_in_conversations
from .conversations import conversation_touch, conversations_wake
from .events import inbound_events_drain, inbound_events_unprocessed
from .live import inbox_changed
from .meaning import embedding_request
from .policy import may_send
from .templates import template_for_sending

logger = logging.getLogger(__name__)

MAX_BODY = 1600  # Twilio's limit for one message body


# The GSM-7 alphabet; the extension characters take two septets each.
GSM_EXTENSION = frozenset("^{}\\[~]|€")
GSM_ALPHABET = frozenset("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà") | GSM_EXTENSION


def segments(body: str) -> int:
    """SMS segments: 160 GSM-7 characters (153 when split), or 70 UCS-2 (67 when split)."""
    if all(ch in GSM_ALPHABET for ch in body):
        length = sum(2 if ch in GSM_EXTENSION else 1 for ch in body)
        single, multi = 160, 153
    else:
        length = len(body.encode("utf-16-le")) // 2
        single, multi = 70, 67
    if length <= single:
        return 1
    return -(-length // multi)


def message_send(*, organization: Organization, actor, conversation: Conversation, body: str = "",
                 media_urls: list[str] | None = None, media_content_type: str = "") -> Message:
    """Queue a message for sending. Refused (ValidationError with the reason) when it may not go."""
    body = (body or "").replace("\r\n", "\n").strip("\n")  # browsers send CRLF; SMS counts each character
    media_urls = [u for u in (media_urls or []) if u]
    if not body and not media_urls:
        raise ValidationError({"body": "Write a message or attach a file."})
    if len(body) > MAX_BODY:
        raise ValidationError({"body": f"A message can be at most {MAX_BODY} characters."})
    verdict = may_send(conversation, has_media=bool(media_urls))
    if not verdict:
        raise ValidationError({"body": verdict.reason}, code=verdict.code)
    for url in media_urls:
        reason = media_url_refusal(url, organization=organization)
        if reason:
            raise ValidationError({"media_urls": reason})
    if conversation.channel == Channel.WHATSAPP:
        channel = MessageChannel.WHATSAPP
    else:
        channel = MessageChannel.MMS if media_urls else MessageChannel.SMS
    with transaction.atomic():
        message = Message.objects.create(
            organization=organization, conversation=conversation, direction=Direction.OUTBOUND, channel=channel,
            body=body, media=[{"url": u, "content_type": media_content_type} if media_content_type else {"url": u}
                              for u in media_urls],
            media_type=_media_type(media_content_type) if media_urls else MediaType.NONE, status=MessageStatus.PENDING,
            num_segments=segments(body) if body else 1, created_by=actor,
        )
        conversation_touch(conversation=conversation, preview=body or "[attachment]", inbound=False)
        jobs.message_deliver(organization.pk, message.pk)
        embedding_request(organization.pk)
    return message


def media_url_refusal(url: str, *, organization: Organization) -> str:
    """Why the provider may not be given this attachment URL, or "" when it may. Allowed: a current
    link to a file the organization uploaded, or an https URL whose name resolves to public internet
    addresses only. Checked when the message is queued and again just before it is sent, since
    what a name resolves to can change in between."""
    if hosted_attachment(url, organization=organization) is not None:
        return ""
    try:
        check_public_https_url(url)
    except FetchRefused as exc:
        return f"{exc} Attachments must be files uploaded here or https:// URLs on the public internet."
    return ""


def _media_type(content_type: str) -> str:
    """What an outbound attachment is; a bare URL (the API) is taken for a picture, as MMS mostly are."""
    kind = (content_type or "image/").split("/")[0]
    return {"image": MediaType.IMAGE, "video": MediaType.VIDEO, "audio": MediaType.AUDIO}.get(kind, MediaType.DOCUMENT)


# Delivery (the worker's side) ------------------------------------------------------------------------


class Paced(Exception):
    """The number is at its sending rate: try again after ``wait`` seconds."""

    def __init__(self, wait: float):
        super().__init__(f"paced for {wait:.2f}s")
        self.wait = wait


def _pace_key(number) -> str:
    return f"{settings.REDIS_KEY_PREFIX}softphone:pace:{number.pk}"


def _take_pace_slot(number, message: Message) -> None:
    """At most `send_rate` segments per second per number, across every worker: a Redis key per
    number that lives as long as the message's segments take to send."""
    interval_ms = max(1, int(1000 * message.num_segments / max(number.send_rate, 0.01)))
    client = redis_client()
    if not client.set(_pace_key(number), str(message.pk), nx=True, px=interval_ms):
        raise Paced(max(client.pttl(_pace_key(number)), 50) / 1000)


def _give_back_pace_slot(number, message: Message) -> None:
    """A send the provider refused used no capacity: free the slot if it is still this message's."""
    client = redis_client()
    if client.get(_pace_key(number)) == str(message.pk).encode():
        client.delete(_pace_key(number))


def message_deliver(*, organization: Organization, message_id) -> str:
    """Send one pending message. Claims it first, so a duplicated or redelivered task never sends
    twice. Returns what happened: sent, skipped, paced, failed; raises ProviderError when a
    transient failure should be retried (the message is back to pending then)."""
    claimed = Message.objects.filter(organization=organization, pk=message_id, status=MessageStatus.PENDING).update(
        status=MessageStatus.SENDING, attempts=F("attempts") + 1, updated_at=timezone.now())
    if claimed != 1:
        return "skipped"
    message = Message.objects.select_related("conversation__contact", "conversation__phone_number__provider_account",
                                             "conversation__whatsapp_sender", "template").get(pk=message_id)
    conversation = message.conversation
    if message.template_values and message.template is None:
        _fail(message, "template", "The template of this message no longer exists here; nothing was sent.")
        return "failed"
    verdict = may_send(conversation, has_media=bool(message.media), template=message.template)
    if not verdict:  # things changed since it was queued (an opt-out arrived, the window closed)
        _fail(message, verdict.code, verdict.reason)
        return "failed"
    for item in message.media:
        reason = media_url_refusal(item.get("url", ""), organization=organization)
        if reason:
            _fail(message, "media", reason)
            return "failed"
    try:
        if conversation.phone_number_id:
            _take_pace_slot(conversation.phone_number, message)
        adapter = for_conversation(conversation)
        sender = (conversation.phone_number.phone_number if conversation.phone_number_id
                  else conversation.whatsapp_sender.display_phone_number)
        template = template_for_sending(message)
        result = adapter.send(sender=sender, to=conversation.contact.phone_number, channel=conversation.channel,
                              body=message.body, status_callback=_status_url(conversation),
                              media=[OutboundMedia(url=m["url"], content_type=m.get("content_type", ""))
                                     for m in message.media],
                              # Only WhatsApp lines know templates: other vendors' adapters never see one.
                              **({"template": template} if template is not None else {}))
    except Paced:
        _release(message)
        raise
    except ProviderError as exc:
        if conversation.phone_number_id:
            _give_back_pace_slot(conversation.phone_number, message)
        if exc.permanent:
            _fail(message, str(exc.code or ""), exc.message)  # the adapter's words, readable
            return "failed"
        _release(message)
        raise
    Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(
        provider_sid=result.sid, status=result.status, num_segments=result.num_segments, updated_at=timezone.now())
    inbox_changed(organization, conversation)
    return "sent"


def _status_url(conversation: Conversation) -> str:
    """Where the number's carrier reports the message's progress (a WhatsApp sender's vendor reports
    to its one webhook, whatever we say)."""
    if not conversation.phone_number_id:
        return ""
    return message_status_url(conversation.phone_number.provider_account.provider)


def _release(message: Message) -> None:
    Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(
        status=MessageStatus.PENDING, updated_at=timezone.now())


def _fail(message: Message, code: str, reason: str) -> None:
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.FAILED, error_code=code[:20],
                                                 error_message=reason, updated_at=timezone.now())
    inbox_changed(message.organization_id, message.conversation_id)


def messages_sweep(*, organization: Organization) -> dict:
    """Nothing stays unsettled: `pending` messages whose task was lost (broker down when they were
    queued) are queued again, and so are inbound events nobody processed and calls not yet shown in
    their conversations; `sending` messages whose worker died mid-send are failed with the reason
    rather than sent a second time."""
    cutoff = timezone.now() - timedelta(seconds=settings.MESSAGE_SWEEP_AFTER_SECONDS)
    stale = Message.objects.filter(organization=organization, direction=Direction.OUTBOUND, updated_at__lt=cutoff)
    requeued = 0
    for message in stale.filter(status=MessageStatus.PENDING).only("pk")[:500]:
        Message.objects.filter(pk=message.pk).update(updated_at=timezone.now())
        jobs.message_deliver(organization.pk, message.pk)
        requeued += 1
    events_requeued = 0
    if inbound_events_unprocessed(organization=organization,
                                  older_than=timedelta(seconds=settings.MESSAGE_SWEEP_AFTER_SECONDS)).exists():
        events_requeued = inbound_events_drain(organization=organization)
    failed = stale.filter(status=MessageStatus.SENDING).update(
        status=MessageStatus.FAILED, error_code="unconfirmed",
        error_message="Sending was interrupted and could not be confirmed; it was not retried so the customer "
                      "does not get it twice. Send it again if needed.",
        updated_at=timezone.now())
    if failed:
        inbox_changed(organization)
    woken = conversations_wake(organization=organization)
    calls_shown = 0
    if calls_pending_conversation(organization=organization,
                                  older_than=timedelta(seconds=settings.MESSAGE_SWEEP_AFTER_SECONDS)).exists():
        calls_shown = calls_in_conversations(organization=organization)
    return {"requeued": requeued, "failed": failed, "events_requeued": events_requeued, "woken": woken,
            "calls_shown": calls_shown}
