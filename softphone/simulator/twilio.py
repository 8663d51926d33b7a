"""A stateful fake of Twilio's REST API 2010-04-01, served over real HTTP.

Tests and benchmarks point the real `twilio` SDK at it (`fake_http_client`, `FakeTwilio.client`)
and assert on what it recorded. Payloads follow Twilio's OpenAPI description
(`tests/contracts/twilio/twilio_api_v2010.json`); errors, paging and the test-credential magic
numbers follow PROVIDERS.md.

    with FakeTwilio() as fake:
        fake.add_account(SID, TOKEN)
        fake.add_incoming_numbers(SID, 250)
        numbers = fake.client(SID).incoming_phone_numbers.list(page_size=100)
"""

from __future__ import annotations

import base64
import bisect
import itertools
import math
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs, urlencode

from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from softphone.simulator.server import FakeServer, Request, Response, json_response
from softphone.simulator.twilio_live import LiveCalls

API_VERSION = "2010-04-01"
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 50
AVAILABLE_PAGE_SIZE = 20

# Test credentials' number that always works as a sender (PROVIDERS.md).
MAGIC_VALID_SENDER = "+15005550006"

# Magic numbers: number -> (Twilio error code, message). Messages are close to Twilio's wording.
BUY_ERRORS = {
    "+15005550000": (21422, "PhoneNumber {number} is not available."),
    "+15005550001": (21421, "PhoneNumber {number} is not valid."),
}
NOT_AN_SMS_SENDER = ("The From phone number {number} is not a valid, SMS-capable inbound phone number or "
                     "short code for your account.")
NOT_A_CALLER_ID = "The source phone number provided, {number}, is not yet verified for your account."
MESSAGE_FROM_ERRORS = {
    "+15005550001": (21212, "The 'From' number {number} is not a valid phone number, shortcode, "
                            "or alphanumeric sender ID."),
    "+15005550007": (21606, NOT_AN_SMS_SENDER),
    "+15005550008": (21611, "This 'From' number has exceeded the maximum number of queued messages."),
}
MESSAGE_TO_ERRORS = {
    "+15005550001": (21211, "Invalid 'To' Phone Number: {number}"),
    "+15005550002": (21612, "The 'To' phone number: {number}, is not currently reachable via SMS."),
    "+15005550003": (21408, "Permission to send an SMS has not been enabled for the region indicated "
                            "by the 'To' number: {number}."),
    "+15005550004": (21610, "Attempt to send to unsubscribed recipient"),
    "+15005550009": (21614, "'To' number {number} is not a valid mobile number"),
}
CALL_FROM_ERRORS = {
    "+15005550001": (21212, "Invalid From Number (caller ID): {number}"),
}
CALL_TO_ERRORS = {
    "+15005550001": (21217, "Phone number {number} does not appear to be valid"),
    "+15005550002": (21214, "'To' phone number {number} cannot be reached"),
    "+15005550003": (21215, "Account not authorized to call {number}."),
    "+15005550004": (21216, "Account not allowed to call {number}"),
}
NO_NUMBERS_AREA_CODE = "533"

TOLL_FREE_AREA_CODES = frozenset({"800", "833", "844", "855", "866", "877", "888"})
DEFAULT_AREA_CODE = {"Local": "415", "Mobile": "415", "TollFree": "888"}
NANP_COUNTRIES = frozenset({"US", "CA"})


@dataclass(frozen=True, slots=True)
class _Area:
    locality: str
    region: str
    postal_code: str
    lata: str
    rate_center: str
    latitude: float
    longitude: float


# Geography of a few area codes, so available numbers look like Twilio's; others get nulls.
AREAS = {
    "415": _Area("San Francisco", "CA", "94103", "722", "SNFC CNTRL", 37.7749, -122.4194),
    "212": _Area("New York", "NY", "10001", "132", "NWYRCYZN01", 40.7506, -73.9971),
    "512": _Area("Austin", "TX", "78701", "558", "AUSTIN", 30.2672, -97.7431),
    "305": _Area("Miami", "FL", "33130", "460", "MIAMI", 25.7617, -80.1918),
}

# Create/update parameters of an Application (a TwiML App); each is stored under its snake_case name.
APPLICATION_PARAMS = (
    "FriendlyName", "ApiVersion", "VoiceUrl", "VoiceMethod", "VoiceFallbackUrl", "VoiceFallbackMethod",
    "StatusCallback", "StatusCallbackMethod", "VoiceCallerIdLookup", "SmsUrl", "SmsMethod", "SmsFallbackUrl",
    "SmsFallbackMethod", "SmsStatusCallback", "MessageStatusCallback", "PublicApplicationConnectEnabled",
)
_BOOLEAN_PARAMS = frozenset({"VoiceCallerIdLookup", "PublicApplicationConnectEnabled"})
_METHOD_PARAMS = frozenset({"VoiceMethod", "VoiceFallbackMethod", "StatusCallbackMethod", "SmsMethod",
                            "SmsFallbackMethod"})

# Update parameters of an IncomingPhoneNumber; each is stored under its snake_case name.
NUMBER_PARAMS = (
    "FriendlyName", "ApiVersion", "VoiceUrl", "VoiceMethod", "VoiceFallbackUrl", "VoiceFallbackMethod",
    "VoiceApplicationSid", "VoiceCallerIdLookup", "VoiceReceiveMode", "SmsUrl", "SmsMethod",
    "SmsFallbackUrl", "SmsFallbackMethod", "SmsApplicationSid", "StatusCallback", "StatusCallbackMethod",
    "TrunkSid", "EmergencyStatus", "EmergencyAddressSid", "IdentitySid", "AddressSid", "BundleSid",
)

_E164 = re.compile(r"\+[1-9]\d{6,14}")
_TWILIO_HOST = re.compile(r"^https://[a-z0-9.-]+\.twilio\.com")
_KEYPAD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "22233344455566677778889999")
_GSM7 = frozenset("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
                  "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
_GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")


@dataclass(frozen=True, slots=True)
class TwilioRequest:
    """One request as the fake received it; repeated parameters are lists."""

    method: str
    path: str
    query: dict[str, str | list[str]]
    form: dict[str, str | list[str]]
    account_sid: str | None


class _ApiError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> Response:
        response = json_response(self.status, {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        })
        if self.status == 401:
            response.headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
        return response


def _unauthenticated() -> _ApiError:
    return _ApiError(401, 20003, "Authenticate")


def _not_found(path: str) -> _ApiError:
    return _ApiError(404, 20404, f"The requested resource {path} was not found")


def fake_http_client(base_url: str, **kwargs: Any) -> TwilioHttpClient:
    """A `TwilioHttpClient` that sends whatever the SDK addresses to *.twilio.com to `base_url`.

    Keyword arguments (`timeout`, `max_retries`, ...) go to `TwilioHttpClient`.
    """
    return _RedirectingHttpClient(base_url, **kwargs)


class _RedirectingHttpClient(TwilioHttpClient):
    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._base_url = base_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any):
        return super().request(method, _TWILIO_HOST.sub(self._base_url, url, count=1), *args, **kwargs)


class FakeTwilio(LiveCalls, FakeServer):
    """Twilio accounts with their incoming numbers, messages and calls, behind the 2010-04-01 API."""

    def __init__(self, available_capabilities_casing: str = "lower") -> None:
        """`available_capabilities_casing="upper"` answers available numbers' capabilities as
        `{"voice", "SMS", "MMS"}`, as the live API has been seen to do."""
        super().__init__()
        if available_capabilities_casing not in ("lower", "upper"):
            raise ValueError("available_capabilities_casing must be 'lower' or 'upper'")
        self._upper_capabilities = available_capabilities_casing == "upper"
        self._lock = threading.Lock()
        self._accounts: dict[str, dict] = {}
        self._credentials: dict[str, tuple[str, str]] = {}  # username -> (password, account sid)
        self._numbers: dict[str, dict[str, dict]] = {}  # account sid -> number sid -> resource
        self._owners: dict[str, tuple[str, str]] = {}  # phone number -> (account sid, number sid)
        self._position: dict[str, int] = {}  # number sid -> creation order, the key page tokens use
        self._positions = itertools.count()
        self._messages: dict[str, list[dict]] = {}
        self._calls: dict[str, list[dict]] = {}
        self._applications: dict[str, dict[str, dict]] = {}  # account sid -> AP sid -> resource
        self._keys: dict[str, dict[str, dict]] = {}  # account sid -> SK sid -> resource (no secret)
        self._media: dict[str, dict] = {}  # media path -> {"content", "content_type", "redirect"}
        self._recordings: dict[tuple[str, str], dict] = {}  # (account sid, RE sid) -> resource, media
        self._faults: deque[Response | None] = deque()  # None: answer that request normally
        self._delay = 0.0
        self.requests: list[TwilioRequest] = []
        self._contents: dict[str, list[dict]] = {}  # account sid -> Content API templates, oldest first
        account = r"/2010-04-01/Accounts/(?P<account>[^/]+)"
        available = r"/AvailablePhoneNumbers/(?P<country>[A-Z]{2})/(?P<kind>Local|TollFree|Mobile)\.json"
        self._routes = [
            (re.compile(account + r"\.json"), {"GET": self._fetch_account}),
            (re.compile(account + r"/IncomingPhoneNumbers\.json"),
             {"GET": self._list_numbers, "POST": self._buy_number}),
            (re.compile(account + r"/IncomingPhoneNumbers/(?P<sid>[^/]+)\.json"),
             {"GET": self._fetch_number, "POST": self._update_number, "DELETE": self._release_number}),
            (re.compile(account + available), {"GET": self._search_available}),
            (re.compile(account + r"/Messages\.json"), {"POST": self._create_message}),
            (re.compile(account + r"/Calls\.json"), {"POST": self._create_call}),
            (re.compile(account + r"/Messages/(?P<message>MM[0-9a-f]{32})/Media/(?P<media>ME[0-9a-f]{32})"),
             {"GET": self._fetch_media}),
            (re.compile(account + r"/Applications\.json"),
             {"GET": self._list_applications, "POST": self._create_application}),
            (re.compile(account + r"/Applications/(?P<sid>[^/]+)\.json"),
             {"GET": self._fetch_application, "POST": self._update_application, "DELETE": self._delete_application}),
            (re.compile(account + r"/Keys\.json"), {"GET": self._list_keys, "POST": self._create_key}),
            (re.compile(account + r"/Keys/(?P<sid>[^/]+)\.json"),
             {"GET": self._fetch_key, "POST": self._update_key, "DELETE": self._delete_key}),
            (re.compile(account + r"/Recordings/(?P<sid>RE[0-9a-fA-F]{32})(?P<extension>\.json|\.mp3|\.wav)?"),
             {"GET": self._fetch_recording}),
        ]
        self._conferences: dict[str, dict[str, dict]] = {}
        self._routes += self._live_routes()

    # -- set-up and inspection -------------------------------------------------------------------

    def add_content(self, account_sid: str, *, friendly_name: str, body: str, language: str = "en",
                    status: str = "approved", category: str = "UTILITY", content_type: str = "twilio/text",
                    variables: dict | None = None, rejection_reason: str = "", extra: dict | None = None) -> dict:
        """A template of the account's Content API with its WhatsApp approval, as GET
        /v1/ContentAndApprovals lists it (`types` keyed by content type; `approval_requests` the
        WhatsApp review). Returns it."""
        now = _now_iso()
        content = {
            "sid": "HX" + uuid.uuid4().hex, "account_sid": account_sid, "friendly_name": friendly_name,
            "language": language, "variables": variables or {},
            "types": {content_type: {"body": body, **(extra or {})}},
            "approval_requests": {"name": friendly_name, "category": category, "content_type": content_type,
                                  "status": status, "rejection_reason": rejection_reason,
                                  "allow_category_change": True},
            "date_created": now, "date_updated": now,
        }
        with self._lock:
            self._contents.setdefault(account_sid, []).append(content)
            return dict(content)

    def add_account(self, sid: str, auth_token: str, friendly_name: str = "Test account",
                    status: str = "active", type: str = "Full") -> dict:
        _require_sid("AC", sid)
        now = _now()
        account = {
            "auth_token": auth_token,
            "date_created": now,
            "date_updated": now,
            "friendly_name": friendly_name,
            "owner_account_sid": sid,
            "sid": sid,
            "status": status,
            "subresource_uris": {
                name: f"/{API_VERSION}/Accounts/{sid}/{resource}.json" for name, resource in (
                    ("applications", "Applications"), ("available_phone_numbers", "AvailablePhoneNumbers"),
                    ("calls", "Calls"), ("incoming_phone_numbers", "IncomingPhoneNumbers"), ("keys", "Keys"),
                    ("messages", "Messages"))
            },
            "type": type,
            "uri": f"/{API_VERSION}/Accounts/{sid}.json",
        }
        with self._lock:
            self._accounts[sid] = account
            self._credentials[sid] = (auth_token, sid)
            self._numbers.setdefault(sid, {})
            self._messages.setdefault(sid, [])
            self._calls.setdefault(sid, [])
            self._applications.setdefault(sid, {})
            self._keys.setdefault(sid, {})
        return dict(account)

    def add_inbound_message(self, account_sid: str, *, from_: str, to: str, body: str) -> dict:
        """A message a customer sent to one of the account's numbers, as Twilio records it."""
        sid = "SM" + uuid.uuid4().hex
        now = _now()
        uri = f"/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}"
        message = {
            "account_sid": account_sid, "api_version": API_VERSION, "body": body, "date_created": now,
            "date_sent": now, "date_updated": now, "direction": "inbound", "error_code": None,
            "error_message": None, "from": from_, "messaging_service_sid": None, "num_media": "0",
            "num_segments": str(_segments(body)), "price": None, "price_unit": "USD", "sid": sid,
            "status": "received", "subresource_uris": {"media": f"{uri}/Media.json"}, "to": to, "uri": f"{uri}.json",
        }
        with self._lock:
            self._messages[account_sid].append(message)
        return dict(message)

    def owner_of(self, phone_number: str) -> tuple[str, dict] | None:
        """The account owning ``phone_number`` and the number's resource, or None."""
        with self._lock:
            owner, sid = self._owners.get(phone_number, (None, None))
            if owner is None:
                return None
            return owner, dict(self._numbers[owner][sid])

    def set_message_status(self, account_sid: str, sid: str, status: str, *, error_code: int | None = None,
                           error_message: str | None = None) -> dict | None:
        """Move a sent message on (as the carrier does after accepting it); the message, or None."""
        with self._lock:
            for message in self._messages.get(account_sid, []):
                if message["sid"] == sid:
                    message.update(status=status, error_code=error_code, error_message=error_message,
                                   date_updated=_now())
                    if status in ("sent", "delivered", "undelivered") and message["date_sent"] is None:
                        message["date_sent"] = _now()
                    return dict(message)
        return None

    def account_sids(self) -> list[str]:
        with self._lock:
            return list(self._accounts)

    def account(self, sid: str) -> dict | None:
        with self._lock:
            found = self._accounts.get(sid)
            return dict(found) if found is not None else None

    def add_api_key(self, account_sid: str, key_sid: str, secret: str) -> None:
        """An API key (`SK...`) and its secret, accepted in place of the account's sid and auth token."""
        _require_sid("SK", key_sid)
        with self._lock:
            self._credentials[key_sid] = (secret, account_sid)

    def key_secret(self, key_sid: str) -> str | None:
        """An API key's secret (what signs the Voice access tokens made with it), or None."""
        with self._lock:
            found = self._credentials.get(key_sid)
            return found[0] if found and key_sid.startswith("SK") else None

    def authenticate(self, username: str, password: str) -> str | None:
        """The account sid these Basic-auth credentials open, or None."""
        with self._lock:
            return self._authenticate(username, password)

    def add_incoming_number(self, account_sid: str, phone_number: str, *, friendly_name: str | None = None,
                            capabilities: dict[str, bool] | None = None, voice_url: str = "",
                            sms_url: str = "", status_callback: str = "", origin: str = "twilio") -> dict:
        """A number the account already owns, as if bought earlier; returns its resource."""
        overrides = {"voice_url": voice_url, "sms_url": sms_url, "status_callback": status_callback,
                     "origin": origin}
        if friendly_name is not None:
            overrides["friendly_name"] = friendly_name
        if capabilities is not None:
            overrides["capabilities"] = dict(capabilities)
        with self._lock:
            return dict(self._store_number(account_sid, phone_number, _now(), overrides))

    def add_incoming_numbers(self, account_sid: str, count: int, start: str = "+15550100000") -> list[dict]:
        """`count` numbers with consecutive E.164 values from `start`; cheap enough for 10,000."""
        first = int(start.removeprefix("+"))
        created = _now()
        with self._lock:
            return [dict(self._store_number(account_sid, f"+{first + offset}", created, {}))
                    for offset in range(count)]

    def numbers(self, account_sid: str) -> list[dict]:
        with self._lock:
            return [dict(number) for number in self._numbers[account_sid].values()]

    def number(self, account_sid: str, sid: str) -> dict | None:
        with self._lock:
            number = self._numbers[account_sid].get(sid)
            return dict(number) if number else None

    def find_number(self, account_sid: str, phone_number: str) -> dict | None:
        with self._lock:
            owner, sid = self._owners.get(phone_number, (None, None))
            return dict(self._numbers[owner][sid]) if owner == account_sid else None

    def update_number(self, account_sid: str, sid: str, **fields: Any) -> dict:
        """Change a number's snake_case fields out of band (as the Console or another vendor would)."""
        with self._lock:
            number = self._numbers[account_sid][sid]
            number.update(fields, date_updated=_now())
            return dict(number)

    def release(self, account_sid: str, sid: str) -> None:
        """Remove a number as if it had been released in Twilio's Console."""
        with self._lock:
            self._remove_number(account_sid, sid)

    def add_media(self, account_sid: str, content: bytes, content_type: str, *, redirect: str | None = None) -> str:
        """Media a customer sent (an inbound MMS); returns its URL as inbound webhooks carry it
        (on https://api.twilio.com). Fetching it needs the account's credentials; with ``redirect``
        it answers 307 to that URL (Twilio sends media from its CDN that way) instead of the bytes."""
        path = (f"/{API_VERSION}/Accounts/{account_sid}/Messages/MM{uuid.uuid4().hex}"
                f"/Media/ME{uuid.uuid4().hex}")
        with self._lock:
            self._media[path] = {"content": bytes(content), "content_type": content_type, "redirect": redirect}
        return "https://api.twilio.com" + path

    def add_recording(self, account_sid: str, mp3: bytes, *, sid: str | None = None, call_sid: str | None = None,
                      duration: int = 4, redirect: str | None = None) -> str:
        """A call recording (a voicemail); returns its RecordingUrl as the voice webhooks carry it (on
        https://api.twilio.com, no extension). Twilio serves the media at that URL plus `.mp3` or
        `.wav` (WAV without an extension) and the resource at `.json`, to the account's credentials;
        with ``redirect`` the media answers 307 to that URL (a storage bucket) instead of the bytes."""
        sid = sid or "RE" + uuid.uuid4().hex
        _require_sid("RE", sid)
        uri = f"/{API_VERSION}/Accounts/{account_sid}/Recordings/{sid}"
        now = _now()
        resource = {
            "account_sid": account_sid, "api_version": API_VERSION, "call_sid": call_sid or "CA" + uuid.uuid4().hex,
            "conference_sid": None, "channels": 1, "date_created": now, "date_updated": now, "start_time": now,
            "price": None, "price_unit": "USD", "duration": str(duration), "sid": sid, "source": "RecordVerb",
            "status": "completed", "error_code": None, "uri": f"{uri}.json", "encryption_details": None,
            "media_url": f"https://api.twilio.com{uri}",
            "subresource_uris": {"add_on_results": f"{uri}/AddOnResults.json",
                                 "transcriptions": f"{uri}/Transcriptions.json"},
        }
        # A WAV of the same length of silence is too much for a fake: a RIFF header stands for it.
        wav = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(16) + b"data\x00\x00\x00\x00"
        with self._lock:
            self._recordings[(account_sid, sid)] = {"resource": resource, "mp3": bytes(mp3), "wav": wav,
                                                    "redirect": redirect}
        return "https://api.twilio.com" + uri

    def delete_recording(self, account_sid: str, recording_url: str) -> None:
        """The recording was deleted in Twilio's Console: its media and resource answer 404."""
        with self._lock:
            self._recordings.pop((account_sid, recording_url.rstrip("/").rsplit("/", 1)[1]), None)

    def messages(self, account_sid: str) -> list[dict]:
        with self._lock:
            return [dict(message) for message in self._messages[account_sid]]

    def calls(self, account_sid: str) -> list[dict]:
        with self._lock:
            return [dict(call) for call in self._calls[account_sid]]

    def applications(self, account_sid: str) -> list[dict]:
        """The account's TwiML Apps (Application resources), oldest first."""
        with self._lock:
            return [dict(application) for application in self._applications[account_sid].values()]

    def keys(self, account_sid: str) -> list[dict]:
        """The account's API keys as Twilio lists them: without their secrets (see `authenticate`)."""
        with self._lock:
            return [dict(key) for key in self._keys[account_sid].values()]

    def client(self, account_sid: str, auth_token: str | None = None, **http_options: Any) -> Client:
        """The real SDK client for this account, talking to this fake (which must be started)."""
        if self.base_url is None:
            raise RuntimeError("start the fake before asking for a client")
        if auth_token is None:
            with self._lock:
                auth_token = self._accounts[account_sid]["auth_token"]
        return Client(account_sid, auth_token, http_client=fake_http_client(self.base_url, **http_options))

    # -- fault injection ---------------------------------------------------------------------------

    def fail_next(self, count: int = 1, status: int = 429, code: int = 20429,
                  message: str = "Too many requests", after: int = 0) -> None:
        """The next `count` requests, whatever they are, answer this Twilio error; with `after`,
        that many requests are answered normally first (a failure in the middle of a job)."""
        with self._lock:
            self._faults.extend([None] * after + [_ApiError(status, code, message).response()] * count)

    def set_delay(self, seconds: float) -> None:
        """Every response waits this long first (for timeout tests)."""
        with self._lock:
            self._delay = seconds

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._delay = 0.0

    # -- HTTP --------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        query = _flatten(parse_qs(request.query, keep_blank_values=True))
        # The SDK form-encodes bodies; a JSON body is ignored by Twilio, so it is here too.
        is_form = request.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded")
        form = _flatten(parse_qs(request.body.decode(), keep_blank_values=True)) if is_form else {}
        with self._lock:
            account_sid = self._authenticated_account(request.headers.get("Authorization"))
            self.requests.append(TwilioRequest(request.method, request.path, query, form, account_sid))
            delay = self._delay
            fault = self._faults.popleft() if self._faults else None
            if fault is not None:
                response = fault
            else:
                response = self._respond(request, account_sid, form if request.method == "POST" else query)
        if delay:
            time.sleep(delay)
        return response

    def _respond(self, request: Request, account_sid: str | None, params: dict) -> Response:
        try:
            if account_sid is None:
                raise _unauthenticated()
            if request.path == "/v1/ContentAndApprovals" and request.method == "GET":
                return self._list_contents(account_sid, params)
            match, handlers = next(((match, handlers) for pattern, handlers in self._routes
                                    if (match := pattern.fullmatch(request.path))), (None, None))
            if match is None:
                raise _not_found(request.path)
            path_args = match.groupdict()
            if path_args.pop("account") != account_sid:
                raise _unauthenticated()
            handler = handlers.get(request.method)
            if handler is None:
                raise _ApiError(405, 20004, "Method not allowed")
            return handler(account_sid, params, path=request.path, **path_args)
        except _ApiError as error:
            return error.response()

    def _authenticated_account(self, header: str | None) -> str | None:
        if not header or not header.startswith("Basic "):
            return None
        try:
            username, _, password = base64.b64decode(header.removeprefix("Basic ")).decode().partition(":")
        except ValueError:
            return None
        return self._authenticate(username, password)

    def _authenticate(self, username: str, password: str) -> str | None:
        expected, account_sid = self._credentials.get(username, (None, None))
        return account_sid if expected is not None and expected == password else None

    # -- endpoints (called with the lock held) -----------------------------------------------------

    def _list_contents(self, account_sid: str, params: dict) -> Response:
        """GET /v1/ContentAndApprovals (Twilio's v1 paging: `contents`, and `meta` with the page
        URLs, `next_page_url` null on the last page; PageSize at most 1000, Page and PageToken)."""
        try:
            size = max(1, min(int(params.get("PageSize") or 50), 1000))
            page = int(params.get("Page") or 0)
            start = int(str(params.get("PageToken") or "PT0").removeprefix("PT"))
        except ValueError:
            raise _ApiError(400, 20001, "Invalid paging parameters") from None
        contents = self._contents.get(account_sid, [])
        chunk = contents[start:start + size]
        url = f"{self.base_url}/v1/ContentAndApprovals"
        more = start + size < len(contents)
        return json_response(200, {"contents": chunk, "meta": {
            "page": page, "page_size": size, "first_page_url": f"{url}?PageSize={size}&Page=0",
            "previous_page_url": None, "url": f"{url}?PageSize={size}&Page={page}",
            "next_page_url": f"{url}?PageSize={size}&Page={page + 1}&PageToken=PT{start + size}" if more else None,
            "key": "contents"}})

    def _fetch_account(self, account_sid: str, params: dict, path: str) -> Response:
        return json_response(200, self._accounts[account_sid])

    def _list_numbers(self, account_sid: str, params: dict, path: str) -> Response:
        checks = []
        if "PhoneNumber" in params:
            pattern = _number_pattern(params["PhoneNumber"])
            checks.append(lambda number: pattern.search(number["phone_number"]))
        if "FriendlyName" in params:
            checks.append(lambda number: number["friendly_name"] == params["FriendlyName"])
        if "Origin" in params:
            checks.append(lambda number: number["origin"] == params["Origin"])
        numbers = self._numbers[account_sid].values()
        items = [number for number in numbers if all(check(number) for check in checks)]
        return self._paginate(path, params, items, "incoming_phone_numbers")

    def _paginate(self, path: str, params: dict, items: list[dict], list_key: str) -> Response:
        """A page as Twilio pages: `Page`/`PageSize`, and a `PageToken` (`PA`/`PB` + the sid on the far
        side of the boundary) that keeps the position stable when items come and go between pages."""
        page_size = min(int(params.get("PageSize", DEFAULT_PAGE_SIZE)), MAX_PAGE_SIZE)
        page = int(params.get("Page", 0))
        token = params.get("PageToken")
        offset = self._token_offset(items, token, page_size) if token else page * page_size
        chunk = items[offset:offset + page_size]
        filters = [(name, value) for name, value in params.items()
                   if name not in ("PageSize", "Page", "PageToken")]

        def page_uri(number: int, page_token: str | None = None) -> str:
            query = [*filters, ("PageSize", page_size), ("Page", number)]
            if page_token:
                query.append(("PageToken", page_token))
            return f"{path}?{urlencode(query, doseq=True)}"

        has_next = offset + len(chunk) < len(items)
        previous_token = "PB" + chunk[0]["sid"] if chunk else None
        return json_response(200, {
            "end": page * page_size + max(len(chunk) - 1, 0),
            "first_page_uri": page_uri(0),
            "next_page_uri": page_uri(page + 1, "PA" + chunk[-1]["sid"]) if has_next else None,
            "page": page,
            "page_size": page_size,
            "previous_page_uri": page_uri(page - 1, previous_token) if page else None,
            "start": page * page_size,
            "uri": page_uri(page, token),
            list_key: chunk,
        })

    def _token_offset(self, items: list[dict], token: str, page_size: int) -> int:
        direction, sid = token[:2], token[2:]
        if direction not in ("PA", "PB") or sid not in self._position:
            raise _ApiError(400, 21481, "Invalid PageToken")

        def position(item: dict) -> int:
            return self._position[item["sid"]]

        if direction == "PA":
            return bisect.bisect_right(items, self._position[sid], key=position)
        return max(bisect.bisect_left(items, self._position[sid], key=position) - page_size, 0)

    def _fetch_number(self, account_sid: str, params: dict, path: str, sid: str) -> Response:
        return json_response(200, self._owned_number(account_sid, sid, path))

    def _update_number(self, account_sid: str, params: dict, path: str, sid: str) -> Response:
        number = self._owned_number(account_sid, sid, path)
        number.update(_number_fields(params), date_updated=_now())
        return json_response(200, number)

    def _release_number(self, account_sid: str, params: dict, path: str, sid: str) -> Response:
        self._owned_number(account_sid, sid, path)
        self._remove_number(account_sid, sid)
        return Response(204)

    def _buy_number(self, account_sid: str, params: dict, path: str) -> Response:
        phone_number, area_code = params.get("PhoneNumber"), params.get("AreaCode")
        if phone_number:
            if phone_number in BUY_ERRORS:
                code, message = BUY_ERRORS[phone_number]
                raise _ApiError(400, code, message.format(number=phone_number))
            if not _E164.fullmatch(phone_number):
                raise _ApiError(400, 21421, f"PhoneNumber {phone_number} is not valid.")
            if phone_number in self._owners:
                raise _ApiError(400, 21422, f"PhoneNumber {phone_number} is not available.")
        elif area_code:
            _check_area_code(area_code)
            phone_number = next((candidate for candidate, _ in self._candidates(area_code)), None)
            if phone_number is None:
                raise _ApiError(400, 21452, f"No phone numbers found in area code {area_code}.")
        else:
            # Twilio does not document the code of this case; 21421 (invalid number) is the closest.
            raise _ApiError(400, 21421, "A PhoneNumber or an AreaCode is required.")
        number = self._store_number(account_sid, phone_number, _now(), _number_fields(params))
        return json_response(201, number)

    def _search_available(self, account_sid: str, params: dict, path: str, country: str,
                          kind: str) -> Response:
        if country not in NANP_COUNTRIES:
            raise _not_found(path)
        area_code = params.get("AreaCode") or DEFAULT_AREA_CODE[kind]
        _check_area_code(area_code)
        if (area_code in TOLL_FREE_AREA_CODES) != (kind == "TollFree"):
            return json_response(200, {"uri": path, "available_phone_numbers": []})
        contains = _number_pattern(params["Contains"]) if params.get("Contains") else None
        wanted = {capability: _boolean(params[name]) for name, capability in (
            ("VoiceEnabled", "voice"), ("SmsEnabled", "sms"), ("MmsEnabled", "mms"), ("FaxEnabled", "fax"),
        ) if name in params}
        limit = min(int(params.get("PageSize", AVAILABLE_PAGE_SIZE)), MAX_PAGE_SIZE)
        found = []
        for phone_number, capabilities in self._candidates(area_code):
            if len(found) == limit:
                break
            if contains and not contains.search(phone_number):
                continue
            if any(capabilities[name] != value for name, value in wanted.items()):
                continue
            found.append(self._available_number(phone_number, country, area_code, capabilities))
        # Twilio answers this list with `uri` and the list only: no other paging keys.
        return json_response(200, {"uri": path, "available_phone_numbers": found})

    def _create_message(self, account_sid: str, params: dict, path: str) -> Response:
        to, sender = _single(params.get("To")), _single(params.get("From"))
        service_sid = _single(params.get("MessagingServiceSid"))
        body, media = _single(params.get("Body")) or "", _listed(params.get("MediaUrl"))
        if not to:
            raise _ApiError(400, 21604, "A 'To' phone number is required.")
        if not sender and not service_sid:
            raise _ApiError(400, 21603, "A 'From' phone number is required.")
        if not body and not media and not params.get("ContentSid"):
            raise _ApiError(400, 21619, "A text message body or media urls must be specified.")
        if sender:
            self._check_sender(account_sid, sender, MESSAGE_FROM_ERRORS, 21606, NOT_AN_SMS_SENDER)
        _check_magic(to, MESSAGE_TO_ERRORS)
        # MMS get "MM" sids; a messaging service accepts first and picks a sender later.
        sid = ("MM" if media else "SM") + uuid.uuid4().hex
        if params.get("ScheduleType") == "fixed":
            status = "scheduled"
        else:
            status = "accepted" if service_sid else "queued"
        now = _now()
        uri = f"/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}"
        message = {
            "account_sid": account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender,
            "messaging_service_sid": service_sid,
            "num_media": str(len(media)),
            "num_segments": str(_segments(body)),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": status,
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": to,
            "uri": f"{uri}.json",
        }
        self._messages[account_sid].append(message)
        return json_response(201, message)

    def _fetch_media(self, account_sid: str, params: dict, path: str, message: str, media: str) -> Response:
        item = self._media.get(path)
        if item is None:
            raise _not_found(path)
        if item["redirect"]:
            return Response(307, b"", {"Location": item["redirect"]})
        return Response(200, item["content"], {"Content-Type": item["content_type"]})

    def _fetch_recording(self, account_sid: str, params: dict, path: str, sid: str, extension: str | None) -> Response:
        item = self._recordings.get((account_sid, sid))
        if item is None:
            raise _not_found(path)
        if extension == ".json":
            return json_response(200, item["resource"])
        if item["redirect"]:
            return Response(307, b"", {"Location": item["redirect"]})
        if extension == ".mp3":
            return Response(200, item["mp3"], {"Content-Type": "audio/mpeg"})
        return Response(200, item["wav"], {"Content-Type": "audio/x-wav"})

    def _create_call(self, account_sid: str, params: dict, path: str) -> Response:
        to, sender = _single(params.get("To")), _single(params.get("From"))
        if not to:
            raise _ApiError(400, 21201, "No 'To' number is specified")
        if not sender:
            raise _ApiError(400, 21213, "No 'From' number is specified")
        if not any(params.get(name) for name in ("Url", "Twiml", "ApplicationSid")):
            raise _ApiError(400, 21205, "Url parameter is required. Provide a Url, Twiml or ApplicationSid.")
        self._check_sender(account_sid, sender, CALL_FROM_ERRORS, 21210, NOT_A_CALLER_ID)
        _check_magic(to, CALL_TO_ERRORS)
        sid = "CA" + uuid.uuid4().hex
        now = _now()
        uri = f"/{API_VERSION}/Accounts/{account_sid}/Calls/{sid}"
        owner, number_sid = self._owners.get(sender, (None, None))
        call = {
            "account_sid": account_sid,
            "answered_by": None,
            "api_version": API_VERSION,
            "caller_name": None,
            "date_created": now,
            "date_updated": now,
            "direction": "outbound-api",
            "duration": None,
            "end_time": None,
            "forwarded_from": None,
            "from": sender,
            "from_formatted": _friendly(sender),
            "group_sid": None,
            "parent_call_sid": None,
            "phone_number_sid": number_sid if owner == account_sid else None,
            "price": None,
            "price_unit": "USD",
            "queue_time": "0",
            "sid": sid,
            "start_time": None,
            "status": "queued",
            "subresource_uris": {name: f"{uri}/{resource}.json" for name, resource in (
                ("notifications", "Notifications"), ("recordings", "Recordings"), ("events", "Events"))},
            "to": to,
            "to_formatted": _friendly(to),
            "trunk_sid": None,
            "uri": f"{uri}.json",
        }
        self._calls[account_sid].append(call)
        return json_response(201, call)

    def _list_applications(self, account_sid: str, params: dict, path: str) -> Response:
        items = list(self._applications[account_sid].values())
        if "FriendlyName" in params:
            items = [item for item in items if item["friendly_name"] == params["FriendlyName"]]
        return self._paginate(path, params, items, "applications")

    def _create_application(self, account_sid: str, params: dict, path: str) -> Response:
        fields = _application_fields(params)
        sid = "AP" + uuid.uuid4().hex
        now = _now()
        application = {
            "account_sid": account_sid,
            "api_version": API_VERSION,
            "date_created": now,
            "date_updated": now,
            "friendly_name": None,
            "message_status_callback": None,
            "public_application_connect_enabled": False,
            "sid": sid,
            "sms_fallback_method": "POST",
            "sms_fallback_url": None,
            "sms_method": "POST",
            "sms_status_callback": None,
            "sms_url": None,
            "status_callback": None,
            "status_callback_method": "POST",
            "uri": f"/{API_VERSION}/Accounts/{account_sid}/Applications/{sid}.json",
            "voice_caller_id_lookup": False,
            "voice_fallback_method": "POST",
            "voice_fallback_url": None,
            "voice_method": "POST",
            "voice_url": None,
            **fields,
        }
        self._applications[account_sid][sid] = application
        self._position[sid] = next(self._positions)
        return json_response(201, application)

    def _owned_application(self, account_sid: str, sid: str, path: str) -> dict:
        application = self._applications[account_sid].get(sid)
        if application is None:
            raise _not_found(path)
        return application

    def _fetch_application(self, account_sid: str, params: dict, path: str, sid: str) -> Response:
        return json_response(200, self._owned_application(account_sid, sid, path))

    def _update_application(self, account_sid: str, params: dict, path: str, sid: str) -> Response:
        application = self._owned_application(account_sid, sid, path)
        application.update(_application_fields(params), date_updated=_now())
        return json_response(200, application)

    def _delete_application(self, account_sid: str, params: dict, path: str, sid: str) -> Response:
        self._owned_application(account_sid, sid, path)
        del self._applications[account_sid][sid]
        return Response(204)

    def _list_keys(self, account_sid: str, params: dict, path: str) -> Response:
        return self._paginate(path, params, list(self._keys[account_sid].values()), "keys")

    def _create_key(self, account_sid: str, params: dict, path: str) -> Response:
        sid = "SK" + uuid.uuid4().hex
        secret = uuid.uuid4().hex  # 32 characters, as Twilio's secrets are
        now = _now()
        key = {"date_created": now, "date_updated": now, "friendly_name": _single(params.get("FriendlyName")),
               "sid": sid}
        self._keys[account_sid][sid] = key
        self._position[sid] = next(self._positions)
        # The key opens its account from now on, in place of the account sid and auth token.
        self._credentials[sid] = (secret, account_sid)
        # The secret is in this answer only: Twilio never shows it again.
        return json_response(201, {**key, "secret": secret})

    def _owned_key(self, account_sid: str, sid: str, path: str) -> dict:
        key = self._keys[account_sid].get(sid)
        if key is None:
            raise _not_found(path)
        return key

    def _fetch_key(self, account_sid: str, params: dict, path: str, sid: str) -> Response:
        return json_response(200, self._owned_key(account_sid, sid, path))

    def _update_key(self, account_sid: str, params: dict, path: str, sid: str) -> Response:
        key = self._owned_key(account_sid, sid, path)
        if "FriendlyName" in params:
            key["friendly_name"] = _single(params["FriendlyName"])
        key["date_updated"] = _now()
        return json_response(200, key)

    def _delete_key(self, account_sid: str, params: dict, path: str, sid: str) -> Response:
        self._owned_key(account_sid, sid, path)
        del self._keys[account_sid][sid]
        self._credentials.pop(sid, None)  # a deleted key authenticates nothing any more
        return Response(204)

    # -- helpers (called with the lock held) -------------------------------------------------------

    @staticmethod
    def _api_error(status: int, code: int, message: str) -> _ApiError:
        return _ApiError(status, code, message)

    @staticmethod
    def _one(value):
        return _single(value)

    @staticmethod
    def _now_text() -> str:
        return _now()

    def _store_number(self, account_sid: str, phone_number: str, created: str, fields: dict) -> dict:
        if account_sid not in self._accounts:
            raise ValueError(f"unknown account {account_sid}; add_account() first")
        if phone_number in self._owners:
            raise ValueError(f"{phone_number} is already owned by {self._owners[phone_number][0]}")
        sid = "PN" + uuid.uuid4().hex
        number = {
            "account_sid": account_sid,
            "address_requirements": "none",
            "address_sid": None,
            "api_version": API_VERSION,
            "beta": False,
            "bundle_sid": None,
            "capabilities": {"voice": True, "sms": True, "mms": True, "fax": False},
            "date_created": created,
            "date_updated": created,
            "emergency_address_sid": None,
            "emergency_address_status": "unregistered",
            "emergency_status": "Inactive",
            "friendly_name": _friendly(phone_number),
            "identity_sid": None,
            "origin": "twilio",
            "phone_number": phone_number,
            "sid": sid,
            "sms_application_sid": None,
            "sms_fallback_method": "POST",
            "sms_fallback_url": "",
            "sms_method": "POST",
            "sms_url": "",
            "status": "in-use",
            "status_callback": "",
            "status_callback_method": "POST",
            "trunk_sid": None,
            "type": "toll-free" if _area_code(phone_number) in TOLL_FREE_AREA_CODES else "local",
            "uri": f"/{API_VERSION}/Accounts/{account_sid}/IncomingPhoneNumbers/{sid}.json",
            "voice_application_sid": None,
            "voice_caller_id_lookup": False,
            "voice_fallback_method": "POST",
            "voice_fallback_url": "",
            "voice_method": "POST",
            "voice_receive_mode": "voice",
            "voice_url": "",
            **fields,
        }
        self._numbers[account_sid][sid] = number
        self._owners[phone_number] = (account_sid, sid)
        self._position[sid] = next(self._positions)
        return number

    def _remove_number(self, account_sid: str, sid: str) -> None:
        number = self._numbers[account_sid].pop(sid)
        del self._owners[number["phone_number"]]

    def _owned_number(self, account_sid: str, sid: str, path: str) -> dict:
        number = self._numbers[account_sid].get(sid)
        if number is None:
            raise _not_found(path)
        return number

    def _candidates(self, area_code: str):
        """Numbers for sale in an area code, in a fixed order: +1 <area> 555 0000..9999, minus owned ones."""
        if area_code == NO_NUMBERS_AREA_CODE:
            return
        for line in range(10_000):
            phone_number = f"+1{area_code}555{line:04d}"
            if phone_number not in self._owners:
                # Every fourth candidate lacks MMS, so capability filters have something to filter.
                yield phone_number, {"voice": True, "sms": True, "mms": line % 4 != 3, "fax": False}

    def _available_number(self, phone_number: str, country: str, area_code: str,
                          capabilities: dict[str, bool]) -> dict:
        area = AREAS.get(area_code)
        if self._upper_capabilities:
            capabilities = {"voice": capabilities["voice"], "SMS": capabilities["sms"],
                            "MMS": capabilities["mms"]}
        return {
            "address_requirements": "none",
            "beta": False,
            "capabilities": capabilities,
            "friendly_name": _friendly(phone_number),
            "iso_country": country,
            "lata": area.lata if area else None,
            "latitude": area.latitude if area else None,
            "locality": area.locality if area else None,
            "longitude": area.longitude if area else None,
            "phone_number": phone_number,
            "postal_code": area.postal_code if area else None,
            "rate_center": area.rate_center if area else None,
            "region": area.region if area else None,
        }

    def _check_sender(self, account_sid: str, sender: str, magic: dict, not_owned_code: int,
                      not_owned_message: str) -> None:
        """Magic errors first; then a bare E.164 sender must be one of the account's numbers (or the
        magic valid sender), so a message sent from another tenant's number fails as it would live.
        Channel addresses (`whatsapp:+1...`, `client:...`) are not checked."""
        _check_magic(sender, magic)
        owner = self._owners.get(sender, (None,))[0]
        if _E164.fullmatch(sender) and sender != MAGIC_VALID_SENDER and owner != account_sid:
            raise _ApiError(400, not_owned_code, not_owned_message.format(number=sender))


def _number_fields(params: dict) -> dict:
    fields = {}
    for name in NUMBER_PARAMS:
        if name in params:
            value = _single(params[name])
            if name == "VoiceCallerIdLookup":
                value = _boolean(value)
            elif name.endswith("Sid"):
                value = value or None  # an empty string clears the sid
            fields[re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()] = value
    return fields


def _application_fields(params: dict) -> dict:
    fields = {}
    for name in APPLICATION_PARAMS:
        if name in params:
            value = _single(params[name])
            if name in _BOOLEAN_PARAMS:
                value = _boolean(value)
            elif name in _METHOD_PARAMS:
                value = value.upper()
                if value not in ("GET", "POST"):
                    # (?) Our sources do not give the code of this refusal; the spec allows GET|POST only.
                    raise _ApiError(400, 21208, f"{name} must be GET or POST.")
            else:
                value = value or None  # an empty string clears a URL
            fields[re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()] = value
    return fields


def _check_area_code(area_code: str) -> None:
    if not (len(area_code) == 3 and area_code.isdigit()):
        raise _ApiError(400, 21451, f"AreaCode {area_code} is not a valid North American area code.")


def _check_magic(address: str, errors: dict) -> None:
    number = address.split(":", 1)[-1]  # whatsapp:+1... behaves as +1...
    if number in errors:
        code, message = errors[number]
        raise _ApiError(400, code, message.format(number=number))


def _number_pattern(text: str) -> re.Pattern:
    """Twilio's number filters: a partial number, `*` for any digit, letters as on a keypad."""
    digits = text.upper().translate(_KEYPAD)
    return re.compile("".join(r"\d" if char == "*" else re.escape(char) for char in digits))


def _segments(body: str) -> int:
    """SMS segments of `body`: GSM-7 (160, or 153 per part) when it fits, else UCS-2 (70, or 67)."""
    if all(char in _GSM7 or char in _GSM7_EXTENDED for char in body):
        units = sum(2 if char in _GSM7_EXTENDED else 1 for char in body)
        single, part = 160, 153
    else:
        units = len(body.encode("utf-16-le")) // 2
        single, part = 70, 67
    return 1 if units <= single else math.ceil(units / part)


def _area_code(phone_number: str) -> str | None:
    return phone_number[2:5] if phone_number.startswith("+1") and len(phone_number) == 12 else None


def _friendly(phone_number: str) -> str:
    if _area_code(phone_number):
        return f"({phone_number[2:5]}) {phone_number[5:8]}-{phone_number[8:]}"
    return phone_number


def _boolean(value: str) -> bool:
    return value.lower() == "true"


def _single(value: str | list[str] | None) -> str | None:
    return value[0] if isinstance(value, list) else value


def _listed(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _flatten(params: dict[str, list[str]]) -> dict[str, str | list[str]]:
    return {name: values[0] if len(values) == 1 else values for name, values in params.items()}


def _require_sid(prefix: str, sid: str) -> None:
    if not re.fullmatch(prefix + r"[0-9a-fA-F]{32}", sid):
        raise ValueError(f"{sid!r} is not a Twilio sid ({prefix} + 32 hex digits), as the spec requires")


def _now() -> str:
    return format_datetime(datetime.now(UTC).replace(microsecond=0))


def _now_iso() -> str:
    """The v1 APIs' (Content) dates: ISO 8601 in UTC."""
    return datetime.now(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
