"""A live call under an agent's control: hold, transfer to a colleague (blind or warm), and a call
placed for an agent through the API (their softphone rings first, then the destination).

A call starts as a bridge (Twilio's `<Dial>`: the customer's leg and the agent's). Hold and transfer
need a room where legs come and go, so on the first of them the call moves into a conference of
its own (`call_<id>`): the bridged child leg is redirected into it, which ends the parent's `<Dial>`,
whose action (routing.after_dial) sends the parent leg there too. Twilio names the conference's id
in its callbacks (`call_conference_event`); what the agent asked for before that (hold, a colleague
to ring) is carried out then. In the conference, the customer's leg ends the call; an agent's leg
may leave (a transfer) and the call goes on.

Live control is interactive: an agent pressed a button on a call in progress and hears the result,
so these functions talk to Twilio in the request, with the client's short timeouts, and say in
words when Twilio could not be reached. The state they keep is committed before Twilio is asked,
because Twilio calls our webhooks about it before it answers us.
"""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from telephony import jobs
from telephony.identity import client_identity
from telephony.models import Call, CallDirection, CallStatus, TransferMode, TransferState
from telephony.providers import voice_for_account
from telephony.providers.voice import ProviderError
from tenants import presence
from tenants.models import Agent, AgentKind, Organization
from tenants.selectors import member_sees_client

from . import calls
from .calling_rules import destination_check
from .calls import agent_leg, conference_for_leg, conference_name, customer_leg
from .routing import dial_for, voice_numbers, voicemail_for
from .softphone import voice_accounts
from .webhook_contract import voice_url

logger = logging.getLogger(__name__)


class CallConflict(ValidationError):
    """The call is not in a state that allows this (ended, not yet answered, a transfer under way): 409."""


def _carrier(call: Call):
    if call.phone_number is None:
        raise CallConflict("This call has no number of ours any more, so it cannot be controlled.")
    return voice_for_account(call.phone_number.provider_account)


def _refresh(organization: Organization, call: Call, *, lock: bool = False) -> Call:
    query = Call.objects.select_related("phone_number__provider_account", "agent", "transfer_target", "contact")
    if lock:
        query = query.select_for_update(of=("self",))
    return query.get(organization=organization, pk=call.pk)


def _save(call: Call, **fields) -> None:
    for name, value in fields.items():
        setattr(call, name, value)
    call.save(update_fields=[*fields, "updated_at"])


def _controlled_by(call: Call, agent: Agent | None) -> None:
    if agent is None or call.agent_id != agent.pk:
        raise CallConflict("This call is not yours to control.", code="not_yours")
    if call.ended:
        raise CallConflict("The call has ended.", code="ended")
    if call.answered_at is None or call.status != CallStatus.IN_PROGRESS:
        raise CallConflict("The call has not been answered yet.", code="not_answered")


# Into the conference --------------------------------------------------------------------------------


def _into_conference(organization: Organization, call: Call) -> Call:
    """Move the call's legs into its conference (once). Committed first: Twilio asks after_dial about
    the parent leg as soon as the child moves."""
    if call.conference_name:
        return call
    if not call.child_sid:
        raise CallConflict("The call is still connecting; try again in a moment.", code="connecting")
    with transaction.atomic():
        call = _refresh(organization, call, lock=True)
        if call.conference_name:
            return call
        _save(call, conference_name=conference_name(call))
    carrier = _carrier(call)
    child_is_customer = call.direction != CallDirection.INBOUND
    try:
        carrier.call_redirect(call.child_sid, conference_for_leg(call, customer=child_is_customer))
    except ProviderError:
        with transaction.atomic():
            _save(_refresh(organization, call, lock=True), conference_name="")
        raise
    return call


def _conference_sid(organization: Organization, call: Call) -> str:
    """The conference's id at Twilio: from its callbacks, or asked for ('' before it has started)."""
    if call.conference_sid or not call.conference_name:
        return call.conference_sid
    found = _carrier(call).conference_find(call.conference_name)
    if found:
        with transaction.atomic():
            fresh = _refresh(organization, call, lock=True)
            if not fresh.conference_sid:
                _save(fresh, conference_sid=found)
        call.conference_sid = found
    return found


def _apply_hold(call: Call) -> None:
    """Make the customer's hold at Twilio what the call says. Before the customer's leg has joined
    the conference Twilio has no such participant: the join's callback applies it then."""
    try:
        _carrier(call).conference_hold(conference_sid=call.conference_sid, call_sid=customer_leg(call),
                                       hold=call.on_hold, hold_url=voice_url("hold_music"))
    except ProviderError as exc:
        if not exc.gone:
            raise


# Hold -------------------------------------------------------------------------------------------------


def call_hold(*, organization: Organization, agent: Agent | None, call: Call, hold: bool) -> Call:
    """Put the customer on hold (they hear music) or take them off it."""
    call = _refresh(organization, call)
    _controlled_by(call, agent)
    if call.transfer_state and not hold:
        raise CallConflict("Finish or cancel the transfer first: the caller waits on hold meanwhile.", code="transfer")
    if call.on_hold == hold and (call.conference_sid or not hold):
        return call
    with transaction.atomic():
        call = _refresh(organization, call, lock=True)
        previous = call.on_hold
        _save(call, on_hold=hold)
    try:
        call = _into_conference(organization, call)
        if _conference_sid(organization, call):
            _apply_hold(call)
        # else: the conference is starting; its participant-join callback applies the hold.
    except (ProviderError, CallConflict):
        with transaction.atomic():
            _save(_refresh(organization, call, lock=True), on_hold=previous)
        raise
    calls.announce(call)
    return call


# Transfer ---------------------------------------------------------------------------------------------


def transfer_targets(*, organization: Organization, agent: Agent | None) -> list[dict]:
    """The colleagues a call can go to, with what others see of them; only the available can be rung."""
    people = Agent.objects.filter(organization=organization, kind=AgentKind.HUMAN).order_by("name")
    if agent is not None:
        people = people.exclude(pk=agent.pk)
    people = list(people)
    status = presence.status_of(people, organization.pk)
    return [{"id": str(p.pk), "name": p.name, "status": status[str(p.pk)],
             "label": presence.LABELS[status[str(p.pk)]]} for p in people]


def call_transfer_start(*, organization: Organization, agent: Agent | None, call: Call, target: Agent,
                        mode: str) -> Call:
    """Ring a colleague into the call. Blind: the agent leaves at once and the caller waits on hold
    until the colleague answers (voicemail if they do not). Warm: the caller waits on hold while the
    agent talks to the colleague, then completes or cancels."""
    call = _refresh(organization, call)
    _controlled_by(call, agent)
    if mode not in TransferMode.values:
        raise ValidationError("Choose a blind or a warm transfer.")
    if call.transfer_state:
        raise CallConflict("A transfer of this call is already under way.", code="transfer")
    if target.organization_id != organization.pk or target.kind != AgentKind.HUMAN or target.pk == agent.pk:
        raise ValidationError("Choose a colleague of this organization to transfer the call to.")
    if call.phone_number.provider_account_id not in {a.pk for a in voice_accounts(organization=organization,
                                                                                   agent=target)}:
        raise ValidationError(f"{target.name} cannot take calls on this number.")
    if not member_sees_client(organization=organization, user_id=target.user_id, client_id=call.phone_number.client_id):
        raise ValidationError(f"{target.name} does not work for this number's client.")
    if not presence.can_ring(target, organization.pk):
        label = presence.LABELS[presence.status_of([target], organization.pk)[str(target.pk)]].lower()
        raise CallConflict(f"{target.name} is not available to take a call ({label}).", code="unavailable")
    with transaction.atomic():
        call = _refresh(organization, call, lock=True)
        if call.transfer_state:
            raise CallConflict("A transfer of this call is already under way.", code="transfer")
        previous_hold = call.on_hold
        _save(call, transfer_state=TransferState.PENDING, transfer_mode=mode, transfer_target=target,
              transfer_leg_sid="", on_hold=True)
    try:
        call = _into_conference(organization, call)
        if _conference_sid(organization, call):
            _apply_hold(call)
            call = _ring_target(organization, call)
        # else: the participant-join callback holds the caller and rings the colleague.
    except (ProviderError, CallConflict):
        with transaction.atomic():
            _save(_refresh(organization, call, lock=True), transfer_state="", transfer_mode="", transfer_target=None,
                  on_hold=previous_hold)
        raise
    calls.announce(call)
    return call


def _ring_target(organization: Organization, call: Call) -> Call:
    """The conference is up: ring the colleague into it (and, blind, let the agent go)."""
    carrier = _carrier(call)
    leg = carrier.conference_add(conference_sid=call.conference_sid, from_number=call.phone_number.phone_number,
                                 to="client:" + client_identity(call.transfer_target), status_url=voice_url("status"),
                                 timeout=call.phone_number.ring_timeout)
    with transaction.atomic():
        call = _refresh(organization, call, lock=True)
        _save(call, transfer_state=TransferState.RINGING, transfer_leg_sid=leg)
    if call.transfer_mode == TransferMode.BLIND:
        _agent_leaves(organization, call)
    return call


def _agent_leaves(organization: Organization, call: Call) -> None:
    leaving = agent_leg(call)
    if leaving:
        _carrier(call).conference_remove(conference_sid=call.conference_sid, call_sid=leaving)
    if call.agent_id:
        presence.in_call_clear(organization.pk, call.agent_id, call.pk)


def _handed_over(organization: Organization, call: Call) -> Call:
    """The colleague has the call: they are its agent now, and the caller is off hold."""
    with transaction.atomic():
        call = _refresh(organization, call, lock=True)
        _save(call, transferred_by=call.agent, transferred_to=call.transfer_target, agent=call.transfer_target,
              agent_leg_sid=call.transfer_leg_sid, transfer_state="", transfer_mode="", transfer_target=None,
              transfer_leg_sid="", on_hold=False)
    presence.in_call_set(organization.pk, call.agent_id, call.pk)
    _apply_hold(call)
    calls.announce(call)
    return call


def call_transfer_complete(*, organization: Organization, agent: Agent | None, call: Call) -> Call:
    """Warm transfer: the agent has spoken to the colleague and leaves them with the caller."""
    call = _refresh(organization, call)
    _controlled_by(call, agent)
    if call.transfer_state != TransferState.TALKING:
        raise CallConflict("There is no colleague on the line to hand the call to yet.", code="transfer")
    _agent_leaves(organization, call)
    return _handed_over(organization, call)


def call_transfer_cancel(*, organization: Organization, agent: Agent | None, call: Call) -> Call:
    """Stop a transfer: the colleague's leg is dropped and the agent is back with the caller."""
    call = _refresh(organization, call)
    _controlled_by(call, agent)
    if not call.transfer_state:  # it failed or ended meanwhile: the agent is back with the caller already
        return call
    if call.transfer_leg_sid and call.conference_sid:
        _carrier(call).conference_remove(conference_sid=call.conference_sid, call_sid=call.transfer_leg_sid)
    with transaction.atomic():
        call = _refresh(organization, call, lock=True)
        _save(call, transfer_state="", transfer_mode="", transfer_target=None, transfer_leg_sid="", on_hold=False)
    if call.conference_sid:
        _apply_hold(call)
    calls.announce(call)
    return call


def call_transfer_leg_status(*, organization: Organization, call: Call, leg_sid: str, status: str) -> Call:
    """Progress of the colleague's leg."""
    if not leg_sid or leg_sid != call.transfer_leg_sid or not call.transfer_state:
        return call
    target = call.transfer_target
    if status == CallStatus.IN_PROGRESS and call.transfer_state == TransferState.RINGING:
        if call.transfer_mode == TransferMode.BLIND:
            return _handed_over(organization, call)
        with transaction.atomic():
            call = _refresh(organization, call, lock=True)
            _save(call, transfer_state=TransferState.TALKING)
        if target is not None:
            presence.in_call_set(organization.pk, target.pk, call.pk)
        calls.announce(call)
        return call
    if status in (CallStatus.COMPLETED, CallStatus.BUSY, CallStatus.FAILED, CallStatus.NO_ANSWER,
                  CallStatus.CANCELED):
        return _transfer_failed(organization, call, status)
    return call


def _transfer_failed(organization: Organization, call: Call, status: str) -> Call:
    """The colleague did not answer, or hung up before the hand-over."""
    blind = call.transfer_mode == TransferMode.BLIND
    name = call.transfer_target.name if call.transfer_target else "The colleague"
    if call.transfer_target:
        presence.in_call_clear(organization.pk, call.transfer_target_id, call.pk)
    with transaction.atomic():
        call = _refresh(organization, call, lock=True)
        _save(call, transfer_state="", transfer_mode="", transfer_target=None, transfer_leg_sid="",
              failure_reason=f"{name} did not take the transfer ({status.replace('-', ' ')}).")
    if blind and not call.ended:
        # Nobody of ours is on the line any more: the caller reaches the number's voicemail.
        _carrier(call).call_redirect(customer_leg(call), voicemail_for(call.phone_number))
    calls.announce(call)
    return call


# The conference's callbacks ------------------------------------------------------------------------------


def call_conference_event(*, organization: Organization, call: Call, event: str, conference_sid: str,
                          leg_sid: str) -> Call:
    """Twilio tells us about the call's conference. Its id is kept, and what waited for it (a hold,
    a colleague to ring) is done by a task (it talks to Twilio)."""
    if conference_sid and not call.conference_sid:
        with transaction.atomic():
            call = _refresh(organization, call, lock=True)
            if not call.conference_sid:
                _save(call, conference_sid=conference_sid[:64])
    if event == "participant-join" and leg_sid and leg_sid == customer_leg(call) and not call.ended:
        if call.on_hold or call.transfer_state == TransferState.PENDING:
            jobs.call_conference_continue(organization.pk, call.pk)
    return call


def call_conference_continue(*, organization: Organization, call: Call) -> Call:
    """The customer is in the conference: hold them if the agent asked, ring the colleague if a
    transfer waits."""
    call = _refresh(organization, call)
    if call.ended or not call.conference_sid:
        return call
    if call.on_hold:
        _apply_hold(call)
    if call.transfer_state == TransferState.PENDING:
        call = _ring_target(organization, call)
    return call


# A call placed for an agent (REST) ---------------------------------------------------------------------


def call_place_request(*, organization: Organization, agent: Agent | None, from_id, destination: str) -> Call:
    """Save the call (queued) and ask a worker to place it: the agent's softphone rings first, and
    when they answer, Twilio dials the destination from our number (the `connect` webhook)."""
    if agent is None or agent.kind != AgentKind.HUMAN:
        raise ValidationError("Only an agent of this organization can place calls.")
    numbers = voice_numbers(organization=organization, agent=agent)
    number = next((n for n in numbers if str(n.pk) == str(from_id)), None)
    if number is None:
        raise ValidationError({"from": "Choose one of your numbers that can make calls."})
    if number.provider_account.voice_status != "ready":
        raise ValidationError({"from": "The softphone is not set up on this number's Twilio account."})
    verdict = destination_check(organization=organization, destination=destination,
                                calling_from=number.phone_number)
    if not verdict.allowed:
        raise ValidationError({"to": verdict.refusal})
    if not presence.can_ring(agent, organization.pk):
        raise CallConflict("Your softphone is not online (or you are away or on a call): open Softphone in a "
                           "browser tab and set yourself available, then try again.", code="unavailable")
    with transaction.atomic():
        call = Call.objects.create(
            organization=organization, phone_number=number, agent=agent,
            contact=calls.contact_of(organization, verdict.number), direction=CallDirection.OUTBOUND,
            from_number=number.phone_number, to_number=verdict.number, status=CallStatus.QUEUED,
            started_at=timezone.now(), created_by=agent.user)
        jobs.call_place(organization.pk, call.pk)
    calls.announce(call, created=True)
    return call


def call_place_run(*, organization: Organization, call: Call) -> Call:
    """The worker's half: ask Twilio to ring the agent's softphone. The URLs name our call, because
    Twilio may call them before it has told us the new call's id."""
    if call.provider_sid or call.ended:
        return call
    try:
        leg = _carrier(call).call_place(
            from_number=call.from_number, to="client:" + client_identity(call.agent),
            url=voice_url("connect") + f"?call={call.pk}", status_url=voice_url("status") + f"?call={call.pk}",
            timeout=call.phone_number.ring_timeout)
    except (ProviderError, CallConflict) as exc:
        # Not retried: a call the agent asked for now must not ring them minutes later.
        call_place_failed(organization=organization, call=call, reason=getattr(exc, "message", str(exc)))
        return call
    return calls.call_bind_leg(organization=organization, call=call, sid=leg)


def call_place_failed(*, organization: Organization, call: Call, reason: str) -> None:
    with transaction.atomic():
        call = _refresh(organization, call, lock=True)
        if not call.ended:
            _save(call, status=CallStatus.FAILED, failure_reason=reason, ended_at=timezone.now())
    if call.agent_id:
        presence.in_call_clear(organization.pk, call.agent_id, call.pk)
    calls.announce(call)


def connect_decision(*, organization: Organization, call: Call, leg_sid: str):
    """The agent answered the call placed for them: dial the destination (or say why not)."""
    call = calls.call_bind_leg(organization=organization, call=call, sid=leg_sid)
    if call.ended:
        return None
    presence.in_call_set(organization.pk, call.agent_id, call.pk)
    return dial_for(call)

