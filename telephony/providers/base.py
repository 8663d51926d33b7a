"""What Softphone needs from a telephony provider, as plain data.

Adapters (one per vendor) implement `TelephonyProvider`; only they import a vendor SDK. Everything
they return is a dataclass below; every failure is a `ProviderError`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from core.vendors import ProviderError

__all__ = ["ProviderError"]  # re-exported: adapters raise it


@dataclass(frozen=True)
class AccountInfo:
    sid: str
    friendly_name: str
    status: str  # active | suspended | closed
    type: str  # Trial | Full


@dataclass(frozen=True)
class Capabilities:
    voice: bool = False
    sms: bool = False
    mms: bool = False
    fax: bool = False

    def as_dict(self) -> dict:
        return {"voice": self.voice, "sms": self.sms, "mms": self.mms, "fax": self.fax}


@dataclass(frozen=True)
class IncomingNumber:
    sid: str
    phone_number: str
    friendly_name: str
    capabilities: Capabilities
    voice_url: str = ""
    sms_url: str = ""
    status_callback: str = ""
    voice_application_sid: str = ""
    sms_application_sid: str = ""
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class NumberPage:
    numbers: list[IncomingNumber]
    next_cursor: str | None  # opaque: pass back to `incoming_numbers_page` to continue


@dataclass(frozen=True)
class AvailableNumber:
    phone_number: str
    friendly_name: str
    iso_country: str
    region: str
    locality: str
    postal_code: str
    capabilities: Capabilities
    address_requirements: str = "none"


@dataclass(frozen=True)
class WebhookUrls:
    """The URLs a number should call; empty strings clear them at the provider."""

    sms_url: str
    status_callback: str
    voice_url: str


class TelephonyProvider:
    """The interface. Vonage or Bandwidth adapters would implement the same methods."""

    # The registry key: `ProviderAccount.provider` and `PhoneNumber.provider`.
    name: str = ""
    # How people call it, in messages.
    label: str = ""

    @classmethod
    def for_account(cls, account) -> TelephonyProvider:
        """The adapter for a connected `ProviderAccount` of this vendor (its stored credentials)."""
        raise NotImplementedError

    @classmethod
    def for_credentials(cls, **credentials) -> TelephonyProvider:
        """The adapter for credentials not saved yet (to verify them, or to search once)."""
        raise NotImplementedError

    @classmethod
    def credential_errors(cls, **credentials) -> dict[str, str]:
        """What is wrong with the credentials' shape, by field, before any call ({} when nothing)."""
        return {}

    def verify(self) -> AccountInfo:
        raise NotImplementedError

    def incoming_numbers_page(self, cursor: str | None = None, page_size: int = 100) -> NumberPage:
        raise NotImplementedError

    def iter_incoming_numbers(self, page_size: int = 100) -> Iterator[IncomingNumber]:
        cursor = None
        while True:
            page = self.incoming_numbers_page(cursor, page_size)
            yield from page.numbers
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def find_incoming_number(self, phone_number: str) -> IncomingNumber | None:
        raise NotImplementedError

    def search_available(self, *, country: str, number_type: str = "local", area_code: str = "",
                         contains: str = "", capabilities: tuple[str, ...] = (), limit: int = 20) -> list[AvailableNumber]:
        raise NotImplementedError

    def buy_number(self, phone_number: str, webhooks: WebhookUrls | None) -> IncomingNumber:
        raise NotImplementedError

    def configure_webhooks(self, sid: str, webhooks: WebhookUrls, *, voice: bool = True) -> IncomingNumber:
        raise NotImplementedError
