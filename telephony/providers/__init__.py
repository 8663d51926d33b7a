"""The adapter registry: a provider account's `provider` picks its adapter."""

from __future__ import annotations

from .base import ProviderError, TelephonyProvider

__all__ = ["ProviderError", "TelephonyProvider", "for_account", "for_credentials"]


def for_credentials(provider: str, **credentials) -> TelephonyProvider:
    if provider == "twilio":
        from .twilio import TwilioProvider

        return TwilioProvider(account_sid=credentials["account_sid"], auth_token=credentials["auth_token"])
    raise ProviderError(f"Provider '{provider}' is not supported for phone numbers.", permanent=True)


def for_account(account) -> TelephonyProvider:
    return for_credentials(account.provider, account_sid=account.account_sid, auth_token=account.auth_token)
