"""Call records: created when a call first reaches us, kept current by the carrier's callbacks.

Callbacks arrive late, twice, or out of order. A status only moves forward (CALL_STATUS_RANK); once
a call has ended, its status is final. Each change is told to the apps above (telephony.signals.
call_changed) after commit, and to presence: an agent on a call is "in a call" until it ends.

What the Call's status means to a person: inbound, `ringing` until an agent answers (`in-progress`),
then `completed`; nobody answered: `no-answer` (with `voicemail` when the caller left one), or the
carrier's busy / failed / canceled. Outbound, the customer's side decides: ringing, in-progress,
completed, or busy / no-answer / failed / canceled.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from core.group_commit import GroupCommit
from core.ids import uuid7
from crm.models import Contact
from crm.services import Sender, contact_for
from telephony.lines import Line
from telephony.models import (
    CALL_ENDED,
    CALL_STATUS_RANK,
    Call,
    CallDirection,
    CallDrain,
    CallStatus,
    PhoneNumber,
    Provider,
)
from telephony.platforms.base import CallReport
from telephony.providers.voice import Conference
from telephony.signals import call_changed, calls_waiting
from tenants import presence
from tenants.access import EVERYTHING
from tenants.models import Agent, AgentKind, Organization
from tenants.rls import call_committing, execute_in_tenant
from tenants.scoping import tenant_scope

from .webhook_contract import voice_url

logger = logging.getLogger(__name__)


# What carriers send instead of a caller's number when it is withheld (Twilio passes the words
# through, and used to translate them into these digits). Every such caller is someone else: none
# becomes a contact, or all of them would share one conversation.
WITHHELD = frozenset({"anonymous", "restricted", "private", "withheld", "unknown", "unavailable", "blocked",
                      "+266696687", "+7378742833", "+2562533", "+8656696", "+86282452253"})


def withheld(address: str) -> bool:
    return (address or "").strip().lower() in WITHHELD


def _contact(organization: Organization, address: str) -> Contact | None:
    """The contact of a caller or a destination; None for an address that is none (withheld)."""
    if withheld(address):
        return None
    try:
        return contact_for(organization=organization, phone=address)
    except ValidationError:
        return None


# Legs: the customer's and the agent's (the parent is the customer's on an inbound call, the agent's
# browser on an outbound one; after a transfer, the agent's is the colleague's leg).


def customer_leg(call: Call) -> str:
    return call.provider_sid if call.direction == CallDirection.INBOUND else call.child_sid


def agent_leg(call: Call) -> str:
    if call.agent_leg_sid:
        return call.agent_leg_sid
    return call.child_sid if call.direction == CallDirection.INBOUND else call.provider_sid


def conference_name(call: Call) -> str:
    return "call_" + call.pk.hex


def conference_for_leg(call: Call, *, customer: bool) -> Conference:
    """Where a leg goes in the call's conference (hold and transfer happen there). The customer ends
    it when they hang up; before anyone else is there they hear our hold music."""
    return Conference(name=call.conference_name, status_url=voice_url("conference"), wait_url=voice_url("hold_music"),
                      start_on_enter=True, end_on_exit=customer)


def contact_of(organization: Organization, address: str) -> Contact | None:
    return _contact(organization, address)


def announce(call: Call, *, created: bool = False) -> None:
    """Tell the apps above (after commit) that the call changed."""
    _announce(call, created=created)


def _announce(call: Call, *, created: bool, loaded: bool = False) -> None:
    """After commit, send call_changed with the call as it is then (`loaded`: this very object,
    whose number, agent and contact are already in memory, saving a query on the caller's path)."""
    call_id, organization = call.pk, call.organization

    def send():
        # After commit the request's scope may be gone (a task, a test's captured callbacks): the
        # receivers run in the call's tenant either way.
        with tenant_scope(organization, EVERYTHING):  # for the receivers, whoever changed the call
            fresh = call if loaded else Call.objects.filter(organization=organization, pk=call_id).select_related(
                "contact", "phone_number", "agent").first()
            if fresh is not None:
                call_changed.send(sender=Call, call=fresh, created=created)

    transaction.on_commit(send)


def call_for_leg(*, organization: Organization, sid: str) -> Call | None:
    """The call one of whose legs is `sid` (the parent's provider_sid, the bridged child_sid, a
    transferred call's new agent leg, or the colleague being rung)."""
    if not sid:
        return None
    return (Call.objects.filter(organization=organization, provider=Provider.TWILIO)
            .filter(Q(provider_sid=sid) | Q(child_sid=sid) | Q(agent_leg_sid=sid) | Q(transfer_leg_sid=sid)).first())


@transaction.atomic
def call_bind_leg(*, organization: Organization, call: Call, sid: str) -> Call:
    """A call we placed through the API learns its id at Twilio (from Twilio's answer or from its
    first webhook, whichever comes first: both say the same)."""
    call = Call.objects.select_for_update().get(organization=organization, pk=call.pk)
    if sid and not call.provider_sid:
        call.provider_sid = sid[:64]
        call.save(update_fields=["provider_sid", "updated_at"])
    return call


def _get_or_create(organization: Organization, sid: str, defaults: dict,
                   provider: str = Provider.TWILIO) -> tuple[Call, bool]:
    existing = Call.objects.filter(organization=organization, provider=provider, provider_sid=sid).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            return Call.objects.create(organization=organization, provider=provider, provider_sid=sid,
                                       **defaults), True
    except IntegrityError:  # the same CallSid, stored meanwhile by a retry of the same webhook
        return Call.objects.get(organization=organization, provider=provider, provider_sid=sid), False


# How long a claimed request for a worker stands before another webhook may ask again (a lost task
# is asked for again after this; see CallDrain).
CALL_DRAIN_SECONDS = 60


@dataclass(frozen=True)
class InboundCall:
    """A customer's call as stored by the inbound webhook, with what its answer needs: the number's
    routing settings and its agent as they are now (telephony_inbound_call_insert)."""

    organization_id: uuid.UUID
    number_id: uuid.UUID
    call_id: uuid.UUID
    created: bool
    status: str
    caller: str
    contact_id: uuid.UUID | None
    contact_name: str
    contact_number: str
    number_e164: str
    number_label: str
    ring_timeout: int
    greeting: str
    greeting_audio: str
    agent_id: uuid.UUID | None
    agent_kind: str
    agent_availability: str
    organization_name: str
    organization_slug: str

    @property
    def ended(self) -> bool:
        return self.status in CALL_ENDED


def call_inbound_start(*, line: Line, call_sid: str, caller: str) -> InboundCall | None:
    """A customer's call reached our number: the caller's contact found or created, the call stored
    as ringing, once per CallSid (Twilio retries: the same CallSid is the same call).

    The caller hears silence until we answer, so this is one round trip to PostgreSQL, without the
    ORM, shared with the calls arriving at the same moment (group commit): the procedure
    telephony_inbound_calls_start (telephony/sql/voice.sql) writes both rows, commits, claims the
    request for a worker to show new calls in their conversations, and returns what the answer needs. No task is queued per call: when this call claimed the request, a worker
    is asked (calls_waiting, connected by messaging), and it takes every call stored meanwhile.

    `line` may come from the webhooks' cache unchecked (telephony.lines.cached_line): the procedure
    stores nothing, and this returns None, when the number is no longer the line's organization's or
    its account's stored token is no longer the one the line was read with; the caller then reads
    the line again. None too when the CallSid is another tenant's call."""
    organization_id, number_id = line.organization.pk, line.number_id
    address = kind = None  # a withheld number, or none: a call without a contact
    if not withheld(caller):
        try:
            sender = Sender.of(caller)
            address, kind = sender.address, sender.kind
        except ValidationError:
            pass
    arguments = (organization_id, uuid7(), number_id, line.token_digest, call_sid, caller[:64], uuid7(), address, kind)
    if transaction.get_connection().in_atomic_block:
        # Inside a transaction (a caller's own, a test's): the same insert, the claim after the commit.
        rows = execute_in_tenant(organization_id, "select to_jsonb(r)::text from telephony_inbound_call_insert("
                                 "%s, %s, %s, %s, %s, %s, %s, %s, %s) r", list(arguments))
        row = json.loads(rows[0][0]) if rows else None
        if row is not None and row["created"]:
            transaction.on_commit(lambda: _call_drain_request(organization_id))
    else:
        row, drain_claimed = _group_commit.write(arguments)
        if drain_claimed:
            calls_waiting.send(sender=Call, organization_id=organization_id)
    if row is None:
        return None
    return InboundCall(
        organization_id=organization_id, number_id=number_id, call_id=uuid.UUID(row["call_id"]), created=row["created"],
        status=row["call_status"], caller=row["caller"], contact_id=_uuid(row["contact_id"]),
        contact_name=row["contact_name"] or "", contact_number=row["contact_number"] or "",
        number_e164=row["number_e164"], number_label=row["number_label"], ring_timeout=row["ring_timeout"],
        greeting=row["greeting"] or "", greeting_audio=row["greeting_audio"] or "", agent_id=_uuid(row["agent_id"]),
        agent_kind=row["agent_kind"] or "", agent_availability=row["agent_availability"] or "",
        organization_name=row["organization_name"], organization_slug=row["organization_slug"])


def _uuid(value) -> uuid.UUID | None:
    return uuid.UUID(value) if value else None


def _calls_store(batch: list[tuple]) -> list[tuple[dict | None, bool]]:
    """One call of telephony_inbound_calls_start for calls arriving together: (the stored call's row
    or None, whether it claimed the request for a worker) for each."""
    columns = list(zip(*batch, strict=True))
    calls, claimed = call_committing("telephony_inbound_calls_start", [
        *(list(column) for column in columns), [uuid7() for _ in batch], CALL_DRAIN_SECONDS])
    return list(zip(json.loads(calls), claimed, strict=True))  # Django reads JSON as text


# Calls that arrive while one is being stored are stored together (core.group_commit).
_group_commit = GroupCommit(_calls_store)


def _call_drain_request(organization_id) -> None:
    [(claimed,)] = execute_in_tenant(organization_id, "select telephony_call_drain_claim(%s, %s, %s)",
                                     [organization_id, uuid7(), CALL_DRAIN_SECONDS])
    if claimed:
        calls_waiting.send(sender=Call, organization_id=organization_id)


def calls_pending_conversation(*, organization: Organization, older_than=None):
    """Calls not yet shown in their contact's conversation (oldest first)."""
    pending = Call.objects.filter(organization=organization, conversation_pending=True)
    if older_than is not None:
        pending = pending.filter(created_at__lt=timezone.now() - older_than)
    return pending.order_by("created_at")


def call_drain_spent(*, organization: Organization) -> None:
    """The worker that was asked has started its last look: the next new call asks again."""
    CallDrain.objects.filter(organization=organization).update(requested_until=timezone.now() - timedelta(days=1))


@transaction.atomic
def call_outbound_start(*, organization: Organization, agent: Agent, number: PhoneNumber, call_sid: str,
                        destination: str, refused: str = "") -> Call:
    """An agent's browser called `destination` from `number`. A refused call is kept too (failed,
    with the reason), so the agent's log shows what happened."""
    call, created = _get_or_create(organization, call_sid, dict(
        phone_number=number, agent=agent, contact=_contact(organization, destination) if not refused else None,
        direction=CallDirection.OUTBOUND, from_number=number.phone_number if number else "",
        to_number=destination[:64], status=CallStatus.FAILED if refused else CallStatus.QUEUED,
        failure_reason=refused, started_at=timezone.now(), created_by=agent.user,
        ended_at=timezone.now() if refused else None))
    if created:
        if not refused:
            presence.in_call_set(organization.pk, agent.pk, call.pk)
        _announce(call, created=True)
    return call


def _forward(call: Call, status: str) -> bool:
    """Whether moving `call` to `status` is a step forward."""
    if call.status in CALL_ENDED:
        return False
    return CALL_STATUS_RANK.get(status, -1) > CALL_STATUS_RANK[call.status]


def _locked(organization: Organization, call: Call) -> Call:
    return Call.objects.select_for_update().get(organization=organization, pk=call.pk)


@transaction.atomic
def call_leg_status(*, organization: Organization, call: Call, leg_sid: str, status: str, sequence: int | None = None,
                    duration: int | None = None, answered_by: Agent | None = None, at: datetime | None = None) -> bool:
    """A status callback of one leg. Returns whether the call changed."""
    if status not in CALL_STATUS_RANK:
        return False
    call = _locked(organization, call)
    at = at or timezone.now()
    parent = leg_sid == call.provider_sid
    inbound = call.direction == CallDirection.INBOUND
    fields: dict = {}
    if call.conference_name and call.answered_at is not None and leg_sid != customer_leg(call):
        # In the conference an agent's leg may leave (a transfer) while the call goes on: only the
        # customer's leg ends it.
        if parent and sequence is not None and sequence > call.last_sequence:
            call.last_sequence = sequence
            call.save(update_fields=["last_sequence", "updated_at"])
        return False
    if call.conference_name and status in CALL_ENDED and leg_sid == customer_leg(call) and not parent:
        fields.update(_ended(call, status, duration, at))
    elif parent:
        if sequence is not None:
            if sequence <= call.last_sequence:
                return False  # a late or repeated callback of this leg
            fields["last_sequence"] = sequence
        if status in CALL_ENDED:
            fields.update(_ended(call, status, duration, at))
        elif not inbound and status == CallStatus.RINGING and _forward(call, status):
            fields["status"] = status
    else:
        if not call.child_sid and leg_sid:
            fields["child_sid"] = leg_sid
        elif leg_sid and call.child_sid != leg_sid and not call.conference_name:
            # A second agent's browser rang (several clients ring at once): the one that answers wins.
            if status != CallStatus.IN_PROGRESS or call.answered_at:
                return False
            fields["child_sid"] = leg_sid
        if status == CallStatus.IN_PROGRESS and call.answered_at is None and _forward(call, status):
            fields.update(status=CallStatus.IN_PROGRESS, answered_at=at)
            if inbound and answered_by is not None:
                fields["agent"] = answered_by
        elif status == CallStatus.RINGING and _forward(call, status):
            fields["status"] = status
        elif status in CALL_ENDED and not inbound and call.answered_at is None and call.status not in CALL_ENDED:
            # The customer never picked up: their side's outcome is the call's.
            fields.update(status=status, ended_at=at)
    if not fields:
        return False
    for name, value in fields.items():
        setattr(call, name, value)
    call.save(update_fields=[*fields, "updated_at"])
    if call.agent_id:
        if call.status == CallStatus.IN_PROGRESS:
            presence.in_call_set(organization.pk, call.agent_id, call.pk)
        elif call.status in CALL_ENDED:
            presence.in_call_clear(organization.pk, call.agent_id, call.pk)
    _announce(call, created=False)
    return True


def _ended(call: Call, status: str, duration: int | None, at: datetime) -> dict:
    if call.status in CALL_ENDED:
        return {}
    fields = {"ended_at": call.ended_at or at}
    if duration is not None:
        fields["duration"] = duration
    if call.answered_at is not None:
        fields["status"] = CallStatus.COMPLETED
    elif status in (CallStatus.BUSY, CallStatus.FAILED, CallStatus.CANCELED):
        fields["status"] = status
    else:
        # Twilio answered the customer's leg with our TwiML, so it "completed"; nobody of ours did.
        fields["status"] = CallStatus.NO_ANSWER
    return fields


@transaction.atomic
def call_dial_ended(*, organization: Organization, call: Call, dial_status: str, child_sid: str = "") -> Call:
    """The <Dial> finished (its action URL): who answered, if anyone."""
    call = _locked(organization, call)
    fields = {}
    if child_sid and not call.child_sid:
        fields["child_sid"] = child_sid
    if call.direction == CallDirection.OUTBOUND and call.answered_at is None and call.status not in CALL_ENDED:
        outcome = {"busy": CallStatus.BUSY, "no-answer": CallStatus.NO_ANSWER, "failed": CallStatus.FAILED,
                   "canceled": CallStatus.CANCELED}.get(dial_status)
        if outcome:
            fields.update(status=outcome, ended_at=timezone.now())
    if fields:
        for name, value in fields.items():
            setattr(call, name, value)
        call.save(update_fields=[*fields, "updated_at"])
        if call.agent_id and call.status in CALL_ENDED:
            presence.in_call_clear(organization.pk, call.agent_id, call.pk)
        _announce(call, created=False)
    return call


@transaction.atomic
def call_voicemail_record(*, organization: Organization, call: Call, recording_sid: str, recording_url: str,
                          duration: int | None) -> Call:
    """The caller left a message (the <Record> action, or its recording callback: whichever comes
    first fills it, the other changes nothing it already has)."""
    call = _locked(organization, call)
    fields = {}
    if not call.voicemail:
        fields["voicemail"] = True
    if recording_sid and not call.recording_sid:
        fields.update(recording_sid=recording_sid[:64], recording_url=recording_url[:500])
    if duration is not None and call.recording_duration is None:
        fields["recording_duration"] = duration
    if fields:
        for name, value in fields.items():
            setattr(call, name, value)
        call.save(update_fields=[*fields, "updated_at"])
        _announce(call, created=False)
    return call


@transaction.atomic
def call_recording_record(*, organization: Organization, call: Call, recording_sid: str, recording_url: str,
                          duration: int | None, status: str) -> Call:
    """A recording callback. Only a completed recording is playable; an absent or failed one (the
    caller hung up at the beep) leaves the call without one, and says why."""
    if status != "completed":
        call = _locked(organization, call)
        if not call.recording_sid and status in ("absent", "failed"):
            call.failure_reason = call.failure_reason or "The caller left no message."
            call.save(update_fields=["failure_reason", "updated_at"])
        return call
    if call.voicemail or (call.direction == CallDirection.INBOUND and call.answered_at is None):
        return call_voicemail_record(organization=organization, call=call, recording_sid=recording_sid,
                                     recording_url=recording_url, duration=duration)
    return _recording(organization, call, recording_sid, recording_url, duration)


def _recording(organization, call, recording_sid, recording_url, duration) -> Call:
    call = _locked(organization, call)
    if call.recording_sid:
        return call
    call.recording_sid, call.recording_url, call.recording_duration = recording_sid[:64], recording_url[:500], duration
    call.save(update_fields=["recording_sid", "recording_url", "recording_duration", "updated_at"])
    _announce(call, created=False)
    return call


# AI calls (the voice-AI platform answers the number and reports the call) -------------------------

ANONYMOUS = "anonymous"


def _ai_agent(organization: Organization, number: PhoneNumber, assistant_id: str) -> Agent | None:
    """The AI agent that took the call: the number's, or, if the number changed hands since, the
    organization's AI agent with the assistant the platform names."""
    agent = number.agent
    if agent is not None and agent.kind == AgentKind.AI and (not assistant_id or agent.assistant_id == assistant_id):
        return agent
    if assistant_id:
        named = Agent.objects.filter(organization=organization, kind=AgentKind.AI, assistant_id=assistant_id).first()
        if named is not None:
            return named
    return agent if agent is not None and agent.kind == AgentKind.AI else None


def _ai_call_defaults(organization: Organization, number: PhoneNumber, report: CallReport) -> dict:
    customer = report.customer_number[:64]
    outbound = report.direction == CallDirection.OUTBOUND
    return dict(
        phone_number=number, agent=_ai_agent(organization, number, report.assistant_id),
        contact=_contact(organization, customer) if customer else None, direction=report.direction,
        from_number=number.phone_number if outbound else customer or ANONYMOUS,
        to_number=(customer or ANONYMOUS) if outbound else number.phone_number,
        started_at=report.started_at or timezone.now(),
    )


@transaction.atomic
def call_ai_status(*, organization: Organization, number: PhoneNumber, report: CallReport) -> Call:
    """A live status of a call the platform is taking on `number` (VAPI's status-update), so the
    call shows while it lasts. Only forward, like every call; the end-of-call report closes it."""
    defaults = _ai_call_defaults(organization, number, report)
    defaults.update(status=report.status)
    if report.status == CallStatus.IN_PROGRESS:
        defaults["answered_at"] = report.started_at or timezone.now()
    call, created = _get_or_create(organization, report.call_id, defaults, provider=Provider.VAPI)
    if created:
        _announce(call, created=True)
        return call
    call = _locked(organization, call)
    if not _forward(call, report.status):
        return call
    fields = {"status": report.status}
    if report.status == CallStatus.IN_PROGRESS and call.answered_at is None:
        fields["answered_at"] = report.started_at or timezone.now()
    for name, value in fields.items():
        setattr(call, name, value)
    call.save(update_fields=[*fields, "updated_at"])
    _announce(call, created=False)
    return call


@transaction.atomic
def call_ai_report_record(*, organization: Organization, number: PhoneNumber, report: CallReport) -> Call:
    """The platform's end-of-call report of a call on `number` (VAPI's end-of-call-report): the call
    as it ended, with its transcript, summary, cost and recording link, in the contact's
    conversation on the number (found or created by the customer's number).

    The report is the last word on the call: once it is stored the call has ended, and a repeated
    report (VAPI may send one twice) changes nothing. The recording link is VAPI's; it is kept as a
    link, never fetched here."""
    now = timezone.now()
    call, created = _get_or_create(organization, report.call_id, {
        **_ai_call_defaults(organization, number, report), "status": CallStatus.QUEUED,
    }, provider=Provider.VAPI)
    call = _locked(organization, call)
    if call.status in CALL_ENDED:
        return call
    fields = {
        "status": report.status, "ended_at": report.ended_at or now, "ended_reason": report.ended_reason,
        "transcript": report.transcript, "summary": report.summary, "cost": report.cost,
        "recording_url": report.recording_url, "duration": report.duration,
    }
    if report.started_at is not None:
        fields["started_at"] = report.started_at
    if report.status == CallStatus.COMPLETED and call.answered_at is None:
        # The assistant answers at once: the call was answered when it started.
        fields["answered_at"] = report.started_at or call.started_at or now
    if call.contact_id is None and report.customer_number:
        fields["contact"] = _contact(organization, report.customer_number[:64])
    if call.agent_id is None:
        fields["agent"] = _ai_agent(organization, number, report.assistant_id)
    for name, value in fields.items():
        setattr(call, name, value)
    call.save(update_fields=[*fields, "updated_at"])
    _announce(call, created=created)
    return call
