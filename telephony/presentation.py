"""How a call reads to a person: its outcome in words, its length, the other party's number.

Shared by the call log, the call's page, the conversation timeline and the API (`outcome`)."""

from __future__ import annotations

from dataclasses import dataclass

from telephony import providers

from .models import Call, CallDirection, CallStatus


def duration_text(seconds: int | None) -> str:
    """0:42, 12:05, 1:02:03; "" when unknown."""
    if seconds is None:
        return ""
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def call_outcome(call: Call) -> str:
    """What happened, in a few words: "Missed", "Voicemail (0:42)", "Completed · 3:12", "No answer"..."""
    if call.voicemail:
        length = duration_text(call.recording_duration)
        return f"Voicemail ({length})" if length else "Voicemail"
    if call.missed:
        return "Missed"
    if call.status == CallStatus.COMPLETED:
        length = duration_text(call.duration)
        return f"Completed · {length}" if length else "Completed"
    if call.status == CallStatus.IN_PROGRESS:
        return "On hold" if call.on_hold else "In progress"
    if call.status == CallStatus.FAILED and call.failure_reason:
        return f"Failed: {call.failure_reason}"
    return call.get_status_display()


def call_kind(call: Call) -> str:
    """A short title: "Incoming call", "Outgoing call", "Missed call", "Voicemail"."""
    if call.voicemail:
        return "Voicemail"
    if call.missed:
        return "Missed call"
    return "Incoming call" if call.direction == CallDirection.INBOUND else "Outgoing call"


def counterpart(call: Call) -> str:
    """The other party's number: the caller of an inbound call, the number dialled on an outbound one."""
    return call.from_number if call.direction == CallDirection.INBOUND else call.to_number


@dataclass(frozen=True)
class CarrierTraits:
    """What pages say of a carrier, read from its adapters (nothing here names one)."""

    label: str
    voice: bool  # its numbers take calls in the softphone (else: messaging-only)
    account_webhooks: bool  # its webhooks live on the account (a messaging application), not on each number
    number_webhooks: frozenset[str]  # the URLs each number carries: sms_url, status_callback, voice_url


def carrier_traits(provider: str) -> CarrierTraits | None:
    """The carrier `provider` as pages describe it; None for a provider that holds no numbers (VAPI)."""
    if not providers.supports(provider):
        return None
    adapter = providers.adapter_class(provider)
    return CarrierTraits(label=adapter.label, voice=provider in providers.VOICE_ADAPTERS,
                         account_webhooks=adapter.account_webhooks_kind, number_webhooks=adapter.number_webhooks)
