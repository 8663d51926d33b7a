"""A stateful fake of the WhatsApp Cloud API (Meta's Graph API), served over real HTTP.

Adapters send with plain `requests` to `{base_url}/{version}/...` where they would send to
`https://graph.facebook.com/{version}/...`; any version (`v21.0`, `v19.0`, ...) is accepted. Answers and
errors follow PROVIDERS.md ("WhatsApp Cloud API") and Meta's Graph error envelope.

The 24-hour customer-service window starts CLOSED for every recipient: before sending a free-form
(non-template) message, a test must call `open_window(wa_id)`, as if the customer had just written to
us; otherwise the send fails with 131047, as it would on Meta. Templates need no window.

    with FakeWhatsApp() as fake:
        fake.add_phone_number("106540352242922", "15550783881")
        fake.open_window("16505551234")
        requests.post(f"{fake.base_url}/v21.0/106540352242922/messages",
                      headers={"Authorization": f"Bearer {fake.access_token}"},
                      json={"messaging_product": "whatsapp", "to": "16505551234", "type": "text",
                            "text": {"body": "Hello"}})
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from softphone.simulator.server import FakeServer, Request, Response, json_response

WINDOW_SECONDS = 24 * 60 * 60
MAX_TEXT_LENGTH = 4096
MESSAGE_TYPES = ("audio", "contacts", "document", "image", "interactive", "location", "reaction", "sticker",
                 "template", "text", "video")
MEDIA_TYPES = frozenset({"audio", "document", "image", "sticker", "video"})

RE_ENGAGEMENT_DETAILS = ("Message failed to send because more than 24 hours have passed since the customer "
                         "last replied to this number.")
UNDELIVERABLE_DETAILS = ("Unable to deliver message. The recipient may not be a WhatsApp user, may not have "
                         "accepted WhatsApp's latest terms, or may be using an old WhatsApp version.")

_VERSION = r"/v\d+\.\d+"
_MESSAGES = re.compile(_VERSION + r"/(?P<phone_number_id>[^/]+)/messages")
_TEMPLATES = re.compile(_VERSION + r"/(?P<waba_id>[^/]+)/message_templates")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
TEMPLATE_STATUSES = ("APPROVED", "PENDING", "REJECTED", "PAUSED", "DISABLED", "IN_APPEAL", "PENDING_DELETION",
                     "ARCHIVED", "LIMIT_EXCEEDED")
_OBJECT = re.compile(_VERSION + r"/(?P<id>[^/]+)")
_ACCOUNT_NUMBERS = re.compile(_VERSION + r"/(?P<waba_id>[^/]+)/phone_numbers")
# Meta's WhatsApp Business Phone Number object: the fields answered when none are asked for, and every
# field this fake knows (asking for another is Graph's error 100).
PHONE_NUMBER_DEFAULT_FIELDS = ("verified_name", "code_verification_status", "display_phone_number", "quality_rating",
                               "id")
PHONE_NUMBER_FIELDS = frozenset({*PHONE_NUMBER_DEFAULT_FIELDS, "name_status", "platform_type", "throughput",
                                 "messaging_limit_tier", "status"})
CODE_VERIFICATION_STATUSES = ("VERIFIED", "NOT_VERIFIED", "EXPIRED")
_DOWNLOAD = re.compile(r"/media-download/(?P<id>[^/]+)")


@dataclass(frozen=True, slots=True)
class WhatsAppRequest:
    """One request as the fake received it: `json` is the parsed body (None when empty or not JSON),
    `token` the access token presented (bearer header or `access_token` query parameter), or None."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    token: str | None


class _ApiError(Exception):
    """A Graph API error. WhatsApp's own errors carry `details`, answered under `error_data`."""

    def __init__(self, status: int, code: int, message: str, *, type: str = "OAuthException",
                 subcode: int | None = None, details: str | None = None, transient: bool = False) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.type = status, code, message, type
        self.subcode, self.details, self.transient = subcode, details, transient

    def response(self) -> Response:
        error: dict[str, Any] = {"message": self.message, "type": self.type, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.transient:
            error["is_transient"] = True
        if self.details is not None:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        error["fbtrace_id"] = secrets.token_urlsafe(17)
        response = json_response(self.status, {"error": error})
        if self.status == 401:
            challenge = f'OAuth "Facebook Platform" "invalid_token" "{self.message}"'
            response.headers["WWW-Authenticate"] = challenge
        return response


def _invalid_token() -> _ApiError:
    return _ApiError(401, 190, "Invalid OAuth access token - Cannot parse access token")


def _expired_token() -> _ApiError:
    """A token that was valid once (Graph's code 190, subcode 463: expired)."""
    when = time.strftime("%A, %d-%b-%y %H:%M:%S PST", time.gmtime(time.time() - 3600))
    return _ApiError(401, 190, f"Error validating access token: Session has expired on {when}. The current time is "
                               "later.", subcode=463)


def _unsupported(method: str, object_id: str) -> _ApiError:
    """Graph's answer for an id that does not exist (or that this token cannot see)."""
    return _ApiError(400, 100, f"Unsupported {method} request. Object with ID '{object_id}' does not exist, "
                               "cannot be loaded due to missing permissions, or does not support this "
                               "operation. Please read the Graph API documentation at "
                               "https://developers.facebook.com/docs/graph-api",
                     type="GraphMethodException", subcode=33)


def _required(name: str) -> _ApiError:
    return _ApiError(400, 100, f"(#100) The parameter {name} is required.",
                     details=f"The parameter {name} is required.")


def _invalid(details: str) -> _ApiError:
    return _ApiError(400, 100, "(#100) Invalid parameter", details=details)


def new_wamid(wa_id: str) -> str:
    """A message id shaped like Meta's: `wamid.` + base64 of a small record of the recipient and a
    random id (`wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI...`)."""
    digits = re.sub(r"\D", "", wa_id).encode()
    record = b"\x1c\x18" + bytes([len(digits)]) + digits + b"\x15\x02\x00\x11\x18\x12"
    return "wamid." + base64.b64encode(record + secrets.token_hex(9).upper().encode() + b"\x00").decode()


def _cursor(index: int) -> str:
    """An opaque paging cursor, as Graph's are (here: the position, encoded)."""
    return base64.urlsafe_b64encode(str(index).encode()).decode()


def _digits(wa_id: str) -> str:
    return re.sub(r"\D", "", wa_id)


class FakeWhatsApp(FakeServer):
    """Business phone numbers, customers' service windows and media, behind the Cloud API."""

    def __init__(self, access_token: str = "wa-test-token") -> None:
        super().__init__()
        self.access_token = access_token
        self._lock = threading.Lock()
        self._phone_numbers: dict[str, str] = {}  # phone number id -> display phone number
        self._number_details: dict[str, dict] = {}  # phone number id -> its other fields
        self._accounts: dict[str, list[str]] = {}  # WhatsApp Business Account id -> its phone number ids
        self._expired: set[str] = set()  # access tokens that were valid once
        self._windows: dict[str, float] = {}  # wa_id -> unix time of the customer's last message
        self._blocked: set[str] = set()
        self._media: dict[str, dict] = {}  # media id -> {"content", "mime_type"}
        self._sent: list[dict] = []
        self._faults: deque[_ApiError] = deque()
        self.requests: list[WhatsAppRequest] = []
        self._templates: dict[str, list[dict]] = {}  # business account id -> templates, oldest first
        self._phone_business: dict[str, str] = {}  # phone number id -> its business account id
        self._received: list[dict] = []  # customers' texts (the simulator's customer phone)
        self.webhook: dict | None = None  # the app's callback URL and secret (set_webhook)

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self.__dict__.setdefault("_received", [])  # a state saved before these existed
        self.__dict__.setdefault("webhook", None)

    # -- set-up and inspection -------------------------------------------------------------------

    def add_phone_number(self, phone_number_id: str, display_phone_number: str, *,
                         business_account_id: str | None = None, verified_name: str = "Test Business",
                         code_verification_status: str = "VERIFIED", quality_rating: str = "GREEN") -> None:
        """A business phone number that the access token may send from, in the WhatsApp Business Account
        `business_account_id` (listed by `GET /{waba-id}/phone_numbers`) when one is given."""
        assert code_verification_status in CODE_VERIFICATION_STATUSES
        with self._lock:
            self._phone_numbers[phone_number_id] = display_phone_number
            self._number_details[phone_number_id] = {
                "verified_name": verified_name, "code_verification_status": code_verification_status,
                "quality_rating": quality_rating, "name_status": "APPROVED", "platform_type": "CLOUD_API",
                "throughput": {"level": "STANDARD"}, "messaging_limit_tier": "TIER_1K", "status": "CONNECTED"}
            if business_account_id is not None:
                self._attach(phone_number_id, business_account_id)

    def set_webhook(self, *, url: str, app_secret: str) -> None:
        """The app's webhook, as set in Meta's console: where Meta posts, and the secret it signs with."""
        with self._lock:
            self.webhook = {"url": url, "app_secret": app_secret}

    def business_account_of(self, phone_number_id: str) -> str | None:
        with self._lock:
            return self._phone_business.get(phone_number_id)

    def phone_numbers(self) -> dict[str, str]:
        """Phone number id -> display phone number."""
        with self._lock:
            return dict(self._phone_numbers)

    def receive(self, *, phone_number_id: str, wa_id: str, body: str) -> dict:
        """A customer's text to one of the numbers, as Meta records it (the customer's window opens)."""
        wamid = new_wamid(wa_id)
        with self._lock:
            self._windows[wa_id] = time.time()
            received = {"wamid": wamid, "phone_number_id": phone_number_id, "from": wa_id, "body": body,
                        "at": time.time()}
            self._received.append(received)
            return dict(received)

    def conversation_with(self, wa_id: str) -> list[dict]:
        """What a customer and the numbers wrote each other, oldest first: {"mine", "body", "number"}."""
        with self._lock:
            received = [(m["at"], {"mine": True, "body": m["body"], "number": m["phone_number_id"]})
                        for m in self._received if m["from"] == wa_id]
            sent = [(m.get("_at", 0), {"mine": False, "body": (m.get("text") or {}).get("body", "(a template or media)"),
                                       "number": m["phone_number_id"]})
                    for m in self._sent if _digits(m.get("to", "")) == wa_id]
        return [entry for _, entry in sorted(received + sent, key=lambda pair: pair[0])]

    def has_phone_number(self, phone_number_id: str) -> bool:
        with self._lock:
            return phone_number_id in self._phone_numbers

    def add_business_account(self, business_account_id: str) -> None:
        """A WhatsApp Business Account the access token can read (with no numbers until some are added)."""
        with self._lock:
            self._accounts.setdefault(business_account_id, [])
            self._templates.setdefault(business_account_id, [])

    def set_code_verification_status(self, phone_number_id: str, status: str) -> None:
        """Meta's verification of the number's ownership: VERIFIED, NOT_VERIFIED or EXPIRED."""
        assert status in CODE_VERIFICATION_STATUSES
        with self._lock:
            self._number_details[phone_number_id]["code_verification_status"] = status

    def expire_token(self, token: str) -> None:
        """Every request with `token` answers Graph's 190 with subcode 463 (the session has expired)."""
        with self._lock:
            self._expired.add(token)

    def attach_to_business_account(self, phone_number_id: str, business_account_id: str) -> None:
        """The phone number belongs to this WhatsApp Business Account: a template it sends must be
        one of the account's, approved (a number attached to none may send any template)."""
        with self._lock:
            self._attach(phone_number_id, business_account_id)

    def add_template(self, business_account_id: str, *, name: str, language: str = "en_US", body: str,
                     status: str = "APPROVED", category: str = "UTILITY", header: dict | None = None,
                     footer: str = "", buttons: list[dict] | None = None, parameter_format: str = "POSITIONAL",
                     rejected_reason: str = "NONE") -> dict:
        """A message template of the business account, as the Graph API lists it (`components` built
        from the parts given, with example values as Meta requires them); returns it."""
        if status not in TEMPLATE_STATUSES:
            raise ValueError(f"unknown template status {status}")
        components: list[dict] = []
        if header is not None:
            components.append({"type": "HEADER", **header})
        body_component: dict = {"type": "BODY", "text": body}
        names = list(dict.fromkeys(_PLACEHOLDER.findall(body)))
        if names and parameter_format == "NAMED":
            body_component["example"] = {"body_text_named_params": [{"param_name": n, "example": f"<{n}>"} for n in names]}
        elif names:
            body_component["example"] = {"body_text": [[f"<{n}>" for n in names]]}
        components.append(body_component)
        if footer:
            components.append({"type": "FOOTER", "text": footer})
        if buttons:
            components.append({"type": "BUTTONS", "buttons": buttons})
        template = {"id": str(10**15 + secrets.randbelow(10**15)), "name": name, "language": language,
                    "status": status, "category": category, "parameter_format": parameter_format,
                    "components": components, "rejected_reason": rejected_reason}
        with self._lock:
            self._templates.setdefault(business_account_id, []).append(template)
            return copy.deepcopy(template)

    def set_template_status(self, business_account_id: str, name: str, status: str,
                            rejected_reason: str = "NONE") -> None:
        with self._lock:
            for template in self._templates.get(business_account_id, []):
                if template["name"] == name:
                    template["status"], template["rejected_reason"] = status, rejected_reason

    def remove_template(self, business_account_id: str, name: str) -> None:
        with self._lock:
            self._templates[business_account_id] = [t for t in self._templates.get(business_account_id, [])
                                                    if t["name"] != name]

    def open_window(self, wa_id: str, at: float | None = None) -> None:
        """The customer `wa_id` wrote to us at `at` (unix seconds, default now): free-form messages to
        them are allowed for 24 hours from then. `at` in the past tests an expired window."""
        with self._lock:
            self._windows[_digits(wa_id)] = time.time() if at is None else at

    def close_window(self, wa_id: str) -> None:
        with self._lock:
            self._windows.pop(_digits(wa_id), None)

    def window_open(self, wa_id: str) -> bool:
        with self._lock:
            return self._window_open(_digits(wa_id))

    def block(self, wa_id: str) -> None:
        """Every message to `wa_id` fails with 131026 (not on WhatsApp, blocked us, old app...)."""
        with self._lock:
            self._blocked.add(_digits(wa_id))

    def unblock(self, wa_id: str) -> None:
        with self._lock:
            self._blocked.discard(_digits(wa_id))

    def add_media(self, media_id: str, content: bytes, mime_type: str) -> dict:
        """Media a customer sent us (the ids inbound webhooks carry); returns its Graph metadata, whose
        `url` points at this fake once it is started."""
        with self._lock:
            self._media[media_id] = {"content": bytes(content), "mime_type": mime_type}
            return self._media_metadata(media_id)

    def sent(self) -> list[dict]:
        """The message bodies accepted, oldest first, each with `phone_number_id` and the `wamid` answered."""
        with self._lock:
            return [{key: value for key, value in copy.deepcopy(m).items() if key != "_at"} for m in self._sent]

    # -- fault injection ---------------------------------------------------------------------------

    def fail_next(self, count: int = 1, status: int = 500, code: int = 2,
                  message: str = "Service temporarily unavailable") -> None:
        """The next `count` requests, whatever they are, answer this Graph error (by default Meta's
        transient code 2; 503 is the other status Meta uses for it)."""
        with self._lock:
            self._faults.extend([_ApiError(status, code, message, transient=status >= 500)] * count)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    # -- HTTP --------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        query = {name: values[0] for name, values in parse_qs(request.query).items()}
        try:
            body = json.loads(request.body) if request.body else None
        except ValueError:
            body = None
        authorization = request.headers.get("Authorization") or ""
        token = authorization.removeprefix("Bearer ") if authorization.startswith("Bearer ") else None
        token = token or query.get("access_token")
        with self._lock:
            self.requests.append(WhatsAppRequest(request.method, request.path, query, body, token))
            try:
                if self._faults:
                    raise self._faults.popleft()
                if token in self._expired:
                    raise _expired_token()
                if token != self.access_token:
                    raise _invalid_token()
                return self._route(request, body)
            except _ApiError as error:
                return error.response()

    def _route(self, request: Request, body: Any) -> Response:
        path, method = request.path.rstrip("/"), request.method
        if match := _DOWNLOAD.fullmatch(path):
            if method != "GET" or match["id"] not in self._media:
                return Response(404, b"Not Found", {"Content-Type": "text/plain"})
            media = self._media[match["id"]]
            return Response(200, media["content"], {"Content-Type": media["mime_type"]})
        if (match := _MESSAGES.fullmatch(path)) and method == "POST":
            return self._send(match["phone_number_id"], body)
        if (match := _TEMPLATES.fullmatch(path)) and method == "GET" and match["waba_id"] in self._templates:
            return self._list_templates(request, match["waba_id"])
        if (match := _OBJECT.fullmatch(path)) and method == "GET" and match["id"] in self._media:
            return json_response(200, self._media_metadata(match["id"]))
        if (match := _OBJECT.fullmatch(path)) and method == "GET" and match["id"] in self._phone_numbers:
            return self._phone_number(match["id"], request)
        if (match := _ACCOUNT_NUMBERS.fullmatch(path)) and method == "GET" and match["waba_id"] in self._accounts:
            return self._account_numbers(match["waba_id"], request)
        object_id = path.removeprefix("/").partition("/")[2].partition("/")[0] or path
        raise _unsupported(method.lower(), object_id)

    # -- endpoints (called with the lock held) -----------------------------------------------------

    def _send(self, phone_number_id: str, body: Any) -> Response:
        if phone_number_id not in self._phone_numbers:
            raise _unsupported("post", phone_number_id)
        body = body if isinstance(body, dict) else {}
        message_type = self._validate(body)
        wa_id = _digits(body["to"])
        if wa_id in self._blocked:
            raise _ApiError(400, 131026, "(#131026) Message Undeliverable.", details=UNDELIVERABLE_DETAILS)
        if message_type != "template" and not self._window_open(wa_id):
            raise _ApiError(400, 131047, "(#131047) Re-engagement message", details=RE_ENGAGEMENT_DETAILS)
        if message_type == "template" and phone_number_id in self._phone_business:
            self._check_template(self._phone_business[phone_number_id], body["template"])
        wamid = new_wamid(wa_id)
        self._sent.append({**copy.deepcopy(body), "phone_number_id": phone_number_id, "wamid": wamid, "_at": time.time()})
        message: dict[str, str] = {"id": wamid}
        if message_type == "template":
            message["message_status"] = "accepted"
        return json_response(200, {
            "messaging_product": "whatsapp",
            "contacts": [{"input": body["to"], "wa_id": wa_id}],
            "messages": [message],
        })

    def _validate(self, body: dict) -> str:
        """Meta's checks of a message body; returns its type (`text` when left out, as Meta defaults)."""
        if "messaging_product" not in body:
            raise _required("messaging_product")
        if body["messaging_product"] != "whatsapp":
            raise _invalid(f"Param messaging_product must be one of {{WHATSAPP}} - got "
                           f"\"{body['messaging_product']}\".")
        to = body.get("to")
        if not to:
            raise _required("to")
        if not isinstance(to, str) or not _digits(to):
            raise _invalid(f"Param to must be a phone number - got {to!r}.")
        message_type = body.get("type", "text")
        if message_type not in MESSAGE_TYPES:
            names = ", ".join(name.upper() for name in MESSAGE_TYPES)
            raise _invalid(f"Param type must be one of {{{names}}} - got \"{message_type}\".")
        content = body.get(message_type)
        if not isinstance(content, dict):
            raise _required(message_type)
        if message_type == "text":
            if not isinstance(content.get("body"), str) or not content["body"]:
                raise _required("text['body']")
            if len(content["body"]) > MAX_TEXT_LENGTH:
                raise _invalid(f"Param text['body'] must be at most {MAX_TEXT_LENGTH} characters long.")
        elif message_type in MEDIA_TYPES:
            if ("link" in content) == ("id" in content):
                raise _invalid(f"Param {message_type} must have exactly one of link or id.")
        elif message_type == "template":
            if not content.get("name"):
                raise _required("template['name']")
            if not isinstance(content.get("language"), dict) or not content["language"].get("code"):
                raise _required("template['language']['code']")
        context = body.get("context")
        if context is not None and (not isinstance(context, dict) or not context.get("message_id")):
            raise _required("context['message_id']")
        return message_type

    def _list_templates(self, request: Request, waba_id: str) -> Response:
        """GET /{waba-id}/message_templates: `limit` per page (default 25), `after` a cursor from the
        previous page's `paging.cursors`; `paging.next` only while there are more."""
        query = {name: values[0] for name, values in parse_qs(request.query).items()}
        try:
            limit = max(1, min(int(query.get("limit", "25")), 1000))
            start = int(base64.urlsafe_b64decode(query["after"]).decode()) if query.get("after") else 0
        except (ValueError, UnicodeDecodeError):
            raise _invalid("Invalid cursor or limit.") from None
        fields = [f for f in query.get("fields", "").split(",") if f] or ["name", "parameter_format", "components",
                                                                          "language", "status", "category", "id"]
        templates = self._templates[waba_id]
        page = [{name: copy.deepcopy(t[name]) for name in fields if name in t} for t in templates[start:start + limit]]
        cursor = lambda at: base64.urlsafe_b64encode(str(at).encode()).decode()  # noqa: E731
        answer: dict = {"data": page}
        if page:
            answer["paging"] = {"cursors": {"before": cursor(start), "after": cursor(start + len(page))}}
            if start + len(page) < len(templates):
                answer["paging"]["next"] = (f"{self.base_url}/v21.0/{waba_id}/message_templates?limit={limit}"
                                            f"&after={cursor(start + len(page))}")
        return json_response(200, answer)

    def _check_template(self, waba_id: str, content: dict) -> None:
        """Meta's checks of a template send: known in that language, approved, one value per variable."""
        language = (content.get("language") or {}).get("code")
        found = next((t for t in self._templates.get(waba_id, [])
                      if t["name"] == content.get("name") and t["language"] == language), None)
        if found is None:
            raise _ApiError(400, 132001, "(#132001) Template name does not exist in the translation",
                            details=f"template name ({content.get('name')}) does not exist in {language}")
        if found["status"] == "PAUSED":
            raise _ApiError(400, 132015, "(#132015) Template is Paused", details="Template is paused due to low quality")
        if found["status"] != "APPROVED":
            raise _ApiError(400, 132016, "(#132016) Template is disabled",
                            details=f"Template status is {found['status']}")
        given = {str(c.get("type", "")).upper(): c.get("parameters") or [] for c in content.get("components") or []}
        for component in found["components"]:
            kind = component["type"]
            if kind not in ("HEADER", "BODY") or not component.get("text"):
                continue
            expected = list(dict.fromkeys(_PLACEHOLDER.findall(component["text"])))
            values = given.get(kind, [])
            if len(values) != len(expected) or any(not isinstance(v, dict) or v.get("type") != "text"
                                                    or not v.get("text") for v in values):
                raise _ApiError(400, 132000, "(#132000) Number of parameters does not match the expected number "
                                             "of params", details=f"{kind.lower()}: expected number of params "
                                                                  f"({len(expected)}) does not match the received "
                                                                  f"number of params ({len(values)})")
            if found["parameter_format"] == "NAMED" and [v.get("parameter_name") for v in values] != expected:
                raise _ApiError(400, 132000, "(#132000) Parameter names do not match the template's",
                                details=f"expected {expected}")

    def _phone_number(self, phone_number_id: str, request: Request) -> Response:
        """Meta's WhatsApp Business Phone Number object: the fields asked for (`fields=a,b`), and its id."""
        query = {name: values[0] for name, values in parse_qs(request.query).items()}
        asked = [name.strip() for name in query.get("fields", "").split(",") if name.strip()]
        for name in asked:
            if name not in PHONE_NUMBER_FIELDS:
                raise _ApiError(400, 100, f"(#100) Tried accessing nonexisting field ({name}) on node type "
                                          "(WhatsAppBusinessPhoneNumber)")
        number = {"display_phone_number": self._phone_numbers[phone_number_id],
                  **copy.deepcopy(self._number_details.get(phone_number_id, {})), "id": phone_number_id}
        return json_response(200, {name: number[name] for name in (*(asked or PHONE_NUMBER_DEFAULT_FIELDS), "id")
                                   if name in number})

    def _account_numbers(self, business_account_id: str, request: Request) -> Response:
        """`GET /{waba-id}/phone_numbers`: the account's numbers a page at a time (`limit`, `after`),
        with Graph's cursor paging (`next` only when there is a next page)."""
        query = {name: values[0] for name, values in parse_qs(request.query).items()}
        try:
            limit = max(1, min(int(query.get("limit", "25")), 100))
            start = int(base64.urlsafe_b64decode(query["after"]).decode()) if query.get("after") else 0
        except (ValueError, UnicodeDecodeError):
            raise _invalid("Param limit or after is invalid.") from None
        ids = self._accounts[business_account_id]
        page = ids[start:start + limit]
        data = [{"id": pid, "display_phone_number": self._phone_numbers[pid],
                 **{k: v for k, v in self._number_details.get(pid, {}).items()
                    if k in ("verified_name", "code_verification_status", "quality_rating")}} for pid in page]
        asked = [name.strip() for name in query.get("fields", "").split(",") if name.strip()]
        if asked:
            data = [{name: item[name] for name in (*asked, "id") if name in item} for item in data]
        body: dict[str, Any] = {"data": data}
        if page:
            body["paging"] = {"cursors": {"before": _cursor(start), "after": _cursor(start + len(page))}}
            if start + len(page) < len(ids):
                body["paging"]["next"] = (f"{self.base_url}{request.path}?limit={limit}"
                                          f"&after={_cursor(start + len(page))}")
        return json_response(200, body)

    # -- helpers (called with the lock held) -------------------------------------------------------

    def _attach(self, phone_number_id: str, business_account_id: str) -> None:
        """The number is one of the account's: listed by its phone_numbers edge, sending its templates."""
        self._phone_business[phone_number_id] = business_account_id
        self._templates.setdefault(business_account_id, [])
        numbers = self._accounts.setdefault(business_account_id, [])
        if phone_number_id not in numbers:
            numbers.append(phone_number_id)

    def _window_open(self, wa_id: str) -> bool:
        last_message = self._windows.get(wa_id)
        return last_message is not None and time.time() - last_message < WINDOW_SECONDS

    def _media_metadata(self, media_id: str) -> dict:
        media = self._media[media_id]
        return {
            "messaging_product": "whatsapp",
            "url": f"{self.base_url}/media-download/{media_id}",
            "mime_type": media["mime_type"],
            "sha256": hashlib.sha256(media["content"]).hexdigest(),
            "file_size": len(media["content"]),
            "id": media_id,
        }
