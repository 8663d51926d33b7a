"""Sending SMS, MMS and WhatsApp through Twilio's Messages API with the real SDK."""

from __future__ import annotations

from telephony.providers.twilio import call, make_client

from .base import MessagingProvider, SendResult

INITIAL_STATUS = {"accepted": "queued", "queued": "queued", "scheduled": "queued", "sending": "sending",
                  "sent": "sent"}


class TwilioMessaging(MessagingProvider):
    def __init__(self, *, account_sid: str, auth_token: str):
        self.client = make_client(account_sid, auth_token)

    def send(self, *, sender: str, to: str, body: str, media_urls: list[str], status_callback: str) -> SendResult:
        params = {"from_": sender, "to": to, "status_callback": status_callback}
        if body:
            params["body"] = body
        if media_urls:
            params["media_url"] = media_urls
        message = call(self.client.messages.create, **params)
        return SendResult(sid=message.sid, status=INITIAL_STATUS.get(str(message.status), "queued"),
                          num_segments=int(message.num_segments or 1))
