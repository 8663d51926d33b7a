"""What Meta POSTs to our WhatsApp webhook, built in Meta's envelope (PROVIDERS.md), and its signature.

    payload = inbound_text(phone_number_id=PHONE_NUMBER_ID, display_phone_number="15550783881",
                           from_wa_id="16505551234", body="Hi!")
    raw = encode(payload)
    client.post(url, raw, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=sign(raw, APP_SECRET))

Timestamps are strings of unix seconds, as Meta sends them. Sign the exact bytes you post: `encode`
serialises as Meta does (compact, non-ASCII as lowercase `\\uXXXX`, `/` as `\\/`), so a receiver that
re-serialises the JSON before checking the signature fails, as it would in production.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any

from softphone.simulator.whatsapp import new_wamid

WABA_ID = "102290129340398"  # the WhatsApp Business Account id, `entry[].id`
STATUSES = ("sent", "delivered", "read", "failed")
MEDIA_TYPES = ("audio", "document", "image", "sticker", "video")


def inbound_text(*, phone_number_id: str, display_phone_number: str, from_wa_id: str, body: str,
                 profile_name: str = "Test Customer", wamid: str | None = None,
                 timestamp: int | str | None = None, waba_id: str = WABA_ID) -> dict:
    """A customer's text message to our number."""
    message = _message(from_wa_id, wamid, timestamp, "text")
    message["text"] = {"body": body}
    return _messages_envelope(waba_id, phone_number_id, display_phone_number, from_wa_id, profile_name,
                              message)


def inbound_media(*, phone_number_id: str, display_phone_number: str, from_wa_id: str, media_type: str,
                  media_id: str, mime_type: str, caption: str | None = None, filename: str | None = None,
                  sha256: str | None = None, profile_name: str = "Test Customer", wamid: str | None = None,
                  timestamp: int | str | None = None, waba_id: str = WABA_ID) -> dict:
    """A customer's image, audio, video, document or sticker. Fetch the bytes from `FakeWhatsApp` after
    `add_media(media_id, ...)`; `sha256` defaults to a placeholder, pass the content's hash to match."""
    if media_type not in MEDIA_TYPES:
        raise ValueError(f"media_type must be one of {MEDIA_TYPES}, not {media_type!r}")
    media: dict[str, Any] = {}
    if caption is not None:
        media["caption"] = caption
    if filename is not None:
        media["filename"] = filename
    media.update(mime_type=mime_type, sha256=sha256 or hashlib.sha256(media_id.encode()).hexdigest(),
                 id=media_id)
    message = _message(from_wa_id, wamid, timestamp, media_type)
    message[media_type] = media
    return _messages_envelope(waba_id, phone_number_id, display_phone_number, from_wa_id, profile_name,
                              message)


def status_update(*, phone_number_id: str, display_phone_number: str, wamid: str, status: str,
                  recipient_id: str, timestamp: int | str | None = None, errors: list[dict] | None = None,
                  category: str = "service", waba_id: str = WABA_ID) -> dict:
    """What happened to a message we sent: `sent` and `delivered` carry `conversation` and `pricing`
    (`category`: service, utility, marketing, authentication); `read` carries neither; `failed` carries
    `errors` (build them with `status_error`) and is refused without."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, not {status!r}")
    if (status == "failed") != bool(errors):
        raise ValueError("errors go with a failed status, and a failed status needs errors")
    stamp = _timestamp(timestamp)
    update: dict[str, Any] = {"id": wamid, "status": status, "timestamp": stamp, "recipient_id": recipient_id}
    if status in ("sent", "delivered"):
        conversation: dict[str, Any] = {"id": uuid.uuid5(uuid.NAMESPACE_URL, wamid).hex}
        if status == "sent":
            conversation["expiration_timestamp"] = str(int(stamp) + 24 * 60 * 60)
        conversation["origin"] = {"type": category}
        update["conversation"] = conversation
        update["pricing"] = {"billable": True, "pricing_model": "CBP", "category": category}
    if errors:
        update["errors"] = [dict(error) for error in errors]
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": display_phone_number, "phone_number_id": phone_number_id},
        "statuses": [update],
    }
    return _envelope(waba_id, value)


def status_error(code: int, title: str, details: str, message: str | None = None) -> dict:
    """One entry of a failed status's `errors`; Meta's `message` usually repeats the title.

    status_error(131047, "Re-engagement message", "Message failed to send because more than 24 hours "
                 "have passed since the customer last replied to this number.")
    """
    return {"code": code, "title": title, "message": message or title, "error_data": {"details": details}}


def encode(payload: dict) -> bytes:
    """The bytes Meta would POST for `payload`: compact JSON, non-ASCII as `\\uXXXX`, `/` as `\\/`."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/").encode()


def sign(body: bytes, app_secret: str) -> str:
    """The `X-Hub-Signature-256` header Meta sends with `body`: `sha256=<hex HMAC-SHA256>`."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def _message(from_wa_id: str, wamid: str | None, timestamp: int | str | None, message_type: str) -> dict:
    return {"from": from_wa_id, "id": wamid or new_wamid(from_wa_id), "timestamp": _timestamp(timestamp),
            "type": message_type}


def _messages_envelope(waba_id: str, phone_number_id: str, display_phone_number: str, wa_id: str,
                       profile_name: str, message: dict) -> dict:
    return _envelope(waba_id, {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": display_phone_number, "phone_number_id": phone_number_id},
        "contacts": [{"profile": {"name": profile_name}, "wa_id": wa_id}],
        "messages": [message],
    })


def _envelope(waba_id: str, value: dict) -> dict:
    return {"object": "whatsapp_business_account",
            "entry": [{"id": waba_id, "changes": [{"value": value, "field": "messages"}]}]}


def _timestamp(timestamp: int | str | None) -> str:
    return str(int(time.time()) if timestamp is None else int(timestamp))
