"""The voice-AI platform registry: a provider account's `provider` (or a number's `platform`) picks
its adapter. Domain code asks here and never names an adapter class; another platform fits by
adding its adapter to ADAPTERS."""

from __future__ import annotations

from .base import ProviderError, VoicePlatform
from .vapi import VapiPlatform

__all__ = ["ADAPTERS", "VoicePlatform", "adapter_class", "for_account", "for_credentials", "supports"]

ADAPTERS: dict[str, type[VoicePlatform]] = {
    VapiPlatform.name: VapiPlatform,
}


def supports(provider: str) -> bool:
    """Whether `provider` is a voice-AI platform (rather than a numbers provider)."""
    return provider in ADAPTERS


def adapter_class(provider: str) -> type[VoicePlatform]:
    try:
        return ADAPTERS[provider]
    except KeyError:
        raise ProviderError(f"'{provider}' is not a supported voice-AI platform.", permanent=True) from None


def for_credentials(provider: str, **credentials) -> VoicePlatform:
    return adapter_class(provider).for_credentials(**credentials)


def for_account(account) -> VoicePlatform:
    return adapter_class(account.provider).for_account(account)
