"""What Softphone needs to send a message, as plain data. One adapter per vendor."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from core.vendors import ProviderError

__all__ = ["Inbound", "ProviderError", "SendResult", "MediaRequest", "MessagingProvider", "readable_error"]


@dataclass
class Inbound:
    """An inbound message, whatever the vendor: what an adapter makes of what the vendor sent."""

    provider_sid: str
    sender: str  # the customer's number (E.164, or WhatsApp digits)
    body: str
    channel: str  # crm Channel: sms or whatsapp
    media: list[dict] = field(default_factory=list)  # [{"url" | "media_id", "content_type", "caption"}]
    profile_name: str = ""
    wa_id: str = ""
    received_at: datetime | None = None


@dataclass(frozen=True)
class SendResult:
    sid: str
    status: str  # the vendor's initial status, mapped to ours
    num_segments: int = 1


@dataclass(frozen=True)
class MediaRequest:
    """How to fetch one inbound media item: the URL, the vendor's media origins (scheme://host[:port],
    from configuration), and the credentials, which go to those origins only."""

    url: str
    trusted_origins: frozenset[str]
    credentials: dict[str, str]


class MessagingProvider:
    @staticmethod
    def inbound_message(payload: dict) -> Inbound:
        """A stored inbound-message payload (as the webhook received it) as our Inbound."""
        raise NotImplementedError

    def send(self, *, sender: str, to: str, body: str, media_urls: list[str], status_callback: str) -> SendResult:
        raise NotImplementedError


# Codes an agent may see on a failed message, in words they can act on.
READABLE_ERRORS = {
    "21211": "The recipient's number is not valid.",
    "21408": "Sending to this country or region is not enabled on the Twilio account.",
    "21606": "This Twilio number cannot send messages (not owned by the account or not SMS-capable).",
    "21610": "The recipient has unsubscribed (replied STOP) and cannot be messaged until they reply START.",
    "21611": "This number's outgoing queue is full; try again later.",
    "21612": "The carrier cannot route messages to this recipient.",
    "21614": "The recipient's number cannot receive text messages (landline or not mobile).",
    "21619": "A message needs a body or an attachment.",
    "30001": "This number's outgoing queue overflowed; the message was not sent.",
    "30003": "The recipient's phone is unreachable (off or out of coverage).",
    "30004": "The recipient blocked this message.",
    "30005": "The recipient's number is unknown or no longer exists.",
    "30006": "The recipient's number is a landline or cannot receive texts.",
    "30007": "The carrier filtered this message as spam.",
    "30008": "The carrier could not deliver the message (unknown error).",
    "63016": "WhatsApp allows only approved templates more than 24 hours after the customer's last message.",
    "131026": "WhatsApp could not deliver the message to this recipient.",
    "131047": "WhatsApp allows only approved templates more than 24 hours after the customer's last message.",
}


def readable_error(code, fallback: str = "") -> str:
    return READABLE_ERRORS.get(str(code), fallback or f"The provider refused the message (code {code}).")
