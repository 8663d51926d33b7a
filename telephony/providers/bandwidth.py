"""Bandwidth adapter for numbers: the only module that knows Bandwidth's account API (Dashboard,
XML; contracts/bandwidth/numbers.yml). Messages are messaging/providers/bandwidth.py (Messaging API
v2, JSON), on the same credentials.

Bandwidth authenticates with an API credential (OAuth 2.0 client credentials: a client id and secret
exchanged for an hour's bearer token at ``settings.BANDWIDTH_TOKEN_URL``; its older API users stopped
working on 2026-12-02), on ``settings.BANDWIDTH_ACCOUNT_BASE_URL`` only. Its numbers carry no URLs: a *messaging application*
receives every number's messages, so our webhooks are set on the application, once per account
(`configure_account_webhooks`), with callback credentials we generate; what the application called
before is kept on the account and given back when the account is disconnected. Numbers bought here
are ordered into a location (SIP peer) the application serves, so their messages reach it. Voice on
Bandwidth is not carried here: its numbers are messaging-only.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit

import requests
from django.conf import settings

from core.vendor_http import VendorHttp, segment

from .base import (
    AccountInfo,
    AccountWebhooks,
    AvailableNumber,
    Capabilities,
    IncomingNumber,
    NumberPage,
    ProviderError,
    TelephonyProvider,
    WebhookUrls,
)

PAGE_LARGEST = 500
ORDER_WAIT = 10.0  # seconds an order is waited for (Bandwidth completes most in one or two)
MESSAGING = Capabilities(voice=False, sms=True, mms=True)
READABLE = {
    401: "Bandwidth rejected the API credential (check the client id and secret).",
    403: "Bandwidth refused: the API user may not do this on the account (check its roles).",
    404: "Bandwidth has no such resource (check the account id and the messaging application id).",
    429: "Bandwidth is rate limiting requests; try again shortly.",
}


def _xml(response: requests.Response) -> ET.Element | None:
    """The answer's XML, or None. Documents with a DTD are refused unread: Bandwidth sends none, and
    entity expansion is how XML hurts a parser."""
    body = response.content or b""
    if not body.strip() or b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        return None
    try:
        return ET.fromstring(body)
    except ET.ParseError:
        return None


def _text(root: ET.Element | None, path: str) -> str:
    found = root.find(path) if root is not None else None
    return (found.text or "").strip() if found is not None else ""


def _error(response: requests.Response) -> ProviderError:
    root = _xml(response)
    # Bandwidth's errors: <ResponseStatus><ErrorCode/><Description/></ResponseStatus>, or an <Error> in a list.
    description = _text(root, ".//Description") if root is not None else ""
    code = _text(root, ".//ErrorCode") or _text(root, ".//Code") or str(response.status_code)
    readable = READABLE.get(response.status_code) or (
        f"Bandwidth refused the request: {description[:200]}" if description else
        f"Bandwidth refused the request (HTTP {response.status_code}).")
    permanent = response.status_code < 500 and response.status_code != 429
    return ProviderError(readable, permanent=permanent, code=code, gone=False)


def _element(tag: str, *children, text: str | None = None) -> ET.Element:
    element = ET.Element(tag)
    element.text = text
    element.extend(children)
    return element


def ten_digits(e164: str) -> str:
    """A North American number as Bandwidth's account API writes it (4155550100)."""
    digits = re.sub(r"\D", "", e164 or "")
    return digits[1:] if len(digits) == 11 and digits.startswith("1") else digits


def e164_of(tn: str) -> str:
    digits = re.sub(r"\D", "", tn or "")
    return "+1" + digits if len(digits) == 10 else "+" + digits


def _incoming(tn: str) -> IncomingNumber:
    return IncomingNumber(sid=ten_digits(tn), phone_number=e164_of(tn), friendly_name="", capabilities=MESSAGING,
                          metadata={"carrier_features": ["SMS", "MMS"], "messaging_only": True})


# Access tokens by (client id, digest of the secret): each process asks Bandwidth once an hour.
_tokens: dict[tuple[str, str], tuple[str, float]] = {}
_tokens_lock = threading.Lock()
TOKEN_MARGIN = 60.0  # seconds before expiry a token is renewed


class BandwidthCredentials:
    """An API credential's client id and secret (OAuth 2.0 client credentials), and the bearer
    token they are exchanged for at ``settings.BANDWIDTH_TOKEN_URL``. The secret goes to that
    endpoint only; the APIs see the token."""

    def __init__(self, client_id: str, client_secret: str):
        self.client_id = client_id
        self._secret = client_secret
        self._key = (client_id, hashlib.sha256(client_secret.encode()).hexdigest())

    def token(self) -> str:
        with _tokens_lock:
            cached = _tokens.get(self._key)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        http = VendorHttp(settings.BANDWIDTH_TOKEN_URL, label="Bandwidth", timeout=settings.BANDWIDTH_HTTP_TIMEOUT,
                          retries=settings.BANDWIDTH_RETRIES_ON_429)
        response = http.request("POST", "", data={"grant_type": "client_credentials"},
                                auth=(self.client_id, self._secret))
        try:
            answer = response.json() if response.status_code == 200 else {}
        except ValueError:
            answer = {}
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not token:
            if response.status_code in (400, 401, 403):
                raise ProviderError("Bandwidth rejected the API credential (check the client id and secret).",
                                    permanent=True, code=response.status_code)
            raise ProviderError("Bandwidth's sign-in could not be completed; try again shortly.", permanent=False,
                                code=response.status_code)
        try:
            lifetime = float(answer.get("expires_in") or 3600)
        except (TypeError, ValueError):
            lifetime = 3600.0
        with _tokens_lock:
            _tokens[self._key] = (str(token), time.monotonic() + max(lifetime - TOKEN_MARGIN, 1.0))
        return str(token)

    def forget(self) -> None:
        with _tokens_lock:
            _tokens.pop(self._key, None)

    def request(self, http: VendorHttp, method: str, path: str, **kwargs) -> requests.Response:
        """A request with the bearer token; a 401 (the token revoked or expired early) gets one new token."""
        for attempt in (1, 2):
            headers = {**kwargs.pop("headers", {}), "Authorization": f"Bearer {self.token()}"}
            response = http.request(method, path, headers=headers, **kwargs)
            kwargs["headers"] = {k: v for k, v in headers.items() if k != "Authorization"}
            if response.status_code != 401 or attempt == 2:
                return response
            self.forget()
        return response  # pragma: no cover - the loop always returns


def forget_tokens() -> None:
    with _tokens_lock:
        _tokens.clear()


class BandwidthAccountApi:
    """Bandwidth's account API with one API credential, for one account."""

    def __init__(self, account_id: str, client_id: str, client_secret: str):
        self.account_id = account_id
        self.http = VendorHttp(settings.BANDWIDTH_ACCOUNT_BASE_URL, label="Bandwidth",
                               timeout=settings.BANDWIDTH_HTTP_TIMEOUT, retries=settings.BANDWIDTH_RETRIES_ON_429)
        self.credentials = BandwidthCredentials(client_id, client_secret)

    def path(self, *parts: str) -> str:
        return "/accounts/" + "/".join(segment(p) for p in (self.account_id, *parts))

    def call(self, method: str, path: str, *, params: dict | None = None, body: ET.Element | None = None,
             ok: tuple[int, ...] = (200, 201)) -> requests.Response:
        data = ET.tostring(body, encoding="utf-8", xml_declaration=True) if body is not None else None
        headers = {"Content-Type": "application/xml; charset=utf-8"} if data is not None else {}
        response = self.credentials.request(self.http, method, path, params=params, data=data, headers=headers)
        if response.status_code not in ok:
            raise _error(response)
        return response


class BandwidthProvider(TelephonyProvider):
    name = "bandwidth"
    label = "Bandwidth"
    credential_fields = {"account_id": "account_sid", "api_client_id": "api_username",
                         "api_client_secret": "auth_token",
                         "application_id": "application_id"}
    number_webhooks = frozenset()
    account_webhooks_kind = True

    @classmethod
    def for_credentials(cls, *, account_sid: str = "", api_username: str = "", auth_token: str = "",
                        application_id: str = "", **_) -> BandwidthProvider:
        return cls(account_id=account_sid, client_id=api_username, client_secret=auth_token,
                   application_id=application_id)

    @classmethod
    def account_fields(cls, given: dict[str, str]) -> dict[str, str]:
        fields = super().account_fields(given)
        # The password Bandwidth presents with every callback of the application: ours, long, random.
        fields["webhook_secret"] = secrets.token_urlsafe(32)
        return fields

    @classmethod
    def credential_errors(cls, *, account_sid: str = "", api_username: str = "", auth_token: str = "",
                          application_id: str = "", **_) -> dict[str, str]:
        if not re.fullmatch(r"\d{1,12}", account_sid or ""):
            return {"account_id": "A Bandwidth account id is a number (Dashboard → Account)."}
        if not api_username:
            return {"api_client_id": "Enter the API credential's client id (Account → API Credentials)."}
        if not auth_token:
            return {"api_client_secret": "Enter the API credential's client secret."}
        if not re.fullmatch(r"[0-9a-fA-F-]{8,64}", application_id or ""):
            return {"application_id": "Enter the id of the messaging application the numbers are in "
                                      "(Dashboard → Applications)."}
        return {}

    @classmethod
    def webhook_secret_of(cls, account) -> str:
        return account.webhook_secret or ""

    def __init__(self, *, account_id: str, client_id: str, client_secret: str, application_id: str):
        self.api = BandwidthAccountApi(account_id, client_id, client_secret)
        self.application_id = application_id

    # The account and its application ---------------------------------------------------------------

    def verify(self) -> AccountInfo:
        root = _xml(self.api.call("GET", self.api.path()))
        application = self._application()
        if _text(application, "ServiceType") not in ("", "Messaging-V2"):
            raise ProviderError("That Bandwidth application is not a messaging application.", permanent=True)
        name = _text(root, "Account/CompanyName") or f"Bandwidth {self.api.account_id}"
        return AccountInfo(sid=self.api.account_id, friendly_name=name, status="active",
                           type=_text(root, "Account/AccountType"))

    def _application(self) -> ET.Element:
        response = self.api.call("GET", self.api.path("applications", self.application_id))
        application = _xml(response)
        found = application.find(".//Application") if application is not None else None
        if found is None:
            raise ProviderError("Bandwidth's answer about the messaging application could not be read.",
                                permanent=False)
        return found

    def account_webhooks(self) -> AccountWebhooks:
        application = self._application()
        fallback = _text(application, "CallbackUrl")
        return AccountWebhooks(
            inbound_url=_text(application, "InboundCallbackUrl") or fallback,
            status_url=_text(application, "OutboundCallbackUrl") or fallback,
            username=_text(application, "InboundCallbackCreds/UserId") or _text(application, "CallbackCreds/UserId"),
        )

    def configure_account_webhooks(self, webhooks: AccountWebhooks) -> AccountWebhooks:
        current = self._application()
        application = _element("Application")
        for name in ("ServiceType", "AppName"):
            application.append(_element(name, text=_text(current, name) or ("Messaging-V2" if name == "ServiceType"
                                                                              else "Softphone")))
        application.append(_element("InboundCallbackUrl", text=webhooks.inbound_url))
        application.append(_element("OutboundCallbackUrl", text=webhooks.status_url))
        for name in ("InboundCallbackCreds", "OutboundCallbackCreds"):
            if webhooks.username:
                application.append(_element(name, _element("UserId", text=webhooks.username),
                                            _element("Password", text=webhooks.password)))
            else:
                application.append(_element(name))
        kept = current.find("RequestedCallbackTypes")  # what else the application asked for stays
        if kept is not None:
            application.append(kept)
        self.api.call("PUT", self.api.path("applications", self.application_id), body=application)
        return AccountWebhooks(inbound_url=webhooks.inbound_url, status_url=webhooks.status_url,
                               username=webhooks.username)

    # Numbers ------------------------------------------------------------------------------------------

    def incoming_numbers_page(self, cursor: str | None = None, page_size: int = 100) -> NumberPage:
        # The cursor is a page number, read from Bandwidth's next link and nothing else of it.
        page = cursor if cursor and cursor.isdigit() and len(cursor) < 12 else "1"
        size = max(1, min(page_size, PAGE_LARGEST))
        response = self.api.call("GET", self.api.path("inserviceNumbers"), params={"page": page, "size": size},
                                 ok=(200, 204))
        root = _xml(response)
        if root is None:
            return NumberPage(numbers=[], next_cursor=None)
        numbers = [_incoming(tn.text or "") for tn in root.iterfind(".//TelephoneNumbers/TelephoneNumber")
                   if (tn.text or "").strip()]
        next_link = _text(root, "Links/next")
        next_page = ""
        if next_link:
            # "<https://…/inserviceNumbers?page=2&size=500>;rel=\"next\"": only the page number is kept.
            query = urlsplit(next_link.strip().lstrip("<").split(">")[0]).query
            next_page = (parse_qs(query).get("page") or [""])[0]
        return NumberPage(numbers=numbers, next_cursor=next_page if next_page.isdigit() and numbers else None)

    def find_incoming_number(self, phone_number: str) -> IncomingNumber | None:
        tn = ten_digits(phone_number)
        response = self.api.call("GET", self.api.path("inserviceNumbers", tn), ok=(200, 404))
        return _incoming(tn) if response.status_code == 200 else None

    def search_available(self, *, country: str, number_type: str = "local", area_code: str = "",
                         contains: str = "", capabilities: tuple[str, ...] = (), limit: int = 20) -> list[AvailableNumber]:
        if country.upper() != "US":
            raise ProviderError("Bandwidth offers numbers in the United States only here.", permanent=True)
        if "voice" in capabilities:
            return []  # voice on Bandwidth numbers is not carried here
        params: dict = {"quantity": max(1, min(limit, 100))}
        if number_type == "toll_free":
            params["tollFreeWildCardPattern"] = "8**"
        elif area_code:
            params["areaCode"] = area_code
        elif contains:
            params["localVanity"] = contains
        else:
            raise ProviderError("Give an area code (or part of the number) to search Bandwidth's numbers.",
                                permanent=True)
        root = _xml(self.api.call("GET", self.api.path("availableNumbers"), params=params))
        found = [] if root is None else [tn.text or "" for tn in root.iterfind(".//TelephoneNumberList/TelephoneNumber")]
        return [AvailableNumber(phone_number=e164_of(tn), friendly_name=e164_of(tn), iso_country="US", region="",
                                locality="", postal_code="", capabilities=MESSAGING) for tn in found if tn]

    def _location(self) -> tuple[str, str]:
        """The site and location (SIP peer) the messaging application serves: where bought numbers go."""
        response = self.api.call("GET", self.api.path("applications", self.application_id, "associatedsippeers"))
        peer = _xml(response)
        first = peer.find(".//AssociatedSipPeer") if peer is not None else None
        if first is None:
            raise ProviderError("The messaging application serves no location in Bandwidth: associate one with it "
                                "before buying numbers.", permanent=True)
        return _text(first, "SiteId"), _text(first, "PeerId")

    def buy_number(self, phone_number: str, webhooks: WebhookUrls | None) -> IncomingNumber:
        tn = ten_digits(phone_number)
        site_id, peer_id = self._location()
        order = _element("Order", _element("Name", text=f"Softphone {tn}"), _element("SiteId", text=site_id),
                         _element("PeerId", text=peer_id),
                         _element("ExistingTelephoneNumberOrderType",
                                  _element("TelephoneNumberList", _element("TelephoneNumber", text=tn))))
        created = _xml(self.api.call("POST", self.api.path("orders"), body=order))
        order_id = _text(created, ".//Order/id") or _text(created, ".//Order/OrderId")
        if not order_id:
            raise ProviderError("Bandwidth's answer to the order could not be read.", permanent=False)
        deadline = time.monotonic() + ORDER_WAIT
        while True:
            status_root = _xml(self.api.call("GET", self.api.path("orders", order_id)))
            status = _text(status_root, "OrderStatus") or _text(status_root, ".//OrderStatus")
            if status == "COMPLETE":
                return _incoming(tn)
            if status in ("FAILED", "PARTIAL", "BACKORDERED"):
                reason = _text(status_root, ".//ErrorList/Error/Description")
                raise ProviderError(f"Bandwidth could not complete the order{': ' + reason if reason else ''}.",
                                    permanent=True)
            if time.monotonic() > deadline:
                raise ProviderError("Bandwidth is still processing the order; import the number once it is done.",
                                    permanent=False)
            time.sleep(0.5)

    def configure_webhooks(self, sid: str, webhooks: WebhookUrls, *, voice: bool = True) -> IncomingNumber:
        """Numbers carry no URLs at Bandwidth (the application has them): nothing to set, but the
        number must still be the account's."""
        found = self.find_incoming_number(sid)
        if found is None:
            raise ProviderError("Bandwidth has no such number in service in this account (it may have been "
                                "released).", permanent=True, gone=True)
        return found

    def release_number(self, sid: str) -> None:
        order = _element("DisconnectTelephoneNumberOrder", _element("Name", text=f"Softphone release {sid}"),
                         _element("DisconnectTelephoneNumberOrderType",
                                  _element("TelephoneNumberList", _element("TelephoneNumber", text=ten_digits(sid)))))
        self.api.call("POST", self.api.path("disconnects"), body=order)
