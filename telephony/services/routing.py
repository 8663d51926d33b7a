"""Where a call goes, decided in our terms (telephony/providers/voice.py); the carrier's adapter
turns the decision into its call-control language. Each function records the call and answers at
once: Twilio waits at most 15 seconds, and the caller hears silence meanwhile.
"""

from __future__ import annotations

import logging
from functools import partial

from django.conf import settings
from django.core import signing
from django.urls import reverse

from telephony.identity import identity_of
from telephony.models import Call, CallDirection, NumberStatus, PhoneNumber
from telephony.providers.voice import DialNumber, Hangup, Music, Refuse, RingAgents, Voicemail
from tenants import presence
from tenants.models import Agent, AgentKind, Organization

from . import calls
from .calling_rules import destination_check
from .calls import InboundCall
from .webhook_contract import voice_url

logger = logging.getLogger(__name__)

DEFAULT_GREETING = ("Sorry, nobody can take your call at {name} right now. "
                    "Please leave a message after the tone, and we will call you back.")
NO_NUMBER = "You have no phone number to call from. Ask an administrator to assign you one."
GOODBYE = "Thank you. Goodbye."


def voicemail_for(number: PhoneNumber) -> Voicemail:
    return _voicemail(number_id=number.pk, greeting=number.voicemail_greeting,
                      greeting_audio=number.voicemail_greeting_audio.name or "",
                      organization_name=number.organization.name)


def _voicemail(*, number_id, greeting: str, greeting_audio: str, organization_name: str) -> Voicemail:
    audio = greeting_audio_url(number_id, greeting_audio) if greeting_audio else ""
    text = greeting.strip() or DEFAULT_GREETING.format(name=organization_name)
    return Voicemail(greeting_text=text, greeting_audio_url=audio, record_action_url=voice_url("voicemail"),
                     recording_status_url=voice_url("recording"))


GREETING_SALT = "telephony.voice-greeting"


def greeting_audio_url(number_id, file_name: str) -> str:
    """A link Twilio can fetch the recorded greeting from: signed over the number and the file, so
    it names one greeting and stops working when the greeting is replaced."""
    token = signing.dumps([str(number_id), file_name], salt=GREETING_SALT)
    return settings.PUBLIC_BASE_URL + reverse("voice-webhooks:voice-greeting", kwargs={"token": token})


def greeting_of_token(token: str) -> tuple[str, str] | None:
    """(phone number id, file name) that `token` names, or None when it is not ours."""
    try:
        number_id, name = signing.loads(token, salt=GREETING_SALT)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    return str(number_id), str(name)


def inbound(call: InboundCall):
    """A customer called our number (the call is stored, calls.call_inbound_start): ring its person's
    browser, or take a voicemail."""
    if call.ended:
        return Hangup()
    voicemail = partial(_voicemail, number_id=call.number_id, greeting=call.greeting,
                        greeting_audio=call.greeting_audio, organization_name=call.organization_name)
    if call.agent_id is None:
        return voicemail()
    if call.agent_kind == AgentKind.AI:
        # VAPI answers an AI agent's number; reaching us means its voice URL is ours again (the
        # platform sync has not finished, or failed): the caller still gets a voicemail.
        logger.warning("voice: a call to %s reached us although its agent is an AI agent", call.number_id)
        return voicemail()
    if not presence.can_ring_agent(call.organization_id, call.agent_id, call.agent_availability):
        return voicemail()
    parameters = {
        "call_id": str(call.call_id),
        "contact_name": call.contact_name or call.caller or "Unknown caller",
        "contact_number": call.contact_number or call.caller,
        "number_label": call.number_label,
    }
    if call.contact_id is not None:
        parameters["conversation_url"] = reverse("messaging:conversation-with", kwargs={
            "org_slug": call.organization_slug, "contact_id": call.contact_id, "phone_number_id": call.number_id})
    return RingAgents(identities=(identity_of(call.agent_id),), timeout=call.ring_timeout,
                      after_dial_url=voice_url("after_dial"), status_url=voice_url("status"),
                      caller_id=call.caller if call.caller.startswith("+") else "", parameters=parameters)


def voice_numbers(*, organization: Organization, agent: Agent):
    """The numbers an agent may call from: theirs, active, voice-capable, not answered by VAPI."""
    return [n for n in PhoneNumber.objects.filter(organization=organization, agent=agent, status=NumberStatus.ACTIVE,
                                                  platform_id="").select_related("provider_account")
            .order_by("phone_number") if n.can("voice")]


def outbound(*, organization: Organization, agent: Agent, call_sid: str, destination: str, from_id: str):
    """An agent's browser placed a call (the TwiML App's voice URL)."""
    existing = calls.call_for_leg(organization=organization, sid=call_sid)
    if existing is not None:  # Twilio retried the request
        if existing.ended:
            return Refuse(existing.failure_reason or GOODBYE)
        return dial_for(existing)
    numbers = voice_numbers(organization=organization, agent=agent)
    number = next((n for n in numbers if str(n.pk) == from_id), numbers[0] if numbers else None)
    if number is None:
        calls.call_outbound_start(organization=organization, agent=agent, number=None, call_sid=call_sid,
                                  destination=destination or "", refused=NO_NUMBER)
        return Refuse(NO_NUMBER)
    verdict = destination_check(organization=organization, destination=destination,
                                calling_from=number.phone_number)
    if not verdict.allowed:
        calls.call_outbound_start(organization=organization, agent=agent, number=number, call_sid=call_sid,
                                  destination=verdict.number or (destination or "")[:64], refused=verdict.refusal)
        return Refuse(verdict.refusal)
    call = calls.call_outbound_start(organization=organization, agent=agent, number=number, call_sid=call_sid,
                                     destination=verdict.number)
    return dial_for(call)


def dial_for(call: Call) -> DialNumber:
    return DialNumber(number=call.to_number, caller_id=call.from_number, status_url=voice_url("status"),
                      after_dial_url=voice_url("after_dial"))


def after_dial(*, organization: Organization, call: Call, dial_status: str, child_sid: str):
    """The <Dial> ended: nobody answered (voicemail), the call moved into a conference (hold or
    transfer), or it is over."""
    if call.conference_name:
        # The bridged leg moved into the call's conference (hold or transfer): the parent follows.
        return calls.conference_for_leg(call, customer=call.direction == CallDirection.INBOUND)
    call = calls.call_dial_ended(organization=organization, call=call, dial_status=dial_status, child_sid=child_sid)
    if call.direction == CallDirection.INBOUND and call.answered_at is None and dial_status != "completed" \
            and call.phone_number is not None:
        return voicemail_for(call.phone_number)
    return Hangup()


def hold_music() -> Music:
    return Music(url=settings.VOICE_HOLD_MUSIC_URL, message="Please hold, we will be with you in a moment.")


def voicemail_left(*, organization: Organization, call: Call, recording_sid: str, recording_url: str,
                   duration: int | None):
    calls.call_voicemail_record(organization=organization, call=call, recording_sid=recording_sid,
                                recording_url=recording_url, duration=duration)
    return Hangup(GOODBYE)
