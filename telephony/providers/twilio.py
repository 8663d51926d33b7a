"""Twilio adapter: the only module that imports the twilio SDK for numbers.

The SDK talks to ``settings.TWILIO_API_BASE_URL`` (Twilio's host by default; tests and simulations
point it at a local fake) through an HTTP client that rewrites the host, with timeouts, and with
429 (code 20429, "too many concurrent requests", never processed) retried with backoff. That client
sends the account's credentials to that one host only: any other URL is refused before a
connection is made.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from django.conf import settings
from requests import RequestException
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

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

logger = logging.getLogger(__name__)

TWILIO_HOST = "https://api.twilio.com"
# Twilio's Content API (message templates), on its own host; the SDK addresses it there.
TWILIO_CONTENT_HOST = "https://content.twilio.com"
# Codes that no retry can fix: authentication, invalid or unavailable numbers, permissions.
PERMANENT_STATUSES = {400, 401, 403, 404}
READABLE = {
    20003: "Twilio rejected the credentials (check the account SID and auth token).",
    20404: "Twilio has no such resource (the number may have been released).",
    20429: "Twilio is rate limiting requests; try again shortly.",
    21421: "That phone number is not valid.",
    21422: "That phone number is not available to buy any more.",
    21452: "No numbers are available in that area code.",
}


def signature(auth_token: str, url: str, form: Mapping[str, str]) -> str:
    """Twilio's request signature (HMAC-SHA1 of the URL followed by each parameter's name and value,
    names sorted), for a form with one value per name: what the SDK's RequestValidator computes,
    without its per-parameter probing of the mapping's type."""
    text = url + "".join(name + form[name] for name in sorted(form))
    return base64.b64encode(hmac.new(auth_token.encode(), text.encode(), hashlib.sha1).digest()).decode()


class _Lists(dict):
    """Every value of every name, in the shape the SDK's validator asks a form for first."""

    def getall(self, name: str) -> list[str]:
        return self[name]


def signature_valid(*, url: str, form: Mapping[str, str], form_lists: Callable[[], dict], given: str,
                    auth_token: str) -> bool:
    """Whether `given` (X-Twilio-Signature) signs this request with `auth_token`.

    Twilio signs the URL as configured, which is ours exactly: one HMAC decides nearly every request.
    The SDK's full check (the URL with and without a default port, every value of a repeated name)
    is the fallback."""
    if not (given and auth_token):
        return False
    if hmac.compare_digest(signature(auth_token, url, form).encode(), given.encode()):
        return True
    return RequestValidator(auth_token).validate(url, _Lists(form_lists()), given)


class _BaseUrlHttpClient(TwilioHttpClient):
    """Sends what the SDK addresses to api.twilio.com to the configured base URL instead, and
    retries 429s (which Twilio guarantees were not processed) with exponential backoff."""

    def __init__(self, base_url: str, *, timeout: float, retries_on_429: int, content_base_url: str = ""):
        super().__init__(timeout=timeout)
        self.base_url = base_url.rstrip("/")
        self.content_base_url = (content_base_url or TWILIO_CONTENT_HOST).rstrip("/")
        self.retries_on_429 = retries_on_429

    def request(self, method, url, params=None, data=None, headers=None, auth=None, timeout=None,
                allow_redirects=False):
        for host, base in ((TWILIO_HOST, self.base_url), (TWILIO_CONTENT_HOST, self.content_base_url)):
            if url.startswith(host + "/") and base != host:
                url = base + url[len(host):]
        if not url.startswith((self.base_url + "/", self.content_base_url + "/")):
            # Every request carries the account SID and auth token: never to another host (a
            # next-page link in an answer included).
            raise ProviderError("Refused to send the account's credentials outside Twilio's API.", permanent=True)
        delay = 0.5
        for attempt in range(self.retries_on_429 + 1):
            response = super().request(method, url, params=params, data=data, headers=headers, auth=auth,
                                       timeout=timeout, allow_redirects=allow_redirects)
            if response.status_code != 429 or attempt == self.retries_on_429:
                return response
            time.sleep(delay)
            delay *= 2
        return response  # pragma: no cover - the loop always returns


def _capabilities(raw: dict | None) -> Capabilities:
    # The live API has been seen to answer `SMS`/`MMS`: read either casing.
    raw = {str(k).lower(): v for k, v in (raw or {}).items()}
    return Capabilities(voice=bool(raw.get("voice")), sms=bool(raw.get("sms")), mms=bool(raw.get("mms")),
                        fax=bool(raw.get("fax")))


def _incoming(instance) -> IncomingNumber:
    def get(name: str) -> str:
        value = getattr(instance, name, None)
        return str(value) if value is not None else ""

    return IncomingNumber(
        sid=get("sid"),
        phone_number=get("phone_number"),
        friendly_name=get("friendly_name"),
        capabilities=_capabilities(getattr(instance, "capabilities", None)),
        voice_url=get("voice_url"),
        sms_url=get("sms_url"),
        status_callback=get("status_callback"),
        voice_application_sid=get("voice_application_sid"),
        sms_application_sid=get("sms_application_sid"),
        metadata={k: get(k) for k in ("origin", "address_requirements", "emergency_status") if get(k)},
    )


def _list_page_error(exc: TwilioException) -> TwilioRestException | None:
    """The SDK raises a bare `TwilioException("Unable to fetch page", response)` when a list page
    fails; recover the status and Twilio's error code from the response it carries."""
    response = exc.args[1] if len(exc.args) > 1 else None
    status = getattr(response, "status_code", None)
    if status is None:
        return None
    try:
        body = json.loads(response.text or "{}")
    except ValueError:
        body = {}
    return TwilioRestException(status, "", msg=body.get("message", ""), code=body.get("code"))


def _error(exc: Exception) -> ProviderError:
    if isinstance(exc, TwilioException) and not isinstance(exc, TwilioRestException):
        exc = _list_page_error(exc) or exc
    if isinstance(exc, TwilioRestException):
        readable = READABLE.get(exc.code) or (exc.msg or "Twilio refused the request.")
        permanent = exc.status in PERMANENT_STATUSES and exc.code != 20429
        return ProviderError(readable, permanent=permanent, code=exc.code, gone=exc.status == 404)
    if isinstance(exc, (RequestException, TwilioException, OSError)):
        return ProviderError("Twilio could not be reached; try again shortly.", permanent=False)
    raise exc


def make_client(account_sid: str, auth_token: str, *, base_url: str | None = None, timeout: float | None = None,
                retries_on_429: int | None = None) -> Client:
    """A twilio SDK client that talks to TWILIO_API_BASE_URL, with our timeouts and 429 retries."""
    http_client = _BaseUrlHttpClient(
        base_url or settings.TWILIO_API_BASE_URL,
        timeout=timeout if timeout is not None else settings.TWILIO_HTTP_TIMEOUT,
        retries_on_429=retries_on_429 if retries_on_429 is not None else settings.TWILIO_RETRIES_ON_429,
        content_base_url=settings.TWILIO_CONTENT_BASE_URL,
    )
    return Client(account_sid, auth_token, http_client=http_client)


def call(fn, *args, **kwargs):
    """Run an SDK call; every failure becomes a ProviderError."""
    try:
        return fn(*args, **kwargs)
    except (TwilioRestException, TwilioException, RequestException, OSError) as exc:
        raise _error(exc) from None


class TwilioProvider(TelephonyProvider):
    name = "twilio"
    label = "Twilio"
    credential_fields = {"account_sid": "account_sid", "auth_token": "auth_token"}
    number_webhooks = frozenset({"sms_url", "status_callback", "voice_url"})

    @classmethod
    def for_account(cls, account) -> TwilioProvider:
        return cls(account_sid=account.account_sid, auth_token=account.auth_token)

    @classmethod
    def for_credentials(cls, *, account_sid: str, auth_token: str, **_) -> TwilioProvider:
        return cls(account_sid=account_sid, auth_token=auth_token)

    @classmethod
    def credential_errors(cls, *, account_sid: str = "", auth_token: str = "", **_) -> dict[str, str]:
        if not account_sid.startswith("AC") or len(account_sid) != 34:
            return {"account_sid": "A Twilio account SID starts with AC and has 34 characters."}
        if not auth_token:
            return {"auth_token": "Enter the account's auth token."}
        return {}

    def __init__(self, *, account_sid: str, auth_token: str, base_url: str | None = None,
                 timeout: float | None = None, retries_on_429: int | None = None):
        self.account_sid = account_sid
        self.client = make_client(account_sid, auth_token, base_url=base_url, timeout=timeout,
                                  retries_on_429=retries_on_429)

    def _call(self, fn, *args, **kwargs):
        return call(fn, *args, **kwargs)

    def verify(self) -> AccountInfo:
        account = self._call(self.client.api.v2010.accounts(self.account_sid).fetch)
        return AccountInfo(sid=account.sid, friendly_name=account.friendly_name or "",
                           status=str(account.status or ""), type=str(account.type or ""))

    def incoming_numbers_page(self, cursor: str | None = None, page_size: int = 100) -> NumberPage:
        numbers = self.client.api.v2010.accounts(self.account_sid).incoming_phone_numbers
        if cursor:
            page = self._call(numbers.get_page, self._own_page_url(cursor))
        else:
            page = self._call(numbers.page, page_size=page_size)
        items = [_incoming(instance) for instance in page]
        next_url = page.next_page_url
        # Keep the cursor host-free so a resumed job follows TWILIO_API_BASE_URL as it is then.
        if next_url:
            parts = urlsplit(next_url)
            next_url = TWILIO_HOST + parts.path + (f"?{parts.query}" if parts.query else "")
        return NumberPage(numbers=items, next_cursor=next_url)

    def _own_page_url(self, cursor: str) -> str:
        """A cursor is a next-page URL Twilio gave us: a page of this account's numbers on Twilio's
        host. Anything else (another host, another account, another resource) is refused."""
        parts = urlsplit(cursor)
        listing = f"/2010-04-01/Accounts/{self.account_sid}/IncomingPhoneNumbers.json"
        if (f"{parts.scheme}://{parts.netloc}" != TWILIO_HOST or parts.path != listing or parts.fragment
                or "\\" in cursor or any(ord(c) < 32 for c in cursor)):
            raise ProviderError("That is not a page of this account's numbers at Twilio.", permanent=True)
        return cursor

    def find_incoming_number(self, phone_number: str) -> IncomingNumber | None:
        found = self._call(self.client.incoming_phone_numbers.list, phone_number=phone_number, limit=1)
        return _incoming(found[0]) if found else None

    def search_available(self, *, country: str, number_type: str = "local", area_code: str = "",
                         contains: str = "", capabilities: tuple[str, ...] = (), limit: int = 20) -> list[AvailableNumber]:
        country_list = self.client.available_phone_numbers(country.upper())
        listing = {"local": country_list.local, "toll_free": country_list.toll_free,
                   "mobile": country_list.mobile}[number_type]
        filters = {"limit": limit}
        if area_code:
            filters["area_code"] = int(area_code)
        if contains:
            filters["contains"] = contains
        for capability in capabilities:
            filters[f"{capability}_enabled"] = True
        found = self._call(listing.list, **filters)
        return [
            AvailableNumber(
                phone_number=item.phone_number, friendly_name=item.friendly_name or "",
                iso_country=item.iso_country or country.upper(), region=item.region or "",
                locality=item.locality or "", postal_code=item.postal_code or "",
                capabilities=_capabilities(item.capabilities),
                address_requirements=item.address_requirements or "none",
            )
            for item in found
        ]

    def buy_number(self, phone_number: str, webhooks: WebhookUrls | None) -> IncomingNumber:
        params = {"phone_number": phone_number}
        if webhooks is not None:
            params.update(_webhook_params(webhooks, voice=True))
        return _incoming(self._call(self.client.incoming_phone_numbers.create, **params))

    def release_number(self, sid: str) -> None:
        self._call(self.client.incoming_phone_numbers(sid).delete)

    def configure_webhooks(self, sid: str, webhooks: WebhookUrls, *, voice: bool = True) -> IncomingNumber:
        params = _webhook_params(webhooks, voice=voice)
        try:
            return _incoming(self.client.incoming_phone_numbers(sid).update(**params))
        except (TwilioRestException, TwilioException, RequestException, OSError) as exc:
            raise _error(exc) from None


def _webhook_params(webhooks: WebhookUrls, *, voice: bool) -> dict:
    params = {
        "sms_url": webhooks.sms_url, "sms_method": "POST",
        "status_callback": webhooks.status_callback, "status_callback_method": "POST",
    }
    if voice:
        params.update({"voice_url": webhooks.voice_url, "voice_method": "POST"})
    return params
