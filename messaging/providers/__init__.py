"""The messaging adapters, one per vendor, found by the name stored with what they sent
(InboundEvent.provider), by the provider in a webhook's address, or by what a conversation goes
through. Domain code asks here and never names an adapter class; a new vendor is a new adapter in
ADAPTERS (the interface is in base.py)."""

from __future__ import annotations

from .bandwidth import BandwidthMessaging
from .base import NUMBERS, WHATSAPP_SENDERS, MessagingProvider, ProviderError
from .twilio import TwilioMessaging
from .vonage import VonageMessaging
from .whatsapp_cloud import WhatsAppCloud

ADAPTERS: dict[str, type[MessagingProvider]] = {
    adapter.name: adapter for adapter in (TwilioMessaging, VonageMessaging, BandwidthMessaging, WhatsAppCloud)
}
# The adapter of conversations through a WhatsAppSender (Meta's Cloud API).
WHATSAPP_SENDER_PROVIDER = WhatsAppCloud.name


def adapter_class(provider: str, *, lines: str | None = None) -> type[MessagingProvider]:
    """The adapter of `provider`; LookupError when there is none (or none for that kind of line)."""
    adapter = ADAPTERS.get(provider)
    if adapter is None or (lines is not None and adapter.lines != lines):
        raise LookupError(f"No messaging adapter for provider {provider!r}.")
    return adapter


def provider_of(conversation) -> str:
    """The vendor a conversation goes through: its WhatsApp sender's, or its number's account's."""
    if conversation.whatsapp_sender_id:
        return WHATSAPP_SENDER_PROVIDER
    return conversation.phone_number.provider_account.provider


def for_conversation(conversation) -> MessagingProvider:
    """The adapter, with its credentials, of the line a conversation goes through. A line whose
    vendor has no messaging adapter is a permanent ProviderError, with the reason."""
    provider = provider_of(conversation)
    lines = WHATSAPP_SENDERS if conversation.whatsapp_sender_id else NUMBERS
    try:
        adapter = adapter_class(provider, lines=lines)
    except LookupError:
        raise ProviderError(f"Messages cannot be sent or fetched through {provider or 'this provider'}.",
                            permanent=True) from None
    return adapter.for_conversation(conversation)
