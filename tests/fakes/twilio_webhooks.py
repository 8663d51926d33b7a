"""What Twilio POSTs to our messaging webhooks (form parameters, PROVIDERS.md "Twilio webhooks"), and the
`X-Twilio-Signature` that goes with them.

    params = inbound_message(account_sid=SID, to="+15550100000", from_="+16505551234", body="Hi")
    client.post(url, params, HTTP_X_TWILIO_SIGNATURE=signature(url, params, AUTH_TOKEN))

Values are strings, as they arrive in the form. Twilio adds parameters without notice, so receivers
must ignore the ones they do not know.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable

from twilio.request_validator import RequestValidator

from tests.fakes.twilio import _segments

API_VERSION = "2010-04-01"


def inbound_message(*, account_sid: str, to: str, from_: str, body: str, message_sid: str | None = None,
                    media: Iterable[tuple[str, str]] = (), whatsapp: bool = False,
                    profile_name: str | None = None,
                    messaging_service_sid: str | None = None) -> dict[str, str]:
    """An SMS/MMS (or with `whatsapp=True`, a WhatsApp message) sent to our number `to`.

    `media` is `(url, content type)` pairs. For WhatsApp, `to`/`from_` get their `whatsapp:` prefix
    (given or not) and the sender's `WaId`, `MessageType` and `ProfileName` (when given) are added.
    """
    media = list(media)
    sid = message_sid or ("MM" if media else "SM") + uuid.uuid4().hex
    if whatsapp:
        to, from_ = _whatsapp(to), _whatsapp(from_)
    params = {
        "MessageSid": sid,
        "SmsSid": sid,
        "SmsMessageSid": sid,
        "AccountSid": account_sid,
    }
    if messaging_service_sid is not None:
        params["MessagingServiceSid"] = messaging_service_sid
    params.update({
        "From": from_,
        "To": to,
        "Body": body,
        "NumMedia": str(len(media)),
        "NumSegments": "1" if whatsapp or media else str(_segments(body)),
        "SmsStatus": "received",
        "ApiVersion": API_VERSION,
    })
    for index, (url, content_type) in enumerate(media):
        params[f"MediaUrl{index}"] = url
        params[f"MediaContentType{index}"] = content_type
    if whatsapp:
        if profile_name is not None:
            params["ProfileName"] = profile_name
        params["WaId"] = re.sub(r"\D", "", from_)
        params["MessageType"] = _message_type(media[0][1]) if media else "text"
    return params


def status_callback(*, account_sid: str, message_sid: str, status: str, to: str, from_: str,
                    error_code: int | str | None = None) -> dict[str, str]:
    """A status callback for a message we sent (queued, sent, delivered, undelivered, failed, read...);
    `ErrorCode` only when given, as on failed and undelivered messages."""
    params = {
        "MessageSid": message_sid,
        "SmsSid": message_sid,
        "MessageStatus": status,
        "SmsStatus": status,
        "AccountSid": account_sid,
        "From": from_,
        "To": to,
        "ApiVersion": API_VERSION,
    }
    if error_code is not None:
        params["ErrorCode"] = str(error_code)
    return params


def signature(url: str, params: dict, auth_token: str) -> str:
    """`X-Twilio-Signature` for a form POST of `params` to `url` (the full public URL, query included)."""
    return RequestValidator(auth_token).compute_signature(url, params)


def _whatsapp(address: str) -> str:
    return address if address.startswith("whatsapp:") else f"whatsapp:{address}"


def _message_type(content_type: str) -> str:
    kind = content_type.partition("/")[0]
    return kind if kind in ("image", "audio", "video") else "document"
