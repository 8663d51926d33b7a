"""VAPI (voice-AI platform) adapter: the only module that talks to VAPI.

A small client on `requests`, the HTTP library the twilio SDK already brings, so the project has
one. It finds VAPI at ``settings.VAPI_API_BASE_URL``. Errors become `ProviderError`; VAPI's NestJS
error bodies (`{"message": str | [str], "error", "statusCode"}`) are turned into one readable line.
Credentials are sent, never logged, never put in an error message.
"""

from __future__ import annotations

import requests
from django.conf import settings

from .base import Assistant, PlatformNumber, ProviderError, VoicePlatform

# VAPI answers numbers held at these carriers (our numbers providers' names -> VAPI's).
CARRIERS = {"twilio": "twilio"}


def _number(body: dict) -> PlatformNumber:
    return PlatformNumber(id=body["id"], number=body.get("number") or "", assistant_id=body.get("assistantId") or "",
                          status=body.get("status") or "", sms_enabled=bool(body.get("smsEnabled", True)))


class VapiPlatform(VoicePlatform):
    name = "vapi"
    label = "VAPI"

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
        return [Assistant(id=a["id"], name=a.get("name") or "") for a in self._request("GET", "/assistant") or []]

    def list_numbers(self) -> list[PlatformNumber]:
        return [_number(body) for body in self._request("GET", "/phone-number", params={"limit": 1000}) or []]

    def attach_number(self, *, phone_number: str, carrier: str, account_sid: str, auth_token: str,
                      assistant_id: str, name: str = "") -> PlatformNumber:
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
        return _number(self._request("POST", "/phone-number", json=body))

    def set_assistant(self, number_id: str, assistant_id: str) -> PlatformNumber:
        return _number(self._request("PATCH", f"/phone-number/{number_id}", json={"assistantId": assistant_id}))

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
