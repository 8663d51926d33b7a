"""The numbers-provider registry: a provider account's `provider` picks its adapter.

Domain code asks here and never names an adapter class; another vendor (Vonage, Bandwidth) fits by
adding its adapter to ADAPTERS.
"""

from __future__ import annotations

from .base import ProviderError, TelephonyProvider
from .twilio import TwilioProvider

__all__ = ["ADAPTERS", "ProviderError", "TelephonyProvider", "adapter_class", "for_account", "for_credentials",
           "supports"]

ADAPTERS: dict[str, type[TelephonyProvider]] = {
    TwilioProvider.name: TwilioProvider,
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
