"""WhatsApp Cloud API (Meta Graph API) for sending, at WHATSAPP_GRAPH_BASE_URL / WHATSAPP_GRAPH_VERSION."""

from __future__ import annotations

import requests
from django.conf import settings

from core.safe_http import FetchRefused, origin_of

from .base import MediaRequest, MessagingProvider, ProviderError, SendResult, readable_error

MEDIA_TYPES = {"image", "video", "audio", "document", "sticker"}
# Meta's transient errors: temporary unavailability and throttling.
TRANSIENT_CODES = {1, 2, 4, 80007, 130429, 131000, 131016, 133004}


class WhatsAppCloud(MessagingProvider):
    def __init__(self, *, phone_number_id: str, access_token: str):
        self.phone_number_id = phone_number_id
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {access_token}"})
        self._access_token = access_token
        self.base = f"{settings.WHATSAPP_GRAPH_BASE_URL.rstrip('/')}/{settings.WHATSAPP_GRAPH_VERSION}"

    def _post(self, path: str, payload: dict) -> dict:
        try:
            response = self.session.post(self.base + path, json=payload, timeout=settings.WHATSAPP_HTTP_TIMEOUT)
        except requests.RequestException:
            raise ProviderError("WhatsApp could not be reached; try again shortly.", permanent=False) from None
        if response.status_code >= 400:
            raise _error(response)
        return response.json()

    def send(self, *, sender: str, to: str, body: str, media_urls: list[str], status_callback: str = "",
             media_type: str = "image") -> SendResult:
        recipient = to.lstrip("+")
        if media_urls:
            kind = media_type if media_type in MEDIA_TYPES else "document"
            media = {"link": media_urls[0]}
            if body and kind != "sticker" and kind != "audio":
                media["caption"] = body
            payload = {"messaging_product": "whatsapp", "to": recipient, "type": kind, kind: media}
        else:
            payload = {"messaging_product": "whatsapp", "to": recipient, "type": "text", "text": {"body": body}}
        answer = self._post(f"/{self.phone_number_id}/messages", payload)
        return SendResult(sid=answer["messages"][0]["id"], status="queued")

    def media_url(self, media_id: str) -> tuple[str, str]:
        """Where to download an inbound media item, and its content type."""
        try:
            response = self.session.get(f"{self.base}/{media_id}", timeout=settings.WHATSAPP_HTTP_TIMEOUT)
        except requests.RequestException:
            raise ProviderError("WhatsApp could not be reached; try again shortly.", permanent=False) from None
        if response.status_code >= 400:
            raise _error(response)
        body = response.json()
        return body["url"], body.get("mime_type", "application/octet-stream")

    def media_request(self, media_id: str) -> MediaRequest:
        """How to download an inbound media item: the token goes only to the Graph API's configured
        host and Meta's media hosts (WHATSAPP_MEDIA_ORIGINS); a download URL anywhere else is refused."""
        url, _ = self.media_url(media_id)
        origins = frozenset({origin_of(settings.WHATSAPP_GRAPH_BASE_URL)}
                            | {origin_of(o) for o in settings.WHATSAPP_MEDIA_ORIGINS})
        try:
            known = isinstance(url, str) and origin_of(url) in origins
        except FetchRefused:
            known = False
        if not known:
            raise ProviderError("WhatsApp gave a media address outside its own hosts.", permanent=True)
        return MediaRequest(url=url, trusted_origins=origins,
                            credentials={"Authorization": f"Bearer {self._access_token}"})


def _error(response: requests.Response) -> ProviderError:
    try:
        error = response.json().get("error", {})
    except ValueError:
        error = {}
    code = error.get("code")
    details = (error.get("error_data") or {}).get("details") or error.get("message") or response.reason
    permanent = response.status_code < 500 and code not in TRANSIENT_CODES
    return ProviderError(readable_error(code, f"WhatsApp: {details}"), permanent=permanent, code=code,
                         gone=response.status_code in (404, 410))
