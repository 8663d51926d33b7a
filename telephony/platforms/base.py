"""What Softphone needs from a voice-AI platform (VAPI today), as plain data.

A number answered by an AI agent is attached to the platform with that agent's assistant; the
platform then answers its calls. Adapters (one per vendor, found through `telephony.platforms`)
implement `VoicePlatform`; only they talk to the vendor. Every failure is a `ProviderError` whose
message a person can read (`gone` when the thing asked about no longer exists there).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.vendors import ProviderError

__all__ = ["Assistant", "PlatformNumber", "ProviderError", "VoicePlatform"]


@dataclass(frozen=True)
class Assistant:
    id: str
    name: str


@dataclass(frozen=True)
class PlatformNumber:
    """A number as the platform has it: its id there and the assistant that answers it."""

    id: str
    number: str
    assistant_id: str
    status: str
    sms_enabled: bool


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
                      assistant_id: str, name: str = "") -> PlatformNumber:
        """Put a number we hold at `carrier` (a numbers provider's name) on the platform, answered by
        `assistant_id`. The platform takes over its voice URL only: its SMS stay with us."""
        raise NotImplementedError

    def set_assistant(self, number_id: str, assistant_id: str) -> PlatformNumber:
        raise NotImplementedError

    def detach_number(self, number_id: str) -> bool:
        """Take the number off the platform; False if it was not there any more (already as wanted)."""
        raise NotImplementedError
