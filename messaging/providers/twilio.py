"""Sending SMS, MMS and WhatsApp through Twilio's Messages API with the real SDK."""

from __future__ import annotations

import base64
from urllib.parse import urlsplit

from django.conf import settings

from core.safe_http import FetchRefused, origin_of
from crm.models import Channel
from telephony.providers.twilio import call, make_client

from .base import Inbound, MediaRequest, MessagingProvider, ProviderError, SendResult

# The host in the media URLs of Twilio's webhooks; fetched at TWILIO_API_BASE_URL, as the SDK is.
PUBLIC_API = "https://api.twilio.com"

INITIAL_STATUS = {"accepted": "queued", "queued": "queued", "scheduled": "queued", "sending": "sending",
                  "sent": "sent"}


class TwilioMessaging(MessagingProvider):
    def __init__(self, *, account_sid: str, auth_token: str):
        self.client = make_client(account_sid, auth_token)

    @staticmethod
    def inbound_message(payload: dict) -> Inbound:
        """A Twilio inbound-message webhook's parameters as our Inbound."""
        whatsapp = payload.get("From", "").startswith("whatsapp:")
        try:
            count = min(int(payload.get("NumMedia") or 0), 10)
        except ValueError:
            count = 0
        media = [{"url": payload.get(f"MediaUrl{i}", ""), "content_type": payload.get(f"MediaContentType{i}", "")}
                 for i in range(count) if payload.get(f"MediaUrl{i}")]
        return Inbound(
            provider_sid=payload.get("MessageSid") or payload.get("SmsMessageSid") or "",
            sender=payload.get("From", "").removeprefix("whatsapp:"), body=payload.get("Body", ""),
            channel=Channel.WHATSAPP if whatsapp else Channel.SMS, media=media,
            profile_name=payload.get("ProfileName", ""), wa_id=payload.get("WaId", ""),
        )

    def send(self, *, sender: str, to: str, body: str, media_urls: list[str], status_callback: str) -> SendResult:
        params = {"from_": sender, "to": to, "status_callback": status_callback}
        if body:
            params["body"] = body
        if media_urls:
            params["media_url"] = media_urls
        message = call(self.client.messages.create, **params)
        return SendResult(sid=message.sid, status=INITIAL_STATUS.get(str(message.status), "queued"),
                          num_segments=int(message.num_segments or 1))


def media_request(*, url: str, account_sid: str, auth_token: str) -> MediaRequest:
    """Where and how to fetch the media of an inbound message. The account's credentials go only
    to Twilio's configured API host and only for this account's own resources; a URL anywhere else
    is refused (ProviderError) rather than fetched. Twilio answers with a redirect to its CDN,
    which safe_http follows without the credentials."""
    base = settings.TWILIO_API_BASE_URL.rstrip("/")
    url = url if isinstance(url, str) else ""
    if url.startswith(PUBLIC_API + "/"):
        url = base + url[len(PUBLIC_API):]
    try:
        trusted = origin_of(base)
        same_origin = origin_of(url) == trusted
    except FetchRefused:
        same_origin = False
    if not same_origin or not urlsplit(url).path.startswith(f"/2010-04-01/Accounts/{account_sid}/"):
        raise ProviderError("This attachment is not one of the account's media at Twilio.", permanent=True)
    basic = base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
    return MediaRequest(url=url, trusted_origins=frozenset({trusted}), credentials={"Authorization": f"Basic {basic}"})
