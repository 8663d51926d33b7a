"""The messaging adapters, one per vendor, found by the name stored with what they sent
(InboundEvent.provider) or by what a conversation goes through. Domain code asks here and never
names an adapter class."""

from __future__ import annotations

from .base import MessagingProvider
from .twilio import TwilioMessaging
from .whatsapp_cloud import WhatsAppCloud

ADAPTERS: dict[str, type[MessagingProvider]] = {
    "twilio": TwilioMessaging,
    "whatsapp_cloud": WhatsAppCloud,
}


def adapter_class(provider: str) -> type[MessagingProvider]:
    try:
        return ADAPTERS[provider]
    except KeyError:
        raise LookupError(f"No messaging adapter for provider {provider!r}.") from None
