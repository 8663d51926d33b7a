"""Bandwidth as an HTTP fake: the OAuth 2.0 token endpoint, the account API (XML: the account, its
in-service numbers, available numbers, orders, disconnects, the messaging application and the
locations it serves) and the Messaging API v2 (JSON: messages and media), with the messaging
application's callbacks (JSON arrays, with the application's callback credentials as HTTP Basic).

One server serves all three: tests point BANDWIDTH_TOKEN_URL at `<base>/oauth2/token`,
BANDWIDTH_ACCOUNT_BASE_URL at `<base>/api/v1` and BANDWIDTH_MESSAGING_BASE_URL at `<base>/api/v2`.
Messages follow contracts/bandwidth/messaging.yml; the account API's XML follows Bandwidth's wire
format (the element names of contracts/bandwidth/numbers.yml, checked by the contract tests).
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from urllib.parse import parse_qsl

import requests

from .server import FakeServer, Request, Response, json_response

ACCOUNT_API = "/api/v1"
MESSAGING_API = "/api/v2"
TOKEN_PATH = "/oauth2/token"


@dataclass
class BandwidthRequest:
    method: str
    path: str  # under its API's base (/accounts/..., /users/...), or the token path
    query: dict
    body: bytes
    auth: str  # "bearer", "basic" or ""


@dataclass
class BandwidthAccount:
    account_id: str
    client_id: str
    client_secret: str
    company: str = "Acme Messaging Inc"
    numbers: list[str] = field(default_factory=list)  # ten-digit, in service
    available: list[str] = field(default_factory=list)
    applications: dict[str, dict] = field(default_factory=dict)  # id -> Application fields
    peers: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # application id -> [(site, peer)]
    orders: dict[str, dict] = field(default_factory=dict)
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)  # media name -> (body, content type)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _e(tag: str, text: str | None = None, *children: ET.Element) -> ET.Element:
    element = ET.Element(tag)
    if text is not None:
        element.text = text
    element.extend(children)
    return element


def _xml(status: int, root: ET.Element) -> Response:
    return Response(status, ET.tostring(root, encoding="utf-8", xml_declaration=True),
                    {"Content-Type": "application/xml"})


def _xml_error(status: int, code: str, description: str) -> Response:
    return _xml(status, _e("ErrorResponse", None, _e("ResponseStatus", None, _e("ErrorCode", code),
                                                     _e("Description", description))))


class FakeBandwidth(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self.accounts: dict[str, BandwidthAccount] = {}
        self.tokens: dict[str, tuple[str, float]] = {}  # token -> (account id, expiry, wall-clock seconds)
        self.requests: list[BandwidthRequest] = []
        self.sent: list[dict] = []  # every message accepted, as asked, with its id
        # Every message either way, as a customer's phone shows them (softphone.simulator.carrier).
        self.messages: list[dict] = []
        self.token_lifetime = 3600
        self.rate_limit_next = 0  # the next N message sends answer 429
        self._ids = itertools.count(1)
        # How Bandwidth reaches our webhooks: over HTTP by default; tests may hand it their test client
        # (`transport(method, url, body, headers) -> status code`).
        self.transport = None

    # What tests set up -----------------------------------------------------------------------------

    def add_account(self, account_id: str, client_id: str, client_secret: str, *, application_id: str,
                    callback_url: str = "https://old.example.com/bandwidth") -> BandwidthAccount:
        account = BandwidthAccount(account_id, client_id, client_secret)
        account.applications[application_id] = {
            "ApplicationId": application_id, "ServiceType": "Messaging-V2", "AppName": "Old messaging app",
            "InboundCallbackUrl": callback_url, "OutboundCallbackUrl": callback_url,
            "InboundCallbackCreds": {"UserId": "old-user", "Password": "old-password"},
            "OutboundCallbackCreds": {"UserId": "old-user", "Password": "old-password"},
        }
        account.peers[application_id] = [("11", "21")]
        self.accounts[account_id] = account
        return account

    def add_numbers(self, account_id: str, *e164s: str) -> None:
        self.accounts[account_id].numbers.extend(n.removeprefix("+1") for n in e164s)

    def offer(self, account_id: str, *e164s: str) -> None:
        self.accounts[account_id].available.extend(n.removeprefix("+1") for n in e164s)

    def application(self, account_id: str, application_id: str) -> dict:
        return self.accounts[account_id].applications[application_id]

    # What Bandwidth sends us -------------------------------------------------------------------------

    def _callback(self, account: BandwidthAccount, application_id: str, kind: str, events: list[dict]) -> int:
        app = account.applications[application_id]
        url = app.get(f"{kind}CallbackUrl") or app.get("CallbackUrl") or ""
        creds = app.get(f"{kind}CallbackCreds") or {}
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if creds.get("UserId"):
            basic = base64.b64encode(f"{creds['UserId']}:{creds.get('Password', '')}".encode()).decode()
            headers["Authorization"] = f"Basic {basic}"
        body = json.dumps(events).encode()
        if self.transport is not None:
            return self.transport("POST", url, body, headers)
        try:
            return requests.post(url, data=body, headers=headers, timeout=10).status_code
        except requests.RequestException:
            return 0

    def inbound_event(self, account_id: str, to: str, sender: str, text: str = "", *, media: list[str] = (),
                      application_id: str | None = None, message_id: str | None = None) -> dict:
        """A `message-received` event as Bandwidth sends it (and the media it names, served here)."""
        account = self.accounts[account_id]
        application_id = application_id or next(iter(account.applications))
        urls = []
        for index, (body, content_type) in enumerate(media or []):
            name = f"{uuid.uuid4()}/{index}/picture.jpg"
            account.media[name] = (body, content_type)
            urls.append(f"{self.base_url}{MESSAGING_API}/users/{account_id}/media/{name}")
        now = _now()
        message = {"id": message_id or f"{int(time.time() * 1000)}{next(self._ids):06d}", "owner": to,
                   "applicationId": application_id, "time": now, "segmentCount": 1, "direction": "in",
                   "to": [to], "from": sender, "text": text}
        if urls:
            message["media"] = urls
        self._log(message["id"], sender, to, text)
        return {"type": "message-received", "time": now, "description": "Incoming message received", "to": to,
                "message": message}

    def deliver_inbound(self, account_id: str, *events: dict) -> int:
        account = self.accounts[account_id]
        application_id = events[0]["message"]["applicationId"]
        return self._callback(account, application_id, "Inbound", list(events))

    def inbound(self, account_id: str, to: str, sender: str, text: str = "", **kwargs) -> int:
        return self.deliver_inbound(account_id, self.inbound_event(account_id, to, sender, text, **kwargs))

    def status_event(self, message_id: str, kind: str, *, error_code: int | None = None,
                     description: str = "") -> dict:
        sent = next(m for m in self.sent if m["id"] == message_id)
        event = {"type": kind, "time": _now(), "description": description or kind.replace("-", " "),
                 "to": sent["to"][0], "message": {
                     "id": message_id, "owner": sent["from"], "applicationId": sent["applicationId"],
                     "time": sent["time"], "segmentCount": 1, "direction": "out", "to": sent["to"],
                     "from": sent["from"], "text": ""}}
        # What each kind carries besides (messaging.yml's required fields): message-sending (sent for
        # MMS) its media and priority, delivered and failed the message's tag, failed its priority.
        if kind == "message-sending":
            event["message"].update(media=sent.get("media", []), priority=sent.get("priority", "default"))
        if kind in ("message-delivered", "message-failed"):
            event["message"]["tag"] = sent.get("tag", "")
        if kind == "message-failed":
            event["message"]["priority"] = sent.get("priority", "default")
            event["errorCode"] = error_code if error_code is not None else 4999
        elif error_code is not None:
            event["errorCode"] = error_code
        return event

    def deliver_status(self, account_id: str, *events: dict) -> int:
        account = self.accounts[account_id]
        return self._callback(account, events[0]["message"]["applicationId"], "Outbound", list(events))

    def _log(self, sid: str, sender: str, to: str, body: str) -> None:
        self.messages.append({"sid": sid, "from": sender, "to": to, "body": body,
                              "date_created": formatdate(usegmt=True)})
        del self.messages[:-500]

    def owner_of(self, e164: str) -> tuple[str, str] | None:
        """(account id, the messaging application id) of the account holding `e164`, or None."""
        for account in self.accounts.values():
            if e164.removeprefix("+1") in account.numbers:
                return account.account_id, next(iter(account.applications), "")
        return None

    def listed_numbers(self) -> list[dict]:
        """Every number of every account, as a customer's phone lists them (E.164, and where its
        messages go: the application's inbound URL)."""
        found = []
        for account in self.accounts.values():
            app = next(iter(account.applications.values()), {})
            url = app.get("InboundCallbackUrl") or app.get("CallbackUrl") or ""
            found += [{"phone_number": "+1" + n, "friendly_name": "Bandwidth", "sms_url": url} for n in account.numbers]
        return found

    # The APIs ----------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        query = dict(parse_qsl(request.query, keep_blank_values=True))
        authorization = request.headers.get("Authorization") or ""
        with self._lock:
            if request.path == TOKEN_PATH:
                self.requests.append(BandwidthRequest(request.method, request.path, query, request.body, "basic"))
                return self._token(request, authorization)
            base = ACCOUNT_API if request.path.startswith(ACCOUNT_API + "/") else (
                MESSAGING_API if request.path.startswith(MESSAGING_API + "/") else "")
            path = request.path[len(base):]
            self.requests.append(BandwidthRequest(request.method, path, query, request.body,
                                                  authorization.split(" ")[0].lower()))
            account = self._bearer(authorization)
            if base == "" or account is None:
                if base == MESSAGING_API:
                    return json_response(401, {"type": "unauthorized", "description": "Authentication Failed"})
                return _xml_error(401 if base else 404, "401" if base else "404",
                                  "Authentication failed" if base else "Not found")
            parts = path.strip("/").split("/")
            if base == MESSAGING_API:
                return self._messaging(request, account, parts)
            return self._account_api(request, account, parts, query)

    def _token(self, request: Request, authorization: str) -> Response:
        form = dict(parse_qsl(request.body.decode()))
        try:
            client_id, _, secret = base64.b64decode(authorization.split(" ", 1)[1]).decode().partition(":")
        except (IndexError, ValueError):
            client_id, secret = "", ""
        account = next((a for a in self.accounts.values() if a.client_id == client_id and a.client_secret == secret),
                       None)
        if request.method != "POST" or form.get("grant_type") != "client_credentials":
            return json_response(400, {"error": "unsupported_grant_type"})
        if account is None:
            return json_response(401, {"error": "invalid_client"})
        token = uuid.uuid4().hex
        self.tokens[token] = (account.account_id, time.time() + self.token_lifetime)
        return json_response(200, {"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime})

    def _bearer(self, authorization: str) -> BandwidthAccount | None:
        scheme, _, token = authorization.partition(" ")
        found = self.tokens.get(token) if scheme == "Bearer" else None
        if found is None or found[1] < time.time():
            return None
        return self.accounts.get(found[0])

    # Messaging API (JSON) ----------------------------------------------------------------------------

    def _messaging(self, request: Request, account: BandwidthAccount, parts: list[str]) -> Response:
        if parts[:2] != ["users", account.account_id]:
            return json_response(403, {"type": "forbidden", "description": "Not your account"})
        if parts[2:] == ["messages"] and request.method == "POST":
            if self.rate_limit_next > 0:
                self.rate_limit_next -= 1
                return json_response(429, {"type": "too-many-requests", "description": "Rate limit exceeded"})
            try:
                asked = json.loads(request.body)
            except ValueError:
                return json_response(400, {"type": "request-validation", "description": "Body is not JSON"})
            problems = [{"fieldName": name, "description": "is required"} for name in ("applicationId", "to", "from")
                        if not asked.get(name)]
            if not problems and asked["applicationId"] not in account.applications:
                problems.append({"fieldName": "applicationId", "description": "is not one of the account's"})
            if not problems and asked["from"].removeprefix("+1") not in account.numbers:
                problems.append({"fieldName": "from", "description": "is not a number of the account"})
            if problems:
                return json_response(400, {"type": "request-validation", "description": "Your request could not be "
                                           "accepted.", "fieldErrors": problems})
            message = {"id": f"{int(time.time() * 1000)}{next(self._ids):06d}", "owner": asked["from"],
                       "applicationId": asked["applicationId"], "time": _now(),
                       "segmentCount": max(1, -(-len(asked.get("text", "")) // 160)), "direction": "out",
                       "to": asked["to"], "from": asked["from"], "text": asked.get("text", "")}
            if asked.get("media"):
                message["media"] = asked["media"]
            self.sent.append(message)
            self._log(message["id"], message["from"], message["to"][0], message["text"]
                      + (" [picture]" * len(message.get("media") or [])))
            return json_response(202, message)
        if parts[2:3] == ["media"] and request.method == "GET":
            found = account.media.get("/".join(parts[3:]))
            if found is None:
                return json_response(404, {"type": "not-found", "description": "No such media"})
            return Response(200, found[0], {"Content-Type": found[1]})
        return json_response(404, {"type": "not-found", "description": "No such resource"})

    # Account API (XML) -------------------------------------------------------------------------------

    def _account_api(self, request: Request, account: BandwidthAccount, parts: list[str], query: dict) -> Response:
        if parts[:2] != ["accounts", account.account_id]:
            return _xml_error(403, "12703", "Access to that account is not allowed")
        rest, method = parts[2:], request.method
        if rest == [] and method == "GET":
            return _xml(200, _e("AccountResponse", None, _e("Account", None, _e("AccountId", account.account_id),
                                                                   _e("CompanyName", account.company),
                                                                   _e("AccountType", "Business"))))
        if rest == ["inserviceNumbers"] and method == "GET":
            return self._in_service(account, query)
        if rest[:1] == ["inserviceNumbers"] and len(rest) == 2 and method == "GET":
            return Response(200 if rest[1] in account.numbers else 404)
        if rest == ["availableNumbers"] and method == "GET":
            found = [n for n in account.available if n.startswith(query.get("areaCode", ""))]
            found = found[:int(query.get("quantity") or 10)]
            return _xml(200, _e("SearchResult", None, _e("ResultCount", str(len(found))),
                                _e("TelephoneNumberList", None, *[_e("TelephoneNumber", n) for n in found])))
        if rest == ["orders"] and method == "POST":
            return self._order(account, request.body)
        if rest[:1] == ["orders"] and len(rest) == 2 and method == "GET":
            order = account.orders.get(rest[1])
            if order is None:
                return _xml_error(404, "5005", "Order not found")
            completed = _e("CompletedNumbers", None, *[_e("TelephoneNumber", None, _e("FullNumber", n))
                                                       for n in order["numbers"]])
            return _xml(200, _e("OrderResponse", None, _e("CompletedQuantity", str(len(order["numbers"]))),
                                completed, _e("OrderStatus", order["status"])))
        if rest == ["disconnects"] and method == "POST":
            root = ET.fromstring(request.body)
            for tn in root.iterfind(".//TelephoneNumberList/TelephoneNumber"):
                if tn.text in account.numbers:
                    account.numbers.remove(tn.text)
            return _xml(201, _e("DisconnectTelephoneNumberOrderResponse", None,
                                _e("orderRequest", None, _e("id", str(uuid.uuid4())))))
        if rest[:1] == ["applications"] and len(rest) >= 2:
            return self._application(account, rest[1:], method, request.body)
        return _xml_error(404, "404", "Not found")

    def _in_service(self, account: BandwidthAccount, query: dict) -> Response:
        numbers = sorted(account.numbers)
        size, page = int(query.get("size") or 500), int(query.get("page") or 1)
        chunk = numbers[(page - 1) * size:page * size]
        if not chunk:
            return Response(204)
        links = _e("Links", None, _e("first", f"<{self.base_url}{ACCOUNT_API}/accounts/{account.account_id}/"
                                              f"inserviceNumbers?page=1&size={size}>;rel=\"first\";"))
        if page * size < len(numbers):
            links.append(_e("next", f"<{self.base_url}{ACCOUNT_API}/accounts/{account.account_id}/inserviceNumbers"
                                    f"?page={page + 1}&size={size}>;rel=\"next\";"))
        return _xml(200, _e("TNs", None, _e("TotalCount", str(len(numbers))), links,
                            _e("TelephoneNumbers", None, _e("Count", str(len(chunk))),
                               *[_e("TelephoneNumber", n) for n in chunk])))

    def _order(self, account: BandwidthAccount, body: bytes) -> Response:
        root = ET.fromstring(body)
        wanted = [tn.text or "" for tn in root.iterfind(".//TelephoneNumberList/TelephoneNumber")]
        site, peer = root.findtext("SiteId"), root.findtext("PeerId")
        if not any((site, peer) in peers for peers in account.peers.values()):
            return _xml_error(400, "5011", "The location is not one of the account's")
        order_id = str(uuid.uuid4())
        if all(tn in account.available for tn in wanted):
            for tn in wanted:
                account.available.remove(tn)
                account.numbers.append(tn)
            account.orders[order_id] = {"numbers": wanted, "status": "COMPLETE"}
        else:
            account.orders[order_id] = {"numbers": [], "status": "FAILED"}
        return _xml(201, _e("OrderResponse", None, _e("Order", None, _e("id", order_id),
                                                      _e("SiteId", site), _e("PeerId", peer)),
                            _e("OrderStatus", "RECEIVED")))

    def _application(self, account: BandwidthAccount, rest: list[str], method: str, body: bytes) -> Response:
        app = account.applications.get(rest[0])
        if app is None:
            return _xml_error(404, "1051", "Application not found")
        if rest[1:] == ["associatedsippeers"] and method == "GET":
            peers = [_e("AssociatedSipPeer", None, _e("SiteId", s), _e("SiteName", "Main"), _e("PeerId", p),
                        _e("PeerName", "Messaging")) for s, p in account.peers.get(rest[0], [])]
            return _xml(200, _e("AssociatedSipPeersResponse", None, _e("AssociatedSipPeers", None, *peers)))
        if rest[1:]:
            return _xml_error(404, "404", "Not found")
        if method == "PUT":
            given = ET.fromstring(body)
            app.clear()
            app["ApplicationId"] = rest[0]
            for child in given:
                if len(child):
                    app[child.tag] = {grand.tag: grand.text or "" for grand in child}
                else:
                    app[child.tag] = child.text or ""
        elif method != "GET":
            return _xml_error(405, "405", "Method not allowed")
        element = _e("Application")
        for name, value in app.items():
            if isinstance(value, dict):  # credentials: Bandwidth never shows a password back
                element.append(_e(name, None, *[_e(k, v) for k, v in value.items() if k != "Password"]))
            else:
                element.append(_e(name, value))
        return _xml(200, _e("ApplicationProvisioningResponse", None, element))
