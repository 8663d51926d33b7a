"""WhatsApp Cloud API (Meta's Graph API, at WHATSAPP_GRAPH_BASE_URL / WHATSAPP_GRAPH_VERSION) and its webhook."""

from __future__ import annotations

import hashlib
import hmac
import mimetypes
from collections.abc import Iterator, Mapping, Sequence
from urllib.parse import unquote, urlsplit

import requests
from django.conf import settings

from core.safe_http import Fetched, FetchRefused, origin_of
from crm.models import Channel

from .base import (
    WHATSAPP_SENDERS,
    BadWebhook,
    Inbound,
    MediaRequest,
    MessagingProvider,
    Notification,
    OutboundMedia,
    ProviderError,
    SendResult,
    StatusUpdate,
    WebhookRequest,
    fetch_media,
)

MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")
# Meta's transient errors: temporary unavailability and throttling.
TRANSIENT_CODES = {1, 2, 4, 80007, 130429, 131000, 131016, 133004}
# Graph's "no such object" (an unknown or expired media id, among others).
NO_SUCH_OBJECT = 100
# Meta's message statuses that mean something to us, as ours.
STATUSES = {"sent": "sent", "delivered": "delivered", "read": "read", "failed": "failed"}

READABLE_ERRORS = {
    "131026": "WhatsApp could not deliver the message to this recipient.",
    "131047": "WhatsApp allows only approved templates more than 24 hours after the customer's last message.",
}


class WhatsAppCloud(MessagingProvider):
    name = "whatsapp_cloud"
    lines = WHATSAPP_SENDERS
    readable_errors = READABLE_ERRORS

    def __init__(self, *, phone_number_id: str, access_token: str):
        self.phone_number_id = phone_number_id
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {access_token}"})
        self._access_token = access_token
        self.base = f"{settings.WHATSAPP_GRAPH_BASE_URL.rstrip('/')}/{settings.WHATSAPP_GRAPH_VERSION}"

    @classmethod
    def for_conversation(cls, conversation) -> WhatsAppCloud:
        sender = conversation.whatsapp_sender
        return cls(phone_number_id=sender.phone_number_id, access_token=sender.access_token or "")

    # Webhooks --------------------------------------------------------------------------------------

    @classmethod
    def subscription(cls, query: Mapping[str, str]) -> tuple[str, str] | None:
        if query.get("hub.mode") != "subscribe":
            return None
        return query.get("hub.verify_token") or "", query.get("hub.challenge", "")

    @classmethod
    def webhook_verified(cls, request: WebhookRequest, secret: str) -> bool:
        """X-Hub-Signature-256: HMAC-SHA256 of the body as sent, with the app's secret."""
        if not secret:
            return False
        # Compared as bytes: compare_digest refuses str with non-ASCII characters, which a header may carry.
        given = request.headers.get("X-Hub-Signature-256", "").encode("utf-8", "surrogateescape")
        expected = b"sha256=" + hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest().encode()
        return hmac.compare_digest(given, expected)

    @classmethod
    def webhook_lines(cls, payload) -> set[str]:
        try:
            return {change["value"]["metadata"]["phone_number_id"]
                    for entry in payload.get("entry", []) for change in entry.get("changes", [])}
        except (KeyError, TypeError, AttributeError):
            raise BadWebhook("Not a WhatsApp webhook payload.") from None

    @classmethod
    def webhook_notifications(cls, payload) -> Iterator[Notification]:
        for entry in payload.get("entry", []):
            for change in entry.get("changes", []):
                value = change.get("value", {})
                yield Notification(line=value["metadata"]["phone_number_id"], messages=_messages(value),
                                   statuses=[cls._status(status) for status in value.get("statuses", [])])

    @classmethod
    def _status(cls, status: dict) -> StatusUpdate:
        error = (status.get("errors") or [{}])[0]
        code = str(error.get("code", "") or "")
        details = (error.get("error_data") or {}).get("details", "") or error.get("title", "")
        return StatusUpdate(provider_sid=status.get("id", ""), status=STATUSES.get(status.get("status", ""), ""),
                            error_code=code, error_message=cls.readable_error(code, details) if code else details)

    # Sending and media -------------------------------------------------------------------------------

    def _post(self, path: str, payload: dict) -> dict:
        try:
            response = self.session.post(self.base + path, json=payload, timeout=settings.WHATSAPP_HTTP_TIMEOUT)
        except requests.RequestException:
            raise ProviderError("WhatsApp could not be reached; try again shortly.", permanent=False) from None
        if response.status_code >= 400:
            raise _error(response)
        return response.json()

    def send(self, *, sender: str, to: str, channel: str, body: str, media: Sequence[OutboundMedia],
             status_callback: str) -> SendResult:
        """One message per send: the first attachment, with the body as its caption where Meta takes
        one (Meta reports statuses to the app's webhook, not to a callback per message)."""
        recipient = to.lstrip("+")
        if media:
            kind = media_kind(media[0])
            content = {"link": media[0].url}
            if kind == "document":
                content["filename"] = _filename(media[0])
            if body and kind in ("image", "video", "document"):
                content["caption"] = body
            payload = {"messaging_product": "whatsapp", "to": recipient, "type": kind, kind: content}
        else:
            payload = {"messaging_product": "whatsapp", "to": recipient, "type": "text", "text": {"body": body}}
        answer = self._post(f"/{self.phone_number_id}/messages", payload)
        return SendResult(sid=answer["messages"][0]["id"], status="queued")

    def media_fetch(self, item: dict) -> Fetched:
        if not item.get("media_id"):
            raise ProviderError("No such attachment.", permanent=True, gone=True)
        return fetch_media(self._media_request(item["media_id"]))

    def _media_url(self, media_id: str) -> str:
        """Where to download an inbound media item (Graph gives a short-lived address)."""
        try:
            response = self.session.get(f"{self.base}/{media_id}", timeout=settings.WHATSAPP_HTTP_TIMEOUT)
        except requests.RequestException:
            raise ProviderError("The attachment could not be fetched from the provider.", permanent=False) from None
        if response.status_code >= 400:
            error = _error(response)
            if error.gone or error.code == NO_SUCH_OBJECT:
                raise ProviderError("The provider no longer has this attachment.", permanent=True, gone=True,
                                    code=error.code)
            raise ProviderError("The attachment could not be fetched from the provider.", permanent=error.permanent,
                                code=error.code)
        try:
            return response.json().get("url")
        except (ValueError, AttributeError):
            raise ProviderError("The attachment could not be fetched from the provider.", permanent=False) from None

    def _media_request(self, media_id: str) -> MediaRequest:
        """How to download an inbound media item: the token goes only to the Graph API's configured
        host and Meta's media hosts (WHATSAPP_MEDIA_ORIGINS); a download URL anywhere else is refused."""
        url = self._media_url(media_id)
        origins = frozenset({origin_of(settings.WHATSAPP_GRAPH_BASE_URL)}
                            | {origin_of(o) for o in settings.WHATSAPP_MEDIA_ORIGINS})
        try:
            known = isinstance(url, str) and origin_of(url) in origins
        except FetchRefused:
            known = False
        if not known:
            raise ProviderError("WhatsApp gave a media address outside its own hosts.", permanent=True)
        return MediaRequest(url=url, trusted_origins=origins,
                            credentials={"Authorization": f"Bearer {self._access_token}"})


def _messages(value: dict) -> list[Inbound]:
    """The customers' messages of one change, as ours."""
    profiles = {c.get("wa_id"): (c.get("profile") or {}).get("name", "") for c in value.get("contacts", [])}
    found = []
    for item in value.get("messages", []):
        sender_id = item.get("from")
        if not sender_id:
            continue  # username-only users: no number to answer (logged, nothing stored)
        kind = item.get("type", "text")
        body, media = "", []
        if kind == "text":
            body = (item.get("text") or {}).get("body", "")
        elif kind in MEDIA_TYPES:
            part = item.get(kind) or {}
            body = part.get("caption", "")
            media = [{"media_id": part.get("id", ""), "content_type": part.get("mime_type", ""), "type": kind,
                      "caption": part.get("caption", "")}]
        elif kind == "button":
            body = (item.get("button") or {}).get("text", "")
        elif kind == "interactive":
            reply = (item.get("interactive") or {})
            body = (reply.get("button_reply") or reply.get("list_reply") or {}).get("title", "")
        elif kind == "location":
            loc = item.get("location") or {}
            body = f"Location: {loc.get('latitude')}, {loc.get('longitude')} {loc.get('name', '')}".strip()
        else:
            body = f"[{kind} message]"
        found.append(Inbound(provider_sid=item["id"], sender="+" + sender_id, body=body, channel=Channel.WHATSAPP,
                             media=media, profile_name=profiles.get(sender_id, ""), wa_id=sender_id))
    return found


def media_kind(item: OutboundMedia) -> str:
    """What Meta is to send a file as: an image, a video or an audio by its type, anything else a
    document. A URL given without a type is read by its extension, and taken for a picture when it
    has none (as MMS mostly are)."""
    content_type = item.content_type or mimetypes.guess_type(urlsplit(item.url).path)[0] or "image/"
    major = content_type.split("/")[0].strip().lower()
    return major if major in ("image", "video", "audio") else "document"


def _filename(item: OutboundMedia) -> str:
    """The name a document arrives under: the URL's own file name when it has a known extension,
    else "attachment" with the extension of its type (our upload links name no file)."""
    name = unquote(urlsplit(item.url).path.rsplit("/", 1)[-1])
    if name and mimetypes.guess_type(name)[0]:
        return name
    content_type = item.content_type.split(";")[0].strip().lower()
    extension = mimetypes.guess_extension(content_type) if content_type else None
    return "attachment" + (extension or "")


def _error(response: requests.Response) -> ProviderError:
    try:
        error = response.json().get("error", {})
    except ValueError:
        error = {}
    code = error.get("code")
    details = (error.get("error_data") or {}).get("details") or error.get("message") or response.reason
    permanent = response.status_code < 500 and code not in TRANSIENT_CODES
    return ProviderError(WhatsAppCloud.readable_error(code, f"WhatsApp: {details}"), permanent=permanent, code=code,
                         gone=response.status_code in (404, 410))
