"""Vonage adapter for numbers: the only module that knows Vonage's Numbers and Account APIs
(contracts/vonage/numbers.yml and account.yml). Messages are messaging/providers/vonage.py, on the
same client.

Vonage authenticates with the account's API key and secret as parameters (the query of a GET, the
form of a POST), on ``settings.VONAGE_REST_BASE_URL`` only. Its numbers carry one URL of ours, the
inbound-message webhook (`moHttpUrl`); delivery receipts go where each message says. Voice on Vonage
is not carried here: its numbers are messaging-only (their voice feature is kept in the metadata,
never offered as a caller id).
"""

from __future__ import annotations

import re

import requests
from django.conf import settings

from core.phones import region_of
from core.vendor_http import VendorHttp
from telephony.models import SignatureMethod

from .base import (
    AccountInfo,
    AvailableNumber,
    Capabilities,
    IncomingNumber,
    NumberPage,
    ProviderError,
    TelephonyProvider,
    WebhookUrls,
)

SIGNATURE_METHODS = tuple(SignatureMethod.values)
NUMBER_TYPES = {"local": "landline", "mobile": "mobile-lvn", "toll_free": "landline-toll-free"}
PAGE_LARGEST = 100  # the contract's maximum `size`
READABLE = {
    "401": "Vonage rejected the credentials (check the API key and secret).",
    "420": "Vonage refused the change (the number may not be available, or the account cannot buy it).",
    "429": "Vonage is rate limiting requests; try again shortly.",
}


def client(api_key: str, api_secret: str) -> VonageClient:
    return VonageClient(api_key, api_secret)


class VonageClient:
    """Vonage's REST host with one account's key and secret."""

    def __init__(self, api_key: str, api_secret: str):
        self.api_key = api_key
        self._secret = api_secret
        self.http = VendorHttp(settings.VONAGE_REST_BASE_URL, label="Vonage", timeout=settings.VONAGE_HTTP_TIMEOUT,
                               retries=settings.VONAGE_RETRIES_ON_THROTTLE, throttled=_throttled)

    def _auth(self) -> dict:
        return {"api_key": self.api_key, "api_secret": self._secret}

    def get(self, path: str, params: dict | None = None) -> requests.Response:
        return self.http.request("GET", path, params={**(params or {}), **self._auth()})

    def post(self, path: str, form: dict) -> requests.Response:
        return self.http.request("POST", path, data={**form, **self._auth()})


def _throttled(response: requests.Response) -> bool:
    """429, or the SMS API's status 1 ("Throttled": the message was not sent, and may be sent again)."""
    if response.status_code == 429:
        return True
    if response.status_code != 200 or b'"status"' not in response.content[:200]:
        return False
    parts = _body(response).get("messages") or []
    return bool(parts) and isinstance(parts[0], dict) and str(parts[0].get("status")) == "1"


def _body(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        body = None
    return body if isinstance(body, dict) else {}


def _error(response: requests.Response) -> ProviderError:
    body = _body(response)
    code = str(body.get("error-code") or response.status_code)
    label = str(body.get("error-code-label") or "")
    readable = READABLE.get(code) or (f"Vonage refused the request: {label}." if label else
                                      f"Vonage refused the request (HTTP {response.status_code}).")
    permanent = response.status_code < 500 and code != "429"
    return ProviderError(readable, permanent=permanent, code=code)


def _ok(response: requests.Response) -> dict:
    """The answer of a call, or its error; Vonage's changes answer 200 with their own error code."""
    if response.status_code != 200:
        raise _error(response)
    body = _body(response)
    code = str(body.get("error-code") or "200")
    if code != "200":
        raise _error(response)
    return body


def _digits(e164: str) -> str:
    return re.sub(r"\D", "", e164 or "")


def _features(raw) -> Capabilities:
    """What we carry of a number's features: SMS (and MMS where Vonage says so). Voice stays False:
    calls on Vonage numbers do not reach the softphone."""
    features = {str(f).upper() for f in raw or ()}
    return Capabilities(voice=False, sms="SMS" in features, mms="MMS" in features)


def _incoming(item: dict) -> IncomingNumber:
    msisdn = str(item.get("msisdn") or "")
    features = sorted(str(f).upper() for f in item.get("features") or ())
    return IncomingNumber(
        sid=msisdn, phone_number="+" + msisdn, friendly_name="", capabilities=_features(features),
        sms_url=str(item.get("moHttpUrl") or ""),
        metadata={"carrier_features": features, "messaging_only": True, "iso_country": str(item.get("country") or ""),
                  "number_type": str(item.get("type") or "")},
    )


class VonageProvider(TelephonyProvider):
    name = "vonage"
    label = "Vonage"
    credential_fields = {"api_key": "account_sid", "api_secret": "auth_token", "signature_secret": "webhook_secret",
                         "signature_method": "signature_method"}
    number_webhooks = frozenset({"sms_url"})

    @classmethod
    def for_credentials(cls, *, account_sid: str = "", auth_token: str = "", **_) -> VonageProvider:
        return cls(api_key=account_sid, api_secret=auth_token)

    @classmethod
    def account_fields(cls, given: dict[str, str]) -> dict[str, str]:
        fields = super().account_fields(given)
        fields["signature_method"] = (fields["signature_method"] or "md5hash").lower()
        return fields

    @classmethod
    def credential_errors(cls, *, account_sid: str = "", auth_token: str = "", webhook_secret: str = "",
                          signature_method: str = "", **_) -> dict[str, str]:
        if not re.fullmatch(r"[0-9a-zA-Z]{6,16}", account_sid or ""):
            return {"api_key": "A Vonage API key is the short code of letters and digits on the dashboard."}
        if not auth_token:
            return {"api_secret": "Enter the account's API secret."}
        if not webhook_secret:
            return {"signature_secret": "Enter the account's signature secret: Vonage signs the webhooks it sends "
                                        "with it, and unsigned webhooks cannot be told from forged ones."}
        if signature_method not in SIGNATURE_METHODS:
            return {"signature_method": f"Choose one of {', '.join(SIGNATURE_METHODS)} (as set on the dashboard)."}
        return {}

    @classmethod
    def webhook_secret_of(cls, account) -> str:
        return account.webhook_secret or ""

    def __init__(self, *, api_key: str, api_secret: str):
        self.client = client(api_key, api_secret)

    def verify(self) -> AccountInfo:
        response = self.client.get("/account/get-balance")
        if response.status_code != 200:
            raise _error(response)
        return AccountInfo(sid=self.client.api_key, friendly_name=f"Vonage {self.client.api_key}", status="active",
                           type="")

    def incoming_numbers_page(self, cursor: str | None = None, page_size: int = 100) -> NumberPage:
        # The cursor is the page's index, a number: nothing from it reaches a URL but that number.
        index = int(cursor) if cursor and cursor.isdigit() and len(cursor) < 7 else 1
        size = max(1, min(page_size, PAGE_LARGEST))
        body = _ok(self.client.get("/account/numbers", {"size": size, "index": index}))
        numbers = [_incoming(item) for item in body.get("numbers") or [] if isinstance(item, dict)]
        more = index * size < int(body.get("count") or 0) and numbers
        return NumberPage(numbers=numbers, next_cursor=str(index + 1) if more else None)

    def _owned(self, msisdn: str) -> dict | None:
        body = _ok(self.client.get("/account/numbers", {"pattern": msisdn, "search_pattern": 1, "size": PAGE_LARGEST}))
        return next((item for item in body.get("numbers") or [] if str(item.get("msisdn")) == msisdn), None)

    def find_incoming_number(self, phone_number: str) -> IncomingNumber | None:
        found = self._owned(_digits(phone_number))
        return _incoming(found) if found else None

    def search_available(self, *, country: str, number_type: str = "local", area_code: str = "",
                         contains: str = "", capabilities: tuple[str, ...] = (), limit: int = 20) -> list[AvailableNumber]:
        params: dict = {"country": country.upper(), "size": max(1, min(limit, PAGE_LARGEST))}
        if number_type in NUMBER_TYPES:
            params["type"] = NUMBER_TYPES[number_type]
        if area_code and country.upper() in ("US", "CA"):
            params.update(pattern="1" + area_code, search_pattern=0)
        elif contains:
            params.update(pattern=_digits(contains) or contains, search_pattern=1)
        wanted = [c.upper() for c in capabilities if c in ("sms", "mms")]
        if wanted:
            params["features"] = ",".join(wanted)
        body = _ok(self.client.get("/number/search", params))
        found = []
        for item in body.get("numbers") or []:
            msisdn = str(item.get("msisdn") or "")
            found.append(AvailableNumber(
                phone_number="+" + msisdn, friendly_name="+" + msisdn, iso_country=str(item.get("country") or country),
                region="", locality="", postal_code="", capabilities=_features(item.get("features")),
            ))
        return found

    def _country(self, msisdn: str) -> str:
        return region_of("+" + msisdn) or ""

    def buy_number(self, phone_number: str, webhooks: WebhookUrls | None) -> IncomingNumber:
        msisdn = _digits(phone_number)
        _ok(self.client.post("/number/buy", {"country": self._country(msisdn), "msisdn": msisdn}))
        if webhooks is not None:
            return self.configure_webhooks(msisdn, webhooks)
        found = self._owned(msisdn)
        if found is None:
            raise ProviderError("Vonage did not list the number after buying it; try the import.", permanent=False)
        return _incoming(found)

    def configure_webhooks(self, sid: str, webhooks: WebhookUrls, *, voice: bool = True) -> IncomingNumber:
        found = self._owned(sid)
        if found is None:
            raise ProviderError("Vonage has no such number in this account (it may have been released).",
                                permanent=True, gone=True)
        # Vonage checks that the URL answers a GET with 200 before it takes it (our route does).
        _ok(self.client.post("/number/update", {"country": found.get("country") or self._country(sid), "msisdn": sid,
                                                "moHttpUrl": webhooks.sms_url}))
        return _incoming({**found, "moHttpUrl": webhooks.sms_url})

    def release_number(self, sid: str) -> None:
        _ok(self.client.post("/number/cancel", {"country": self._country(sid), "msisdn": sid}))
