"""VAPI (voice-AI platform) adapter: the only module that talks to VAPI.

A small client on `requests`, the HTTP library the twilio SDK already brings, so the project has
one. It finds VAPI at ``settings.VAPI_API_BASE_URL``. Errors become `ProviderError`; VAPI's NestJS
error bodies (`{"message": str | [str], "error", "statusCode"}`) are turned into one readable line.
Credentials are sent, never logged, never put in an error message.

It also reads what VAPI sends us: the server messages of a number's calls (`parse_event`), posted
to the number's `server.url` with the organization's secret in the `X-Vapi-Secret` header.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from decimal import Decimal, InvalidOperation

import requests
from django.conf import settings

from telephony.models import CallDirection, CallStatus

from .base import (
    Assistant,
    CallReport,
    PlatformEvent,
    PlatformNumber,
    ProviderError,
    ReportServer,
    VoicePlatform,
)

# VAPI answers numbers held at these carriers (our numbers providers' names -> VAPI's).
CARRIERS = {"twilio": "twilio"}
# VAPI adds the headers of a number's `server` to every request it sends there; this one carries
# the organization's webhook secret (the name VAPI's own "server URL secret" always used).
SECRET_HEADER = "X-Vapi-Secret"


def _number(body: dict) -> PlatformNumber:
    server = body.get("server") if isinstance(body.get("server"), dict) else {}
    return PlatformNumber(id=body["id"], number=body.get("number") or "", assistant_id=body.get("assistantId") or "",
                          status=body.get("status") or "", sms_enabled=bool(body.get("smsEnabled", True)),
                          server_url=server.get("url") or "")


def _server(server: ReportServer) -> dict:
    """VAPI's `Server` object: where it sends the number's server messages, and with what header."""
    return {"url": server.url, "headers": {SECRET_HEADER: server.secret}}


class VapiPlatform(VoicePlatform):
    name = "vapi"
    label = "VAPI"
    secret_header = SECRET_HEADER

    @classmethod
    def parse_event(cls, body: bytes) -> PlatformEvent:
        return parse_event(body)

    @classmethod
    def for_account(cls, account) -> VapiPlatform:
        return cls(account.api_key or "")

    @classmethod
    def for_credentials(cls, *, api_key: str = "", **_) -> VapiPlatform:
        return cls(api_key)

    def __init__(self, api_key: str, *, base_url: str | None = None, timeout: float | None = None):
        self.base_url = (base_url or settings.VAPI_API_BASE_URL).rstrip("/")
        self.timeout = timeout if timeout is not None else settings.VAPI_HTTP_TIMEOUT
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {api_key}", "Accept": "application/json"})

    def _request(self, method: str, path: str, *, json: dict | None = None, params: dict | None = None,
                 allow_404: bool = False):
        try:
            response = self.session.request(method, self.base_url + path, json=json, params=params,
                                            timeout=self.timeout)
        except requests.RequestException:
            raise ProviderError("VAPI could not be reached; try again shortly.", permanent=False) from None
        if allow_404 and response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise _error(response)
        return response.json() if response.content else None

    def verify(self) -> None:
        """Check the key by listing assistants."""
        self._request("GET", "/assistant", params={"limit": 1000})

    def list_assistants(self) -> list[Assistant]:
        listed = self._request("GET", "/assistant", params={"limit": 1000}) or []
        return [Assistant(id=a["id"], name=a.get("name") or "") for a in listed]

    def list_numbers(self) -> list[PlatformNumber]:
        return [_number(body) for body in self._request("GET", "/phone-number", params={"limit": 1000}) or []]

    def attach_number(self, *, phone_number: str, carrier: str, account_sid: str, auth_token: str,
                      assistant_id: str, name: str = "", server: ReportServer | None = None) -> PlatformNumber:
        if carrier not in CARRIERS:
            raise ProviderError(f"VAPI cannot answer numbers held at {carrier}.", permanent=True)
        # smsEnabled false: VAPI would otherwise take over the number's SMS URL and texts would stop
        # reaching our inbox.
        body = {
            "provider": CARRIERS[carrier], "number": phone_number, "twilioAccountSid": account_sid,
            "twilioAuthToken": auth_token, "assistantId": assistant_id, "smsEnabled": False,
        }
        if name:
            body["name"] = name[:40]
        if server is not None:
            body["server"] = _server(server)
        return _number(self._request("POST", "/phone-number", json=body))

    def set_assistant(self, number_id: str, assistant_id: str, server: ReportServer | None = None) -> PlatformNumber:
        body = {"assistantId": assistant_id}
        if server is not None:
            body["server"] = _server(server)
        return _number(self._request("PATCH", f"/phone-number/{number_id}", json=body))

    def get_number(self, number_id: str) -> PlatformNumber | None:
        body = self._request("GET", f"/phone-number/{number_id}", allow_404=True)
        return _number(body) if body else None

    def detach_number(self, number_id: str) -> bool:
        return self._request("DELETE", f"/phone-number/{number_id}", allow_404=True) is not None


def _error(response: requests.Response) -> ProviderError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    message = body.get("message") if isinstance(body, dict) else None
    if isinstance(message, list):
        message = "; ".join(str(m) for m in message)
    status = response.status_code
    if status == 401:
        text = "VAPI rejected the API key."
    else:
        text = f"VAPI: {message or response.reason or 'request failed'}"
    return ProviderError(text, permanent=status in (400, 401, 403, 404, 409, 422), code=status, gone=status == 404)


# Server messages (VAPI's `ServerMessage`: `{"message": {"type": ..., ...}}`) ---------------------------

# status-update's `status`, in our terms; the others (scheduled, forwarding, ended, ...) change
# nothing: the end-of-call report closes the call.
_LIVE_STATUS = {"queued": CallStatus.QUEUED, "ringing": CallStatus.RINGING, "in-progress": CallStatus.IN_PROGRESS}
# endedReason -> our final status. VAPI lists some 600 reasons; most are errors of one part or
# another (…-error-…, …-failed, …-fault), the rest are said here; anything else ended normally.
_ENDED = {
    "customer-busy": CallStatus.BUSY,
    "customer-did-not-answer": CallStatus.NO_ANSWER,
    "voicemail": CallStatus.NO_ANSWER,  # an outbound call reached the customer's voicemail
    "manually-canceled": CallStatus.CANCELED,
    "call-deleted": CallStatus.CANCELED,
    "scheduled-call-deleted": CallStatus.CANCELED,
    "call.ringing.sip-inbound-caller-hungup-before-call-connect": CallStatus.CANCELED,
    "assistant-not-valid": CallStatus.FAILED,
    "assistant-not-found": CallStatus.FAILED,
    "assistant-join-timed-out": CallStatus.FAILED,
    "worker-shutdown": CallStatus.FAILED,
    "vonage-rejected": CallStatus.FAILED,
    "twilio-reported-customer-misdialed": CallStatus.FAILED,
    "phone-call-provider-bypass-enabled-but-no-call-received": CallStatus.FAILED,
}
_FAILED_MARKS = ("error", "fault", "failed", "pipeline-", "assistant-request-returned-")
LONGEST_ID = 64
LONGEST_URL = 500
LONGEST_REASON = 100
HIGHEST_COST = Decimal("999999")
LONGEST_DURATION = 2**31 - 1  # seconds: what the column holds


def ended_status(reason: str) -> str:
    """Our status of a call VAPI ended for `reason`."""
    if reason in _ENDED:
        return _ENDED[reason]
    if any(mark in reason for mark in _FAILED_MARKS):
        return CallStatus.FAILED
    return CallStatus.COMPLETED


def parse_event(body: bytes) -> PlatformEvent:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ValueError("The request body is not JSON.") from None
    except RecursionError:
        raise ValueError("The request body is nested too deeply.") from None
    message = data.get("message") if isinstance(data, dict) else None
    if not isinstance(message, dict):
        raise ValueError("The request has no `message` object.")
    kind = message.get("type")
    if not isinstance(kind, str) or not kind:
        raise ValueError("The message has no `type`.")
    if kind == "end-of-call-report":
        return PlatformEvent("report", kind, _report(message, status=None))
    if kind == "status-update":
        status = _LIVE_STATUS.get(message.get("status"))
        return PlatformEvent("status", kind, _report(message, status=status)) if status else PlatformEvent("other", kind)
    return PlatformEvent("other", kind)


def _object(value, name: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"`{name}` must be an object.")
    return value


def _text(value, name: str, longest: int | None = None) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"`{name}` must be a string.")
    if longest is not None and len(value) > longest:
        raise ValueError(f"`{name}` is longer than {longest} characters.")
    # PostgreSQL cannot store U+0000: a NUL in what a caller said is kept as U+FFFD.
    return value.replace("\x00", "\ufffd")


def _time(value, name: str) -> datetime | None:
    text = _text(value, name, 40)
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"`{name}` is not an ISO 8601 date-time.") from None
    if moment.tzinfo is None:
        raise ValueError(f"`{name}` has no time zone.")
    return moment


def _cost(value) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError("`cost` must be a number (US dollars).")
    try:
        cost = Decimal(str(value)).quantize(Decimal("0.0001"))
    except InvalidOperation:
        raise ValueError("`cost` must be a number (US dollars).") from None
    if not Decimal(0) <= cost <= HIGHEST_COST:
        raise ValueError("`cost` is out of range.")
    return cost


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _spoken(messages) -> str:
    """A transcript from `artifact.messages` when VAPI sent no `transcript` text."""
    if not isinstance(messages, list):
        return ""
    lines = []
    for item in messages:
        if isinstance(item, dict) and item.get("role") in ("bot", "assistant", "user") and \
                isinstance(item.get("message"), str):
            lines.append(f"{'AI' if item['role'] != 'user' else 'User'}: {item['message']}")
    return "\n".join(lines).replace("\x00", "\ufffd")


def _recording(value) -> str:
    """VAPI's recording link, kept only when it is a plain web address of reasonable length."""
    url = value if isinstance(value, str) else ""
    return url if url.startswith(("https://", "http://")) and len(url) <= LONGEST_URL else ""


def _report(message: dict, *, status: str | None) -> CallReport:
    call = _object(message.get("call"), "call")
    call_id = _text(call.get("id"), "call.id", LONGEST_ID)
    if not call_id:
        raise ValueError("The message names no call (`call.id`).")
    number_id = _text(call.get("phoneNumberId"), "call.phoneNumberId", LONGEST_ID) or _text(
        _object(message.get("phoneNumber"), "phoneNumber").get("id"), "phoneNumber.id", LONGEST_ID)
    if not number_id:
        raise ValueError("The message names no phone number (`call.phoneNumberId`).")
    customer = _object(message.get("customer"), "customer") or _object(call.get("customer"), "call.customer")
    artifact = _object(message.get("artifact"), "artifact") or _object(call.get("artifact"), "call.artifact")
    analysis = _object(message.get("analysis"), "analysis") or _object(call.get("analysis"), "call.analysis")
    started_at = _time(message.get("startedAt") or call.get("startedAt"), "startedAt")
    ended_at = _time(message.get("endedAt") or call.get("endedAt"), "endedAt")
    ended_reason = _text(message.get("endedReason") or call.get("endedReason"), "endedReason", LONGEST_REASON)
    duration = None
    if started_at and ended_at:
        duration = max(0, min(round((ended_at - started_at).total_seconds()), LONGEST_DURATION))
    elif _finite(message.get("durationSeconds")):
        duration = max(0, min(round(message["durationSeconds"]), LONGEST_DURATION))
    return CallReport(
        call_id=call_id,
        phone_number_id=number_id,
        direction=CallDirection.OUTBOUND if call.get("type") == "outboundPhoneCall" else CallDirection.INBOUND,
        customer_number=_text(customer.get("number"), "customer.number", 40),
        status=status or ended_status(ended_reason),
        assistant_id=_text(call.get("assistantId"), "call.assistantId", LONGEST_ID),
        started_at=started_at,
        ended_at=ended_at,
        ended_reason=ended_reason,
        cost=_cost(message.get("cost", call.get("cost"))),
        transcript=_text(artifact.get("transcript") or message.get("transcript"), "artifact.transcript")
        or _spoken(artifact.get("messages") or message.get("messages")),
        summary=_text(analysis.get("summary") or message.get("summary"), "analysis.summary"),
        recording_url=_recording(artifact.get("recordingUrl") or message.get("recordingUrl")),
        duration=duration,
    )
