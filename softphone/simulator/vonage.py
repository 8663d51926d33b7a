"""Vonage as an HTTP fake: the Numbers API, the SMS API and the balance that verifies an account
(contracts/vonage), and the two webhooks Vonage sends (inbound SMS, delivery receipts), signed as
Vonage signs them with the account's signature secret.

Tests point VONAGE_REST_BASE_URL at it and assert on what it recorded (`requests`, `sent`); every
answer follows the contract's schemas, and the contract tests check every request and answer.
The signature is computed here independently of the product's adapter (what Vonage's documentation
describes), so the adapter is tested against Vonage's rule, not against itself.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from email.utils import formatdate
from urllib.parse import parse_qsl, urlencode

import requests

from .server import FakeServer, Request, Response, json_response

FEATURES = ["SMS", "VOICE"]


@dataclass
class VonageRequest:
    method: str
    path: str
    params: dict  # the query and the form together, credentials left out


@dataclass
class VonageAccount:
    api_key: str
    api_secret: str
    signature_secret: str
    signature_method: str = "md5hash"
    numbers: dict[str, dict] = field(default_factory=dict)  # msisdn -> ownednumber
    available: dict[str, dict] = field(default_factory=dict)  # msisdn -> availablenumber
    balance: float = 25.5


def vonage_signature(params: dict, secret: str, method: str) -> str:
    """Vonage's `sig` (Vonage, "Signing Messages"): sorted parameters as `&name=value`, with `&` and
    `=` in values replaced by `_`; MD5 of that and the secret, or an HMAC keyed with the secret."""
    text = ""
    for name in sorted(params):
        text += "&" + name + "=" + str(params[name]).replace("&", "_").replace("=", "_")
    if method == "md5hash":
        return hashlib.md5(text.encode() + secret.encode()).hexdigest()
    return hmac.new(secret.encode(), text.encode(), getattr(hashlib, method)).hexdigest()


class FakeVonage(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self.accounts: dict[str, VonageAccount] = {}
        self.requests: list[VonageRequest] = []
        self.sent: list[dict] = []  # every SMS accepted, with its message-id and the account's key
        # Every text either way, as a customer's phone shows them (softphone.simulator.carrier).
        self.messages: list[dict] = []
        self.probes: list[str] = []  # URLs checked with a GET before a number took them
        self.throttle_sends = 0  # the next N sends answer status 1 (Throttled)
        self._ids = itertools.count(1)
        # How Vonage reaches our webhooks: over HTTP by default; tests may hand it their test client
        # (`transport(method, url, body, headers) -> status code`).
        self.transport = None

    # What tests set up -----------------------------------------------------------------------------

    def add_account(self, api_key: str, api_secret: str, signature_secret: str, *,
                    signature_method: str = "md5hash") -> VonageAccount:
        account = VonageAccount(api_key, api_secret, signature_secret, signature_method)
        self.accounts[api_key] = account
        return account

    def add_number(self, api_key: str, e164: str, *, country: str = "US", features=None, mo_http_url: str = "") -> dict:
        msisdn = e164.removeprefix("+")
        number = {"country": country, "msisdn": msisdn, "type": "mobile-lvn", "features": list(features or FEATURES),
                  "moHttpUrl": mo_http_url}
        self.accounts[api_key].numbers[msisdn] = number
        return number

    def offer(self, api_key: str, e164: str, *, country: str = "US", features=None, cost: str = "0.90") -> None:
        msisdn = e164.removeprefix("+")
        self.accounts[api_key].available[msisdn] = {"country": country, "msisdn": msisdn, "type": "mobile-lvn",
                                                    "cost": cost, "features": list(features or FEATURES)}

    def number(self, api_key: str, e164: str) -> dict | None:
        return self.accounts[api_key].numbers.get(e164.removeprefix("+"))

    # What Vonage sends us ----------------------------------------------------------------------------

    def _signed(self, account: VonageAccount, params: dict) -> dict:
        params = {**params, "timestamp": str(int(time.time())), "nonce": str(uuid.uuid4())}
        params["sig"] = vonage_signature(params, account.signature_secret, account.signature_method)
        return params

    def inbound_sms(self, api_key: str, to: str, sender: str, text: str, *, as_json: bool = False,
                    message_id: str | None = None, url: str | None = None) -> int:
        """A customer's text to one of the account's numbers, posted to the number's inbound URL."""
        account = self.accounts[api_key]
        number = account.numbers[to.removeprefix("+")]
        message_id = message_id or self._message_id()
        self._log(message_id, sender, "+" + number["msisdn"], text)
        params = self._signed(account, {
            "msisdn": sender.removeprefix("+"), "to": number["msisdn"], "messageId": message_id,
            "text": text, "type": "unicode" if any(ord(c) > 127 for c in text) else "text", "keyword": text.split(" ")[0].upper() if text else "",
            "api-key": api_key, "message-timestamp": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        })
        return self._post(url or number["moHttpUrl"], params, as_json=as_json)

    def long_sms_parts(self, api_key: str, to: str, sender: str, text: str, *, per_part: int = 153) -> list[dict]:
        """A long text as Vonage delivers it: one inbound webhook per part, each with its own
        messageId and `concat`, `concat-ref`, `concat-total`, `concat-part` (send them with `post_part`)."""
        account = self.accounts[api_key]
        number = account.numbers[to.removeprefix("+")]
        chunks = [text[i:i + per_part] for i in range(0, len(text), per_part)]
        ref = str(next(self._ids) % 256)
        return [{"msisdn": sender.removeprefix("+"), "to": number["msisdn"], "messageId": self._message_id(),
                 "text": chunk, "type": "text", "keyword": "", "api-key": api_key,
                 "message-timestamp": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()), "concat": "true",
                 "concat-ref": ref, "concat-total": str(len(chunks)), "concat-part": str(index)}
                for index, chunk in enumerate(chunks, start=1)]

    def post_part(self, api_key: str, part: dict) -> int:
        account = self.accounts[api_key]
        number = account.numbers[part["to"]]
        return self._post(number["moHttpUrl"], self._signed(account, part), as_json=False)

    def delivery_receipt(self, message_id: str, status: str, *, err_code: str = "0", as_json: bool = False) -> int:
        """A delivery receipt for a message we were asked to send, posted to its callback."""
        message = next(m for m in self.sent if m["message-id"] == message_id)
        account = self.accounts[message["api_key"]]
        params = self._signed(account, {
            "msisdn": message["to"], "to": message["from"], "network-code": "310090", "messageId": message_id,
            "price": "0.00750000", "status": status, "scts": time.strftime("%y%m%d%H%M", time.gmtime()),
            "err-code": err_code, "api-key": account.api_key,
            "message-timestamp": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        })
        return self._post(message["callback"], params, as_json=as_json)

    def _post(self, url: str, params: dict, *, as_json: bool) -> int:
        """Post a webhook as Vonage does (a form, or JSON with the account's "POST-JSON" setting);
        returns the status code we answered."""
        if as_json:
            body, headers = json.dumps(params).encode(), {"Content-Type": "application/json"}
        else:
            body, headers = urlencode(params).encode(), {"Content-Type": "application/x-www-form-urlencoded"}
        return self._reach("POST", url, body, headers)

    def _reach(self, method: str, url: str, body: bytes = b"", headers: dict | None = None) -> int:
        if self.transport is not None:
            return self.transport(method, url, body, headers or {})
        try:
            return requests.request(method, url, data=body, headers=headers, timeout=10).status_code
        except requests.RequestException:
            return 0

    def _log(self, sid: str, sender: str, to: str, body: str) -> None:
        self.messages.append({"sid": sid, "from": sender, "to": to, "body": body,
                              "date_created": formatdate(usegmt=True)})
        del self.messages[:-500]

    def owner_of(self, e164: str) -> tuple[str, dict] | None:
        """(API key, number) of the account holding `e164`, or None."""
        for account in self.accounts.values():
            number = account.numbers.get(e164.removeprefix("+"))
            if number is not None:
                return account.api_key, number
        return None

    def listed_numbers(self) -> list[dict]:
        """Every number of every account, as a customer's phone lists them (E.164, inbound URL)."""
        return [{"phone_number": "+" + n["msisdn"], "friendly_name": "Vonage", "sms_url": n.get("moHttpUrl") or ""}
                for account in self.accounts.values() for n in account.numbers.values()]

    def _message_id(self) -> str:
        return f"{next(self._ids):016X}"

    # The API -----------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        params = dict(parse_qsl(request.query, keep_blank_values=True))
        if request.method == "POST":
            params.update(parse_qsl(request.body.decode(), keep_blank_values=True))
        account = self.accounts.get(params.pop("api_key", ""))
        secret = params.pop("api_secret", "")
        with self._lock:
            self.requests.append(VonageRequest(request.method, request.path, dict(params)))
        routes = {
            ("GET", "/account/get-balance"): self._balance,
            ("GET", "/account/numbers"): self._owned,
            ("GET", "/number/search"): self._search,
            ("POST", "/number/buy"): self._buy,
            ("POST", "/number/cancel"): self._cancel,
            ("POST", "/number/update"): self._update,
            ("POST", "/sms/json"): self._send,
        }
        handler = routes.get((request.method, request.path))
        if handler is None:
            return json_response(404, {"error-code": "404", "error-code-label": "not found"})
        if account is None or not hmac.compare_digest(account.api_secret.encode(), secret.encode()):
            if request.path == "/sms/json":
                return json_response(200, {"message-count": "1", "messages": [
                    {"status": "4", "error-text": "Bad Credentials"}]})
            return json_response(401, {"error-code": "401", "error-code-label": "authentication failed"})
        with self._lock:
            return handler(account, params)

    def _balance(self, account: VonageAccount, params: dict) -> Response:
        return json_response(200, {"value": account.balance, "autoReload": False})

    @staticmethod
    def _page(items: list[dict], params: dict) -> tuple[int, list[dict]]:
        size = min(int(params.get("size") or 10), 100)
        index = max(int(params.get("index") or 1), 1)
        pattern, how = params.get("pattern", ""), params.get("search_pattern", "0")
        if pattern:
            test = {"0": str.startswith, "1": str.__contains__, "2": str.endswith}[how]
            items = [i for i in items if test(i["msisdn"], pattern)]
        return len(items), items[(index - 1) * size:index * size]

    def _owned(self, account: VonageAccount, params: dict) -> Response:
        count, page = self._page(sorted(account.numbers.values(), key=lambda n: n["msisdn"]), params)
        body = {"count": count}
        if page:
            body["numbers"] = [dict(n) for n in page]
        return json_response(200, body)

    def _search(self, account: VonageAccount, params: dict) -> Response:
        items = [n for n in account.available.values() if n["country"] == params.get("country")]
        if params.get("features"):
            wanted = set(params["features"].split(","))
            items = [n for n in items if wanted <= set(n["features"])]
        count, page = self._page(sorted(items, key=lambda n: n["msisdn"]), params)
        return json_response(200, {"count": count, "numbers": [dict(n) for n in page]})

    @staticmethod
    def _done() -> Response:
        return json_response(200, {"error-code": "200", "error-code-label": "success"})

    @staticmethod
    def _refused(label: str) -> Response:
        return json_response(420, {"error-code": "420", "error-code-label": label})

    def _buy(self, account: VonageAccount, params: dict) -> Response:
        offered = account.available.pop(params.get("msisdn", ""), None)
        if offered is None or offered["country"] != params.get("country"):
            return self._refused("method failed")
        account.numbers[offered["msisdn"]] = {"country": offered["country"], "msisdn": offered["msisdn"],
                                              "type": offered["type"], "features": offered["features"]}
        return self._done()

    def _cancel(self, account: VonageAccount, params: dict) -> Response:
        if account.numbers.pop(params.get("msisdn", ""), None) is None:
            return self._refused("method failed")
        return self._done()

    def _update(self, account: VonageAccount, params: dict) -> Response:
        number = account.numbers.get(params.get("msisdn", ""))
        if number is None or number["country"] != params.get("country"):
            return self._refused("method failed")
        url = params.get("moHttpUrl")
        if url:
            # Vonage takes an inbound URL only if it answers a GET with 200.
            self.probes.append(url)
            if self._reach("GET", url) != 200:
                return self._refused("method failed")
        if url is not None:
            number["moHttpUrl"] = url
        return self._done()

    def _send(self, account: VonageAccount, params: dict) -> Response:
        if self.throttle_sends > 0:
            self.throttle_sends -= 1
            return json_response(200, {"message-count": "1", "messages": [{"status": "1", "error-text": "Throttled"}]})
        missing = [name for name in ("from", "to") if not params.get(name)]
        if missing:
            return json_response(200, {"message-count": "1", "messages": [
                {"status": "2", "error-text": f"Missing {missing[0]} param"}]})
        if params["from"] not in account.numbers:
            return json_response(200, {"message-count": "1", "messages": [
                {"status": "15", "error-text": "Illegal Sender Address - rejected"}]})
        text = params.get("text", "")
        per_part = 70 if params.get("type") == "unicode" else 160
        count = max(1, -(-len(text) // per_part)) if len(text) > per_part else 1
        parts = []
        for _ in range(count):
            message_id = self._message_id()
            parts.append({"to": params["to"], "message-id": message_id, "status": "0",
                          "remaining-balance": f"{account.balance:.8f}", "message-price": "0.00750000",
                          "network": "310090"})
            self.sent.append({**params, "message-id": message_id, "api_key": account.api_key})
        self._log(parts[0]["message-id"], "+" + params["from"], "+" + params["to"], text)
        return json_response(200, {"message-count": str(count), "messages": parts})
