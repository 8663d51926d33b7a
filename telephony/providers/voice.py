"""What Softphone needs from a voice carrier (Twilio today), as plain data.

Routing decides in our terms (ring these people, dial this number, take a voicemail, refuse with
a sentence, join a conference); the carrier's adapter turns a decision into its own call-control
language (TwiML for Twilio) and does the carrier's REST work for live calls: set-up of the browser
softphone, access tokens, moving a live call, hold, bringing in a colleague, placing a call, and
fetching a recording. Domain code never builds TwiML or imports the SDK.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.safe_http import Fetched
from core.vendors import ProviderError

__all__ = [
    "Conference", "DialNumber", "Hangup", "Music", "ProviderError", "Refuse", "RingAgents", "VoiceCarrier",
    "VoiceSetup", "VoiceSetupIncomplete", "Voicemail",
]


# Decisions --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RingAgents:
    """Ring these browser softphones at once; whoever answers first takes the call. When nobody
    answers within `timeout` seconds the carrier asks `after_dial_url` what comes next."""

    identities: tuple[str, ...]
    timeout: int
    after_dial_url: str
    status_url: str  # progress of the agents' legs (the <Dial>'s child calls)
    caller_id: str = ""  # what the agent's softphone shows as the caller
    parameters: dict[str, str] = field(default_factory=dict)  # handed to the browser with the call


@dataclass(frozen=True)
class DialNumber:
    """Call a phone number from one of ours (an agent's outgoing call)."""

    number: str
    caller_id: str
    status_url: str
    after_dial_url: str = ""
    timeout: int = 30


@dataclass(frozen=True)
class Voicemail:
    """Play the greeting (audio if given, else the text spoken), then record a message."""

    greeting_text: str
    record_action_url: str
    recording_status_url: str
    greeting_audio_url: str = ""
    max_length: int = 120


@dataclass(frozen=True)
class Refuse:
    """Say why the call cannot go ahead, then hang up."""

    message: str


@dataclass(frozen=True)
class Conference:
    """Put this leg into a named conference (hold and transfer are built on them)."""

    name: str
    status_url: str
    start_on_enter: bool = True
    end_on_exit: bool = False
    wait_url: str = ""  # what a leg hears before the conference starts (our hold music)
    parameters: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Music:
    """Hold music: a sentence, then the music, over and over until the caller is taken off hold."""

    url: str
    message: str = ""


@dataclass(frozen=True)
class Hangup:
    """End the call without a word (e.g. after a voicemail was recorded)."""

    message: str = ""


Decision = RingAgents | DialNumber | Voicemail | Refuse | Conference | Music | Hangup


@dataclass(frozen=True)
class VoiceSetup:
    """What voice set-up created at the carrier. The secret is shown by the carrier this once."""

    twiml_app_sid: str
    api_key_sid: str
    api_key_secret: str


class VoiceSetupIncomplete(ProviderError):
    """Set-up failed halfway and what it had created could not all be removed again: the ids left at
    the carrier (never a secret), so the next set-up or turning voice off can remove them."""

    def __init__(self, message: str, *, permanent: bool, code: int | str | None = None, twiml_app_sid: str = "",
                 api_key_sid: str = ""):
        super().__init__(message, permanent=permanent, code=code)
        self.twiml_app_sid = twiml_app_sid
        self.api_key_sid = api_key_sid


class VoiceCarrier:
    """The interface. Each method raises ProviderError (permanent or not) on failure."""

    name: str = ""

    @classmethod
    def for_account(cls, account) -> VoiceCarrier:
        raise NotImplementedError

    # Webhooks and call control language ------------------------------------------------------------

    @classmethod
    def webhook_verified(cls, *, url: str, form: dict[str, str], form_lists, signature: str, secret: str) -> bool:
        raise NotImplementedError

    @classmethod
    def render(cls, decision: Decision) -> tuple[str, str]:
        """(body, content type) of the answer that carries out `decision`."""
        raise NotImplementedError

    # Browser softphone set-up ----------------------------------------------------------------------

    def voice_provision(self, *, voice_url: str, status_url: str, friendly_name: str) -> VoiceSetup:
        """Create what the browser softphone needs at the carrier: an app whose voice URL answers the
        browser's outgoing calls (`voice_url`), reporting their progress to `status_url`, and an API
        key to sign access tokens with. All or nothing: when a step fails, what the earlier ones
        created is removed again (VoiceSetupIncomplete names what could not be)."""
        raise NotImplementedError

    def voice_deprovision(self, *, twiml_app_sid: str, api_key_sid: str) -> None:
        """Remove what voice_provision created; what is already gone is not an error."""
        raise NotImplementedError

    def access_token(self, *, api_key_sid: str, api_key_secret: str, twiml_app_sid: str, identity: str,
                     ttl: int) -> str:
        raise NotImplementedError

    # Live calls ------------------------------------------------------------------------------------

    def call_redirect(self, call_sid: str, decision: Decision) -> None:
        """Give a live call new instructions (e.g. move it into a conference)."""
        raise NotImplementedError

    def call_hangup(self, call_sid: str) -> None:
        raise NotImplementedError

    def call_place(self, *, from_number: str, to: str, url: str, status_url: str, timeout: int = 30) -> str:
        """Start a call to `to` (a number or client:<identity>) that runs `url`'s answer when picked
        up; returns the carrier's id of the new call."""
        raise NotImplementedError

    def conference_find(self, name: str) -> str:
        """The id of the conference in progress under this name ('' when it has not started yet)."""
        raise NotImplementedError

    def conference_hold(self, *, conference_sid: str, call_sid: str, hold: bool, hold_url: str = "") -> None:
        raise NotImplementedError

    def conference_add(self, *, conference_sid: str, from_number: str, to: str, status_url: str,
                       timeout: int = 30) -> str:
        """Ring `to` into the conference; returns the new participant's call id."""
        raise NotImplementedError

    def conference_remove(self, *, conference_sid: str, call_sid: str) -> None:
        raise NotImplementedError

    # Recordings ------------------------------------------------------------------------------------

    def recording_fetch(self, recording_url: str) -> Fetched:
        """The recording's audio, from the carrier's own host only, with the account's credentials."""
        raise NotImplementedError
