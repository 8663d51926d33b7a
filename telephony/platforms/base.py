"""What Softphone needs from a voice-AI platform (VAPI today), as plain data.

A number answered by an AI agent is attached to the platform with that agent's assistant; the
platform then answers its calls. Adapters (one per vendor, found through `telephony.platforms`)
implement `VoicePlatform`; only they talk to the vendor. Every failure is a `ProviderError` whose
message a person can read (`gone` when the thing asked about no longer exists there).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from core.vendors import ProviderError

__all__ = ["Assistant", "CallReport", "PlatformEvent", "PlatformNumber", "ProviderError", "ReportServer",
           "VoicePlatform"]


@dataclass(frozen=True)
class Assistant:
    id: str
    name: str


@dataclass(frozen=True)
class PlatformNumber:
    """A number as the platform has it: its id there, the assistant that answers it, and where the
    platform sends its reports about the number's calls."""

    id: str
    number: str
    assistant_id: str
    status: str
    sms_enabled: bool
    server_url: str = ""


@dataclass(frozen=True)
class ReportServer:
    """Where the platform reports a number's calls (our webhook), and the secret it presents there."""

    url: str
    secret: str


@dataclass(frozen=True)
class CallReport:
    """What the platform tells about one call on one of its numbers, in our terms.

    `status` is one of telephony.models.CallStatus's values; the rest is what the platform knows:
    empty strings and None where it said nothing."""

    call_id: str
    phone_number_id: str
    direction: str  # "inbound" | "outbound"
    customer_number: str
    status: str
    assistant_id: str = ""
    started_at: datetime | None = None
    ended_at: datetime | None = None
    ended_reason: str = ""
    cost: Decimal | None = None
    transcript: str = ""
    summary: str = ""
    recording_url: str = ""
    duration: int | None = None


@dataclass(frozen=True)
class PlatformEvent:
    """One message the platform sent to our webhook: `kind` is "report" (the call ended and its
    report is complete), "status" (the call moved on) or "other" (nothing we keep; `report` None)."""

    kind: str
    type: str
    report: CallReport | None = None


class VoicePlatform:
    """The interface. Another voice-AI platform would implement the same methods."""

    # The registry key: `ProviderAccount.provider` of the account, `PhoneNumber.platform` of a number on it.
    name: str = ""
    # How people call it, in messages.
    label: str = ""

    @classmethod
    def for_account(cls, account) -> VoicePlatform:
        """The adapter for a connected `ProviderAccount` of this platform."""
        raise NotImplementedError

    @classmethod
    def for_credentials(cls, **credentials) -> VoicePlatform:
        """The adapter for credentials not saved yet (to verify them before they are)."""
        raise NotImplementedError

    # The request header in which the platform presents a number's report-server secret.
    secret_header: str = ""

    @classmethod
    def parse_event(cls, body: bytes) -> PlatformEvent:
        """Read one webhook request body. Raises ValueError with a sentence a person understands
        when it is not a message of the platform or lacks what we need."""
        raise NotImplementedError

    def verify(self) -> None:
        """One short call that succeeds only with working credentials."""
        raise NotImplementedError

    def list_assistants(self) -> list[Assistant]:
        raise NotImplementedError

    def list_numbers(self) -> list[PlatformNumber]:
        raise NotImplementedError

    def get_number(self, number_id: str) -> PlatformNumber | None:
        """The number, or None when the platform no longer has it."""
        raise NotImplementedError

    def attach_number(self, *, phone_number: str, carrier: str, account_sid: str, auth_token: str,
                      assistant_id: str, name: str = "", server: ReportServer | None = None) -> PlatformNumber:
        """Put a number we hold at `carrier` (a numbers provider's name) on the platform, answered by
        `assistant_id`, its calls reported to `server`. The platform takes over its voice URL only:
        its SMS stay with us."""
        raise NotImplementedError

    def set_assistant(self, number_id: str, assistant_id: str, server: ReportServer | None = None) -> PlatformNumber:
        """Change the assistant answering the number (and, given, where its calls are reported)."""
        raise NotImplementedError

    def detach_number(self, number_id: str) -> bool:
        """Take the number off the platform; False if it was not there any more (already as wanted)."""
        raise NotImplementedError
