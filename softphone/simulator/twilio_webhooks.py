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

from softphone.simulator.twilio import _segments

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


# Voice (PROVIDERS.md "Incoming call", "Call status callback", "Ring timeout", "Voicemail") ---------


def incoming_call(*, account_sid: str, to: str, from_: str, call_sid: str | None = None) -> dict[str, str]:
    """A customer's call to our number `to` (the number's voice URL)."""
    return {"CallSid": call_sid or "CA" + uuid.uuid4().hex, "AccountSid": account_sid, "From": from_, "To": to,
            "Caller": from_, "Called": to, "CallStatus": "ringing", "Direction": "inbound",
            "ApiVersion": API_VERSION, "CallerName": "", "FromCountry": "US", "ToCountry": "US"}


def browser_call(*, account_sid: str, identity: str, to: str, from_number: str | None = None,
                 call_sid: str | None = None, application_sid: str = "AP" + "0" * 32) -> dict[str, str]:
    """A browser softphone's outgoing call (the TwiML App's voice URL): `From=client:<identity>` and
    the parameters the page passed to `device.connect()` (To, FromNumber)."""
    params = {"CallSid": call_sid or "CA" + uuid.uuid4().hex, "AccountSid": account_sid, "ApplicationSid": application_sid,
              "From": f"client:{identity}", "Caller": f"client:{identity}", "To": to, "Called": "",
              "CallStatus": "ringing", "Direction": "inbound", "ApiVersion": API_VERSION}
    if from_number is not None:
        params["FromNumber"] = from_number
    return params


def call_status(*, account_sid: str, call_sid: str, status: str, from_: str, to: str, parent_call_sid: str = "",
                sequence: int | None = None, duration: int | None = None) -> dict[str, str]:
    """A call status callback of one leg (the child legs of a <Dial> carry ParentCallSid)."""
    params = {"CallSid": call_sid, "AccountSid": account_sid, "CallStatus": status, "From": from_, "To": to,
              "Direction": "outbound-dial" if parent_call_sid else "inbound", "ApiVersion": API_VERSION,
              "Timestamp": "Thu, 30 Jul 2015 23:19:04 +0000", "CallbackSource": "call-progress-events"}
    if parent_call_sid:
        params["ParentCallSid"] = parent_call_sid
    if sequence is not None:
        params["SequenceNumber"] = str(sequence)
    if duration is not None:
        params["CallDuration"] = str(duration)
    return params


def dial_action(*, account_sid: str, call_sid: str, dial_status: str, from_: str, to: str,
                dial_call_sid: str = "", duration: int | None = None) -> dict[str, str]:
    """What a <Dial>'s action URL receives when the dial ends."""
    params = {"CallSid": call_sid, "AccountSid": account_sid, "From": from_, "To": to, "CallStatus": "in-progress",
              "DialCallStatus": dial_status, "ApiVersion": API_VERSION}
    if dial_call_sid:
        params["DialCallSid"] = dial_call_sid
    if duration is not None:
        params["DialCallDuration"] = str(duration)
    return params


def recording(*, account_sid: str, call_sid: str, recording_sid: str | None = None, duration: int = 12,
              status: str = "completed", action: bool = False) -> dict[str, str]:
    """A <Record>'s action (`action=True`) or its recording status callback."""
    sid = recording_sid or "RE" + uuid.uuid4().hex
    url = f"https://api.twilio.com/{API_VERSION}/Accounts/{account_sid}/Recordings/{sid}"
    params = {"CallSid": call_sid, "AccountSid": account_sid, "RecordingSid": sid, "RecordingUrl": url,
              "RecordingDuration": str(duration)}
    if action:
        params.update({"Digits": "hangup", "CallStatus": "completed"})
    else:
        params.update({"RecordingStatus": status, "RecordingChannels": "1", "RecordingSource": "RecordVerb"})
    return params


def conference_event(*, account_sid: str, conference_sid: str, name: str, event: str, call_sid: str = "",
                     hold: bool = False) -> dict[str, str]:
    """A conference's status callback (`statusCallbackEvent` of <Conference>): start, end, join,
    leave, hold (participant events carry the participant's CallSid)."""
    params = {"AccountSid": account_sid, "ConferenceSid": conference_sid, "FriendlyName": name,
              "StatusCallbackEvent": event, "Timestamp": "Thu, 30 Jul 2015 23:19:04 +0000",
              "SequenceNumber": "1"}
    if call_sid:
        params.update({"CallSid": call_sid, "Hold": "true" if hold else "false", "Muted": "false",
                       "EndConferenceOnExit": "false", "StartConferenceOnEnter": "true", "Coaching": "false"})
    return params


def signature(url: str, params: dict, auth_token: str) -> str:
    """`X-Twilio-Signature` for a form POST of `params` to `url` (the full public URL, query included)."""
    return RequestValidator(auth_token).compute_signature(url, params)


def _whatsapp(address: str) -> str:
    return address if address.startswith("whatsapp:") else f"whatsapp:{address}"


def _message_type(content_type: str) -> str:
    kind = content_type.partition("/")[0]
    return kind if kind in ("image", "audio", "video") else "document"
