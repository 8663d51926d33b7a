"""The numbers-provider registry: a provider account's `provider` picks its adapter.

Domain code asks here and never names an adapter class; a carrier is its adapter in ADAPTERS (and its
messaging adapter in messaging.providers): docs/architecture.md, "Adding a carrier".
"""

from __future__ import annotations

from .bandwidth import BandwidthProvider
from .base import ProviderError, TelephonyProvider
from .twilio import TwilioProvider
from .twilio_voice import TwilioVoice
from .voice import VoiceCarrier
from .vonage import VonageProvider

__all__ = ["ADAPTERS", "VOICE_ADAPTERS", "ProviderError", "TelephonyProvider", "VoiceCarrier", "adapter_class",
           "for_account", "for_credentials", "supports", "voice_class", "voice_for_account"]

ADAPTERS: dict[str, type[TelephonyProvider]] = {
    adapter.name: adapter for adapter in (TwilioProvider, VonageProvider, BandwidthProvider)
}

# Carriers whose numbers take calls in the browser softphone. A numbers provider missing here is
# messaging-only: its numbers are never offered as caller ids and its calls never reach us.
VOICE_ADAPTERS: dict[str, type[VoiceCarrier]] = {
    TwilioVoice.name: TwilioVoice,
}


def supports(provider: str) -> bool:
    """Whether `provider` is a numbers provider (rather than, say, a voice-AI platform)."""
    return provider in ADAPTERS


def adapter_class(provider: str) -> type[TelephonyProvider]:
    try:
        return ADAPTERS[provider]
    except KeyError:
        raise ProviderError(f"Provider '{provider}' is not supported for phone numbers.", permanent=True) from None


def for_credentials(provider: str, **credentials) -> TelephonyProvider:
    return adapter_class(provider).for_credentials(**credentials)


def for_account(account) -> TelephonyProvider:
    return adapter_class(account.provider).for_account(account)


def voice_class(provider: str) -> type[VoiceCarrier]:
    try:
        return VOICE_ADAPTERS[provider]
    except KeyError:
        raise ProviderError(f"Provider '{provider}' does not carry voice calls here.", permanent=True) from None


def voice_for_account(account) -> VoiceCarrier:
    return voice_class(account.provider).for_account(account)
