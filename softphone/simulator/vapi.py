"""A stateful fake of VAPI's phone-number API (and its assistant list), served over real HTTP.

Objects follow VAPI's OpenAPI description (`tests/contracts/vapi/vapi_openapi.json`); errors are
NestJS-shaped, as VAPI's are. Attached to a `FakeTwilio`, importing a number has VAPI's side effect
on Twilio: the number's voice URL (and SMS URL unless `smsEnabled` is false) now point at VAPI.

A number's `server` (VAPI's `Server` object: `url`, `headers`, ...) is where VAPI would send the
server messages of its calls: `end_of_call_report` and `status_update` build the request VAPI
would send there (`ServerMessage` bodies, the number's `server.headers` as headers), for a test to
deliver to our webhook.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from softphone.simulator.server import FakeServer, Request, Response, json_response
from softphone.simulator.twilio import FakeTwilio

VAPI_VOICE_URL = "https://api.vapi.ai/twilio/inbound_call"
VAPI_SMS_URL = "https://api.vapi.ai/twilio/sms"
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MASK = "***"

# Properties of CreateTwilioPhoneNumberDTO / UpdateTwilioPhoneNumberDTO: VAPI rejects any other.
TWILIO_NUMBER_PROPERTIES = frozenset({
    "provider", "number", "twilioAccountSid", "twilioAuthToken", "twilioApiKey", "twilioApiSecret", "name",
    "assistantId", "workflowId", "squadId", "server", "fallbackDestination", "hooks", "smsEnabled",
})
SECRETS = ("twilioAuthToken", "twilioApiSecret")
# Optional references that a PATCH with null detaches.
DETACHABLE = ("name", "assistantId", "workflowId", "squadId", "server", "fallbackDestination")
# Properties of VAPI's `Server` object (a number's `server`): VAPI rejects any other.
SERVER_PROPERTIES = frozenset({
    "timeoutSeconds", "credentialId", "staticIpAddressesEnabled", "encryptedPaths", "url", "headers", "backoffPlan",
})

_PHONE_NUMBER = re.compile(r"/phone-number/(?P<id>[^/]+)")


@dataclass(frozen=True, slots=True)
class ServerRequest:
    """A request VAPI would send to a number's server: POST `url` with these headers and body."""

    url: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass(frozen=True, slots=True)
class VapiRequest:
    """One request as the fake received it, with Twilio secrets masked."""

    method: str
    path: str
    query: dict[str, str]
    json: Any


class _ApiError(Exception):
    def __init__(self, status: int, message: str | list[str]) -> None:
        super().__init__(message)
        self.status, self.message = status, message

    def response(self) -> Response:
        body: dict[str, Any] = {"message": self.message}
        if self.status != 500:  # NestJS leaves `error` out of its 500s
            body["error"] = HTTPStatus(self.status).phrase
        body["statusCode"] = self.status
        return json_response(self.status, body)


def _bad_request(*messages: str) -> _ApiError:
    return _ApiError(400, list(messages))


def _not_found() -> _ApiError:
    return _ApiError(404, "Not Found")


class FakeVapi(FakeServer):
    """VAPI phone numbers imported from Twilio, and assistants to attach them to."""

    def __init__(self, twilio: FakeTwilio | None = None, api_key: str = "vapi-test-key") -> None:
        super().__init__()
        self.twilio = twilio
        self.api_key = api_key
        self.org_id = str(uuid.uuid4())
        self._lock = threading.Lock()
        self._assistants: dict[str, dict] = {}
        self._numbers: dict[str, dict] = {}
        self._credentials: dict[str, tuple[str, str]] = {}  # number id -> Twilio Basic-auth pair
        self._faults: deque[Response] = deque()
        self.requests: list[VapiRequest] = []
        self.received_tokens: list[str] = []

    # -- set-up and inspection -------------------------------------------------------------------

    def assistant(self, id: str) -> dict | None:
        with self._lock:
            found = self._assistants.get(id)
            return dict(found) if found is not None else None

    def add_assistant(self, id: str | None = None, name: str = "Assistant") -> dict:
        now = _now()
        assistant = {"id": id or str(uuid.uuid4()), "orgId": self.org_id, "name": name,
                     "createdAt": now, "updatedAt": now}
        with self._lock:
            self._assistants[assistant["id"]] = assistant
        return dict(assistant)

    def phone_numbers(self) -> list[dict]:
        with self._lock:
            return [dict(number) for number in self._numbers.values()]

    def add_number(self, **body: Any) -> dict:
        """A Twilio number imported into VAPI as POST /phone-number would import it (the same checks, and
        with an attached FakeTwilio the same side effect on the number's URLs); returns it."""
        with self._lock:
            answer = self._create(body)
        return json.loads(answer.body)

    def delete_behind_our_back(self, id: str) -> None:
        """Remove a number as if someone deleted it in VAPI's dashboard."""
        with self._lock:
            del self._numbers[id]
            del self._credentials[id]

    def end_of_call_report(self, number_id: str, *, call_id: str | None = None, customer: str | None = "+14155550123",
                           direction: str = "inbound", ended_reason: str = "customer-ended-call",
                           cost: float | None = 0.1234, transcript: str = "AI: Hello, how can I help?\nUser: Where is my order?",
                           summary: str = "The customer asked where their order is.",
                           recording_url: str = "https://storage.vapi.ai/recording-1.wav",
                           started_at: str = "2025-01-31T12:00:00.000Z", ended_at: str = "2025-01-31T12:01:30.000Z",
                           ) -> ServerRequest:
        """The `end-of-call-report` VAPI sends to the number's server when a call on it ended."""
        message = {
            "type": "end-of-call-report", "endedReason": ended_reason, "startedAt": started_at, "endedAt": ended_at,
            "artifact": {"transcript": transcript, "recordingUrl": recording_url, "messages": []},
            "analysis": {"summary": summary},
        }
        if cost is not None:
            message["cost"] = cost
        return self._server_request(number_id, message, call_id=call_id, customer=customer, direction=direction,
                                    status="ended", started_at=started_at, ended_at=ended_at)

    def status_update(self, number_id: str, status: str, *, call_id: str | None = None,
                      customer: str | None = "+14155550123", direction: str = "inbound") -> ServerRequest:
        """The `status-update` VAPI sends to the number's server when one of its calls moves on."""
        return self._server_request(number_id, {"type": "status-update", "status": status}, call_id=call_id,
                                    customer=customer, direction=direction, status=status)

    def _server_request(self, number_id: str, message: dict, *, call_id: str | None, customer: str | None,
                        direction: str, status: str, started_at: str | None = None,
                        ended_at: str | None = None) -> ServerRequest:
        with self._lock:
            number = dict(self._numbers[number_id])
        server = number.get("server")
        if not server or not server.get("url"):
            raise AssertionError(f"VAPI has no server for number {number_id}: it would send its messages nowhere")
        now = _now()
        call = {
            "id": call_id or str(uuid.uuid4()), "orgId": self.org_id, "createdAt": now, "updatedAt": now,
            "type": "outboundPhoneCall" if direction == "outbound" else "inboundPhoneCall",
            "phoneNumberId": number_id, "status": status, "phoneCallProvider": "twilio",
        }
        if number.get("assistantId"):
            call["assistantId"] = number["assistantId"]
        if started_at:
            call["startedAt"] = started_at
        if ended_at:
            call["endedAt"] = ended_at
        message = {**message, "timestamp": 1738324890000,
                   "phoneNumber": {key: number[key] for key in ("provider", "number", "twilioAccountSid", "name",
                                                                "assistantId", "smsEnabled") if key in number},
                   "call": call}
        if customer is not None:
            message["customer"] = {"number": customer}
            call["customer"] = {"number": customer}
        headers = {"Content-Type": "application/json", **(server.get("headers") or {})}
        return ServerRequest(server["url"], headers, json.dumps({"message": message}).encode())

    def fail_next(self, count: int = 1, status: int = 500) -> None:
        """The next `count` requests, whatever they are, answer this status."""
        message = "Internal server error" if status == 500 else HTTPStatus(status).phrase
        with self._lock:
            self._faults.extend([_ApiError(status, message).response()] * count)

    # -- HTTP --------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        query = {name: values[0] for name, values in parse_qs(request.query).items()}
        try:
            body = json.loads(request.body) if request.body else None
        except ValueError:
            body = request.body.decode(errors="replace")
        with self._lock:
            self._record(request, query, body)
            if self._faults:
                return self._faults.popleft()
            try:
                if request.headers.get("Authorization") != f"Bearer {self.api_key}":
                    raise _ApiError(401, "Invalid Key. Hot tip, you may be using the private key instead of "
                                         "the public key, or vice versa.")
                return self._route(request, query, body)
            except _ApiError as error:
                return error.response()

    def _record(self, request: Request, query: dict, body: Any) -> None:
        if isinstance(body, dict):
            if isinstance(body.get("twilioAuthToken"), str):
                self.received_tokens.append(body["twilioAuthToken"])
            body = {key: MASK if key in SECRETS else value for key, value in body.items()}
        self.requests.append(VapiRequest(request.method, request.path, query, body))

    def _route(self, request: Request, query: dict, body: Any) -> Response:
        path, method = request.path.rstrip("/"), request.method
        if path == "/assistant" and method == "GET":
            return json_response(200, list(reversed(self._assistants.values()))[:_limit(query)])
        if path == "/phone-number" and method == "GET":
            return self._list(query)
        if path == "/phone-number" and method == "POST":
            return self._create(body)
        match = _PHONE_NUMBER.fullmatch(path)
        if match and method in ("GET", "PATCH", "DELETE"):
            number = self._numbers.get(match["id"])
            if number is None:
                raise _not_found()
            if method == "GET":
                return json_response(200, number)
            if method == "PATCH":
                return self._update(number, body)
            del self._numbers[number["id"]], self._credentials[number["id"]]
            return json_response(200, number)
        # NestJS's answer for a route it does not have.
        raise _ApiError(404, f"Cannot {method} {request.path}")

    # -- endpoints (called with the lock held) -----------------------------------------------------

    def _list(self, query: dict) -> Response:
        newest_first = list(reversed(self._numbers.values()))
        return json_response(200, newest_first[:_limit(query)])

    def _create(self, body: Any) -> Response:
        if not isinstance(body, dict):
            raise _bad_request("body must be a JSON object")
        problems = self._problems(body)
        if body.get("provider") != "twilio":
            problems.append("provider must be one of the following values: twilio")
        for name in ("number", "twilioAccountSid"):
            if not isinstance(body.get(name), str) or not body[name]:
                problems.append(f"{name} must be a string")
        credentials = _credentials(body, body.get("twilioAccountSid"))
        if credentials is None:
            problems.append("twilioAuthToken or twilioApiKey and twilioApiSecret must be provided")
        if problems:
            raise _bad_request(*problems)
        if any(number["number"] == body["number"] for number in self._numbers.values()):
            raise _bad_request(f"Number {body['number']} already exists in this org.")
        sms_enabled = body.get("smsEnabled", True)
        self._point_twilio_number_at_vapi(body["twilioAccountSid"], body["number"], credentials, sms_enabled)
        now = _now()
        number = {
            **{key: value for key, value in body.items() if key not in SECRETS},
            "id": str(uuid.uuid4()),
            "orgId": self.org_id,
            "smsEnabled": sms_enabled,
            "status": "active",
            "createdAt": now,
            "updatedAt": now,
        }
        self._numbers[number["id"]] = number
        self._credentials[number["id"]] = credentials
        return json_response(201, number)

    def _update(self, number: dict, body: Any) -> Response:
        if not isinstance(body, dict):
            raise _bad_request("body must be a JSON object")
        problems = self._problems(body)
        if "provider" in body and body["provider"] != "twilio":
            problems.append("provider must be one of the following values: twilio")
        if problems:
            raise _bad_request(*problems)
        credentials = _credentials(body, number["twilioAccountSid"]) or self._credentials[number["id"]]
        if body.get("smsEnabled") is True and not number["smsEnabled"]:
            self._point_twilio_number_at_vapi(number["twilioAccountSid"], number["number"], credentials,
                                              sms_enabled=True)
        for key, value in body.items():
            if key in SECRETS:
                continue
            if value is None and key in DETACHABLE:
                number.pop(key, None)
            else:
                number[key] = value
        number["updatedAt"] = _now()
        self._credentials[number["id"]] = credentials
        return json_response(200, number)

    def _problems(self, body: dict) -> list[str]:
        """class-validator's messages for the properties create and update share."""
        problems = [f"property {key} should not exist" for key in body if key not in TWILIO_NUMBER_PROPERTIES]
        name = body.get("name")
        if name is not None and (not isinstance(name, str) or len(name) > 40):
            problems.append("name must be shorter than or equal to 40 characters")
        if "smsEnabled" in body and not isinstance(body["smsEnabled"], bool):
            problems.append("smsEnabled must be a boolean value")
        assistant_id = body.get("assistantId")
        if assistant_id is not None and assistant_id not in self._assistants:
            problems.append(f"Couldn't Find Assistant {assistant_id}")
        if body.get("server") is not None:
            problems.extend(_server_problems(body["server"]))
        return problems

    def _point_twilio_number_at_vapi(self, account_sid: str, phone_number: str, credentials: tuple[str, str],
                                     sms_enabled: bool) -> None:
        """What VAPI does to the number on Twilio; without an attached FakeTwilio, nothing."""
        if self.twilio is None:
            return
        if self.twilio.authenticate(*credentials) != account_sid:
            raise _bad_request("Twilio Error: Authenticate. Check your Twilio credentials.")
        twilio_number = self.twilio.find_number(account_sid, phone_number)
        if twilio_number is None:
            raise _bad_request(f"Number {phone_number} Not Found on Twilio account {account_sid}.")
        fields = {"voice_url": VAPI_VOICE_URL}
        if sms_enabled:
            fields["sms_url"] = VAPI_SMS_URL
        self.twilio.update_number(account_sid, twilio_number["sid"], **fields)


def _limit(query: dict) -> int:
    """A list's `limit` (default 100, at most 1000), as VAPI validates it."""
    try:
        limit = float(query.get("limit", DEFAULT_LIMIT))
    except ValueError:
        raise _bad_request("limit must be a number conforming to the specified constraints") from None
    if limit > MAX_LIMIT:
        raise _bad_request(f"limit must not be greater than {MAX_LIMIT}")
    if limit < 0:
        raise _bad_request("limit must not be less than 0")
    return int(limit)


def _server_problems(server: Any) -> list[str]:
    """class-validator's messages for a `Server` object."""
    if not isinstance(server, dict):
        return ["server must be an object"]
    problems = [f"server.property {key} should not exist" for key in server if key not in SERVER_PROPERTIES]
    url = server.get("url")
    if url is not None and (not isinstance(url, str) or not re.match(r"https?://[^/\s]+", url)):
        problems.append("server.url must be a URL address")
    headers = server.get("headers")
    if headers is not None and (not isinstance(headers, dict)
                                or not all(isinstance(v, str) for v in headers.values())):
        problems.append("server.headers must be an object of strings")
    return problems


def _credentials(body: dict, account_sid: str | None) -> tuple[str, str] | None:
    """The Basic-auth pair VAPI would use on Twilio: the account's auth token or an API key's secret."""
    if body.get("twilioApiKey") and body.get("twilioApiSecret"):
        return body["twilioApiKey"], body["twilioApiSecret"]
    if body.get("twilioAuthToken"):
        return account_sid, body["twilioAuthToken"]
    return None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
