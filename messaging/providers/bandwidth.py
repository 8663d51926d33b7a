"""Bandwidth's Messaging API v2 (contracts/bandwidth/messaging.yml): SMS and MMS out, and the
messaging application's callbacks in.

Bandwidth posts a JSON array of events (`message-received`, `message-sending`, `message-delivered`,
`message-failed`), at least once, retried for a day, with the callback credentials we set on the
application as HTTP Basic authentication: the user is the Bandwidth account id (so the callback names
its account before anything is read), the password the long random one we generated and keep
encrypted. What we rely on, with its sources, is in docs/providers.md.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Mapping, Sequence
from datetime import datetime

from django.conf import settings

from core.safe_http import Fetched, FetchRefused, origin_of
from core.vendor_http import VendorHttp, segment
from crm.models import Channel
from telephony.providers.bandwidth import BandwidthCredentials

from .base import (
    NUMBERS,
    BadWebhook,
    Inbound,
    LineKey,
    MediaRequest,
    MessagingProvider,
    OutboundMedia,
    ProviderError,
    SendResult,
    StatusUpdate,
    TemplateSend,
    Unauthenticated,
    WebhookRequest,
    event_id,
    fetch_media,
)

# Where the callback's account (its Basic user) is kept with each event we store.
ACCOUNT_KEY = "_account"
EVENTS_LARGEST = 100  # events in one callback (Bandwidth batches a handful)
STATUSES = {"message-sending": "sending", "message-delivered": "delivered", "message-failed": "failed"}

# message-failed's errorCode (Bandwidth, "Messaging error codes"), in words an agent can act on.
READABLE_ERRORS = {
    "4301": "The message's text could not be encoded for the recipient's carrier.",
    "4350": "The recipient's number is not valid.",
    "4360": "The message expired before the recipient's carrier took it.",
    "4401": "The recipient's carrier does not take this kind of attachment.",
    "4403": "This number may not send messages (not enabled for messaging at Bandwidth).",
    "4404": "The recipient's number may not receive messages.",
    "4405": "This number is not allocated to the Bandwidth account.",
    "4406": "The recipient's number is not allocated to any carrier.",
    "4410": "Bandwidth could not download the attachment.",
    "4411": "The message is too large for the recipient's carrier.",
    "4420": "There is no route to the recipient's carrier.",
    "4470": "Bandwidth rejected the message as spam.",
    "4481": "This number is blocked from sending.",
    "4720": "The recipient's carrier does not exist.",
    "4750": "The recipient's carrier rejected the message.",
    "4770": "The recipient's carrier rejected the message as spam.",
    "4775": "The recipient opted out (replied STOP) and cannot be messaged until they opt back in.",
    "5600": "The recipient's carrier had a problem delivering the message.",
    "9902": "The recipient's carrier sent no delivery receipt in time; the message may not have arrived.",
}


def basic_user(headers: Mapping[str, str]) -> tuple[str, str] | None:
    """(user, password) of an HTTP Basic Authorization header, or None."""
    scheme, _, encoded = (headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return (user, password) if sep else None


def _message(event: Mapping) -> Mapping:
    message = event.get("message")
    return message if isinstance(message, dict) else {}


class BandwidthMessaging(MessagingProvider):
    name = "bandwidth"
    lines = NUMBERS
    readable_errors = READABLE_ERRORS

    def __init__(self, *, account_id: str, client_id: str, client_secret: str, application_id: str):
        self.account_id = account_id
        self.application_id = application_id
        self.credentials = BandwidthCredentials(client_id, client_secret)
        self.http = VendorHttp(settings.BANDWIDTH_MESSAGING_BASE_URL, label="Bandwidth",
                               timeout=settings.BANDWIDTH_HTTP_TIMEOUT, retries=settings.BANDWIDTH_RETRIES_ON_429)

    @classmethod
    def for_conversation(cls, conversation) -> BandwidthMessaging:
        account = conversation.phone_number.provider_account
        return cls(account_id=account.account_sid, client_id=account.api_username,
                   client_secret=account.auth_token or "", application_id=account.application_id)

    # Webhooks --------------------------------------------------------------------------------------

    @classmethod
    def callback_events(cls, request: WebhookRequest) -> list[Mapping]:
        try:
            payload = json.loads(request.body)
        except (ValueError, RecursionError):
            raise BadWebhook("Not a Bandwidth callback: the body is not JSON.") from None
        if isinstance(payload, dict):
            payload = [payload]
        if not isinstance(payload, list) or not payload or len(payload) > EVENTS_LARGEST:
            raise BadWebhook("Not a Bandwidth callback: the body is not a list of events.")
        if not all(isinstance(event, dict) for event in payload):
            raise BadWebhook("Not a Bandwidth callback: an event is not an object.")
        credentials = basic_user(request.headers)
        if credentials is None:
            # Asked for, as HTTP Basic does: the application's callback credentials come with the retry.
            raise Unauthenticated("Bandwidth's callbacks carry the application's callback credentials.")
        return [{**event, ACCOUNT_KEY: credentials[0]} for event in payload]

    @classmethod
    def callback_kind(cls, event: Mapping, route: str) -> str:
        return "message" if event.get("type") == "message-received" else "status"

    @classmethod
    def webhook_verified(cls, request: WebhookRequest, secret: str, *, method: str = "") -> bool:
        credentials = basic_user(request.headers)
        if not secret or credentials is None:
            return False
        return hmac.compare_digest(credentials[1].encode("utf-8", "surrogateescape"), secret.encode())

    @classmethod
    def inbound_line(cls, form: Mapping) -> LineKey:
        message = _message(form)
        to = form.get("to") or next(iter(message.get("to") or []), "")
        return LineKey(str(form.get(ACCOUNT_KEY, "")), (str(to),))

    @classmethod
    def status_line(cls, form: Mapping) -> LineKey:
        # Events about messages we sent: our number is the message's `from`.
        return LineKey(str(form.get(ACCOUNT_KEY, "")), (str(_message(form).get("from", "")),))

    @classmethod
    def inbound_event_id(cls, form: Mapping) -> str:
        return event_id(_message(form).get("id"), field="The event's message.id", vendor="Bandwidth")

    @staticmethod
    def inbound_message(payload: dict) -> Inbound:
        message = _message(payload)
        media = [{"url": url, "content_type": ""} for url in message.get("media") or [] if isinstance(url, str)][:10]
        received = None
        try:
            received = datetime.fromisoformat(str(message.get("time") or payload.get("time") or ""))
        except ValueError:
            pass
        return Inbound(provider_sid=str(message.get("id") or ""), sender=str(message.get("from") or ""),
                       body=str(message.get("text") or ""), channel=Channel.SMS, media=media, received_at=received)

    @classmethod
    def status_update(cls, form: Mapping) -> StatusUpdate:
        status = STATUSES.get(str(form.get("type", "")), "")
        code = str(form.get("errorCode") or "") if status == "failed" else ""
        reason = cls.readable_error(code, str(form.get("description") or "")) if code else ""
        return StatusUpdate(provider_sid=str(_message(form).get("id") or ""), status=status, error_code=code,
                            error_message=reason)

    # Sending and media -------------------------------------------------------------------------------

    def send(self, *, sender: str, to: str, channel: str, body: str, media: Sequence[OutboundMedia],
             status_callback: str, template: TemplateSend | None = None) -> SendResult:
        if channel != Channel.SMS or template is not None:
            raise ProviderError("Bandwidth numbers send SMS and MMS only.", permanent=True)
        request = {"applicationId": self.application_id, "to": [to], "from": sender}
        if body:
            request["text"] = body
        if media:
            request["media"] = [item.url for item in media]
        # The application's status URL receives this message's progress (Bandwidth takes no per-message URL).
        response = self.credentials.request(self.http, "POST", f"/users/{segment(self.account_id)}/messages",
                                            json=request)
        if response.status_code != 202:
            raise self._send_error(response)
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if not isinstance(answer, dict) or not answer.get("id"):
            raise ProviderError("Bandwidth's answer could not be read; the message may not have been sent.",
                                permanent=False)
        return SendResult(sid=str(answer["id"]), status="queued", num_segments=int(answer.get("segmentCount") or 1))

    @staticmethod
    def _send_error(response) -> ProviderError:
        try:
            body = response.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        description = str(body.get("description") or "")
        fields = [f"{e.get('fieldName')}: {e.get('description')}" for e in body.get("fieldErrors") or []
                  if isinstance(e, dict)]
        status = response.status_code
        if status in (401, 403):
            readable = "Bandwidth rejected the account's API credential for messaging (its Messaging role?)."
        elif status == 429:
            readable = "Bandwidth is rate limiting this account's messages; it will be tried again."
        else:
            readable = "Bandwidth refused the message" + (f": {description}" if description else "") + (
                f" ({'; '.join(fields)})" if fields else "") + "."
        return ProviderError(readable[:500], permanent=status < 500 and status != 429, code=status)

    def media_fetch(self, item: dict) -> Fetched:
        return fetch_media(self._media_request(item.get("url", "")))

    def _media_request(self, url) -> MediaRequest:
        """The account's credentials go only to Bandwidth's configured messaging host, and only for
        this account's own media; any other URL is refused (ProviderError) rather than fetched."""
        base = settings.BANDWIDTH_MESSAGING_BASE_URL.rstrip("/")
        url = url if isinstance(url, str) else ""
        prefix = f"{base}/users/{segment(self.account_id)}/media/"
        try:
            trusted = origin_of(base)
            same_origin = origin_of(url) == trusted
        except FetchRefused:
            same_origin = False
        if not same_origin or not url.startswith(prefix) or ".." in url[len(prefix):]:
            raise ProviderError("This attachment is not one of the account's media at Bandwidth.", permanent=True)
        return MediaRequest(url=url, trusted_origins=frozenset({trusted}),
                            credentials={"Authorization": f"Bearer {self.credentials.token()}"})
