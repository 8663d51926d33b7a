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


@dataclass(frozen=True)
class AccountWebhooks:
    """Account-wide webhooks (Bandwidth's messaging application): where the carrier sends inbound
    messages and delivery reports for every number of the account, and the credentials it presents.
    Empty strings clear them."""

    inbound_url: str
    status_url: str
    username: str = ""
    password: str = ""


class TelephonyProvider:
    """The interface every carrier's numbers adapter implements (Twilio, Vonage, Bandwidth)."""

    # The registry key: `ProviderAccount.provider` and `PhoneNumber.provider`.
    name: str = ""
    # How people call it, in messages.
    label: str = ""
    # What a person types to connect an account, by input name, and the ProviderAccount field each
    # lands in (see ProviderAccount): the API, the forms and the services ask here.
    credential_fields: dict[str, str] = {}
    # Which of WebhookUrls' URLs the carrier keeps on each number (the others stay '').
    number_webhooks: frozenset[str] = frozenset()
    # Whether the carrier's webhooks are configured on the account (its messaging application)
    # rather than on each number: then `account_webhooks` and `configure_account_webhooks`.
    account_webhooks_kind: bool = False

    @classmethod
    def for_account(cls, account) -> TelephonyProvider:
        """The adapter for a connected `ProviderAccount` of this vendor (its stored credentials)."""
        return cls.for_credentials(**{field: getattr(account, field) or "" for field in
                                      set(cls.credential_fields.values())})

    @classmethod
    def for_credentials(cls, **fields) -> TelephonyProvider:
        """The adapter for credentials not saved yet (to verify them, or to search once), given as
        ProviderAccount fields (`credential_fields`' values)."""
        raise NotImplementedError

    @classmethod
    def account_fields(cls, given: dict[str, str]) -> dict[str, str]:
        """What a person typed (input names) as ProviderAccount fields, stripped; inputs the carrier
        does not take are ignored. A carrier may add fields of its own making (a generated secret)."""
        return {field: (given.get(name) or "").strip() for name, field in cls.credential_fields.items()}

    @classmethod
    def credential_errors(cls, **fields) -> dict[str, str]:
        """What is wrong with the credentials' shape (ProviderAccount fields), by input name, before
        any call ({} when nothing)."""
        return {}

    @classmethod
    def webhook_secret_of(cls, account) -> str:
        """The secret this carrier's webhooks for the account are checked with."""
        return account.auth_token or ""

    def release_number(self, sid: str) -> None:
        """Give the number back to the carrier (it stops being billed, and is no longer the account's)."""
        raise NotImplementedError

    def account_webhooks(self) -> AccountWebhooks:
        """account_webhooks_kind: what the account's messaging application calls now."""
        raise NotImplementedError

    def configure_account_webhooks(self, webhooks: AccountWebhooks) -> AccountWebhooks:
        """account_webhooks_kind: point the account's messaging application at `webhooks`."""
        raise NotImplementedError

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
