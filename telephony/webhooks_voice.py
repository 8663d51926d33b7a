"""Twilio's voice webhooks at the HTTP edge: find the tenant, verify the signature with that
tenant's account, call one routing service, answer TwiML at once.

The tenant comes from what the request names and we know: the called number and the account
(inbound), the browser's identity and the account (outbound, the TwiML App's voice URL), or the
call (callbacks). The lookup crosses tenants read-only, before anything is stored; the signature is
checked with the auth token of the account found, so a request signed for another tenant's account
is refused like a forged one. Unknown: 404. Forged: 403. Neither stores anything.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q
from django.http import FileResponse, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.webhooks import webhook_form
from telephony.identity import agent_id_from_identity
from telephony.lines import cached_line, cached_line_stale, fresh_line
from telephony.models import Call, PhoneNumber, Provider, ProviderAccount
from telephony.providers import voice_class
from telephony.providers.voice import Hangup
from tenants.models import Agent, AgentKind, Organization
from tenants.scoping import platform_scope, tenant_scope

from .services import calls, live_calls, routing

logger = logging.getLogger(__name__)

TWILIO = voice_class(Provider.TWILIO)
SID_LONGEST = 64


@dataclass(frozen=True)
class _Found:
    organization: Organization
    account: ProviderAccount
    number: PhoneNumber | None = None
    agent: Agent | None = None
    call: Call | None = None


def _plain(text: str, status: int) -> HttpResponse:
    return HttpResponse(text, status=status, content_type="text/plain")


def _twiml(decision) -> HttpResponse:
    body, content_type = TWILIO.render(decision)
    return HttpResponse(body, content_type=content_type)


def _sid(form: dict, name: str) -> str:
    value = form.get(name, "")
    return value if len(value) <= SID_LONGEST and "\x00" not in value else ""


def _named_call(kind: str, form: dict, query) -> Call | None:
    """A conference's call by its name (`call_<id>`), or a call we placed by the id in its URLs."""
    if kind == "conference":
        name = form.get("FriendlyName", "")
        raw = name.removeprefix("call_") if name.startswith("call_") else ""
    else:
        raw = query.get("call", "")
    try:
        call_id = uuid.UUID(raw) if raw else None
    except ValueError:
        return None
    if call_id is None:
        return None
    call = (Call.objects.select_related("organization", "phone_number__provider_account", "agent", "contact")
            .filter(pk=call_id, provider=Provider.TWILIO).first())
    if call is None or (kind == "conference" and call.conference_name != form.get("FriendlyName")):
        return None
    return call


def _across_tenants(kind: str, form: dict, query=None) -> _Found | None:
    """The one read across tenants: which tenant's number, agent or call this request is about, and
    the account that must have signed it. Nothing is written here."""
    account_sid = _sid(form, "AccountSid")
    if not account_sid:
        return None
    with platform_scope():
        accounts = ProviderAccount.objects.select_related("organization").filter(
            provider=Provider.TWILIO, account_sid=account_sid)
        if kind == "outbound":
            agent_id = agent_id_from_identity(form.get("From", "") or form.get("Caller", ""))
            agent = Agent.objects.select_related("organization", "user").filter(
                pk=agent_id, kind=AgentKind.HUMAN).first() if agent_id else None
            account = accounts.filter(organization_id=agent.organization_id).first() if agent else None
            return _Found(agent.organization, account, agent=agent) if account else None
        call = None
        if kind in ("call", "connect"):
            sids = [s for s in (_sid(form, "CallSid"), _sid(form, "ParentCallSid")) if s]
            call = (Call.objects.select_related("organization", "phone_number__provider_account", "agent", "contact")
                    .filter(provider=Provider.TWILIO)
                    .filter(Q(provider_sid__in=sids) | Q(child_sid__in=sids) | Q(agent_leg_sid__in=sids)
                            | Q(transfer_leg_sid__in=sids)).first()) if sids else None
        if call is None and kind in ("conference", "connect") or (call is None and query and query.get("call")):
            call = _named_call(kind, form, query or {})
        account = accounts.filter(organization_id=call.organization_id).first() if call else None
        return _Found(call.organization, account, call=call) if account else None


def _verified(request: HttpRequest, found: _Found) -> bool:
    return TWILIO.webhook_verified(url=settings.PUBLIC_BASE_URL + request.get_full_path(), form=request.POST.dict(),
                                   form_lists=lambda: dict(request.POST.lists()),
                                   signature=request.headers.get("X-Twilio-Signature", ""),
                                   secret=found.account.auth_token or "")


def _edge(kind: str):
    """Decorator: the tenant found and the signature verified, or 404/403 with nothing stored."""

    def wrap(view):
        @csrf_exempt
        @require_POST
        def handle(request: HttpRequest) -> HttpResponse:
            form = request.POST.dict()
            found = _across_tenants(kind, form, request.GET)
            if found is None:
                return _plain("Not found.", 404)
            if not _verified(request, found):
                return _plain("Invalid signature.", 403)
            with tenant_scope(found.organization):
                return view(request, form, found)

        handle.__name__ = view.__name__
        handle.__doc__ = view.__doc__
        return handle

    return wrap


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@csrf_exempt
@require_POST
def inbound(request: HttpRequest) -> HttpResponse:
    """A customer calls one of our numbers. The caller hears silence until we answer, and a busy
    line brings many calls at once: the line comes from the per-process cache the message webhooks
    use (telephony.lines), the call is stored in one round trip to PostgreSQL that also confirms the
    cached line (calls.call_inbound_start), presence is one round trip to Redis, and nothing is
    queued per call (docs/benchmarks.md, issue 15)."""
    form = webhook_form(request)
    if form is None:
        return _plain("The body is not a form this webhook can read.", 400)
    account, addresses = _sid(form, "AccountSid"), (form.get("To", ""),)
    url = settings.PUBLIC_BASE_URL + request.get_full_path()

    def signed_for(line) -> bool:
        return TWILIO.webhook_verified(url=url, form=form, form_lists=lambda: dict(request.POST.lists()),
                                       signature=request.headers.get("X-Twilio-Signature", ""), secret=line.auth_token)

    sid = _sid(form, "CallSid")
    caller = form.get("From", "").replace("\x00", "")
    # The line as this process cached it, confirmed by the call's own write (see telephony.lines);
    # when that fails, or the signature does not match a token that has been rotated since, the line
    # is read again and the signature checked again before anything is stored.
    line = cached_line(Provider.TWILIO, account, addresses)
    for fresh in (False, True):
        if fresh:
            line = fresh_line(Provider.TWILIO, account, addresses)
        if line is None:
            return _plain("Not found.", 404)
        if not signed_for(line):
            if fresh or not cached_line_stale(Provider.TWILIO, account, addresses):
                return _plain("Invalid signature.", 403)
            continue
        if not sid:
            return _plain("CallSid is missing.", 400)
        call = calls.call_inbound_start(line=line, call_sid=sid, caller=caller)
        if call is not None:
            break
    else:
        return _plain("Not found.", 404)
    return _twiml(routing.inbound(call))


@_edge("outbound")
def outbound(request, form, found: _Found) -> HttpResponse:
    """An agent's browser places a call (the TwiML App's voice URL)."""
    sid = _sid(form, "CallSid")
    if not sid:
        return _plain("CallSid is missing.", 400)
    return _twiml(routing.outbound(organization=found.organization, agent=found.agent, call_sid=sid,
                                   destination=form.get("To", "")[:64], from_id=form.get("FromNumber", "")))


@_edge("call")
def status(request, form, found: _Found) -> HttpResponse:
    """Progress of a call's leg: ours (the parent), the one we dialled (the child), or a colleague
    rung into the call's conference (a transfer)."""
    leg = _sid(form, "CallSid")
    if request.GET.get("call") and not found.call.provider_sid:
        # A call we placed: Twilio may tell us its id here before its API answer reached us.
        found = _Found(found.organization, found.account,
                       call=calls.call_bind_leg(organization=found.organization, call=found.call, sid=leg))
    if leg and leg == found.call.transfer_leg_sid:
        live_calls.call_transfer_leg_status(organization=found.organization, call=found.call, leg_sid=leg,
                                            status=form.get("CallStatus", ""))
        return _plain("", 204)
    answered_by = None
    agent_id = agent_id_from_identity(form.get("To", ""))
    if agent_id is not None:
        answered_by = Agent.objects.filter(organization=found.organization, pk=agent_id).first()
    calls.call_leg_status(organization=found.organization, call=found.call, leg_sid=leg,
                          status=form.get("CallStatus", ""), sequence=_int(form.get("SequenceNumber"))
                          if leg == found.call.provider_sid else None,
                          duration=_int(form.get("CallDuration")), answered_by=answered_by)
    return _plain("", 204)


@_edge("call")
def after_dial(request, form, found: _Found) -> HttpResponse:
    """The <Dial> ended: what the caller hears next."""
    return _twiml(routing.after_dial(organization=found.organization, call=found.call,
                                     dial_status=form.get("DialCallStatus", ""),
                                     child_sid=_sid(form, "DialCallSid")))


@_edge("call")
def voicemail(request, form, found: _Found) -> HttpResponse:
    """The caller finished a voicemail (the <Record> action)."""
    return _twiml(routing.voicemail_left(organization=found.organization, call=found.call,
                                         recording_sid=_sid(form, "RecordingSid"),
                                         recording_url=form.get("RecordingUrl", "")[:500],
                                         duration=_int(form.get("RecordingDuration"))))


@_edge("call")
def recording(request, form, found: _Found) -> HttpResponse:
    """A recording is ready (or will never be)."""
    calls.call_recording_record(organization=found.organization, call=found.call,
                                recording_sid=_sid(form, "RecordingSid"),
                                recording_url=form.get("RecordingUrl", "")[:500],
                                duration=_int(form.get("RecordingDuration")),
                                status=form.get("RecordingStatus", ""))
    return _plain("", 204)


@_edge("conference")
def conference(request, form, found: _Found) -> HttpResponse:
    """Events of a call's conference (start, end, join, leave, hold)."""
    live_calls.call_conference_event(organization=found.organization, call=found.call,
                                     event=form.get("StatusCallbackEvent", ""),
                                     conference_sid=_sid(form, "ConferenceSid"), leg_sid=_sid(form, "CallSid"))
    return _plain("", 204)


@_edge("connect")
def connect(request, form, found: _Found) -> HttpResponse:
    """The agent answered a call placed for them through the API: now dial the destination."""
    decision = live_calls.connect_decision(organization=found.organization, call=found.call,
                                           leg_sid=_sid(form, "CallSid"))
    return _twiml(decision or Hangup(routing.GOODBYE))


@csrf_exempt
@require_http_methods(["GET", "POST"])
def hold_music(request: HttpRequest) -> HttpResponse:
    """What a caller on hold (or waiting for the conference) hears: the same for everyone, nothing
    of any tenant's in it, so it needs no signature."""
    return _twiml(routing.hold_music())


@require_GET
def greeting(request: HttpRequest, token: str) -> HttpResponse:
    """A number's recorded voicemail greeting, fetched by Twilio through a signed link."""
    named = routing.greeting_of_token(token)
    if named is None:
        return _plain("Not found.", 404)
    number_id, name = named
    with platform_scope():  # the signed token names the number: it is the only key
        number = PhoneNumber.objects.filter(pk=number_id).first()
    if number is None or not name or number.voicemail_greeting_audio.name != name:
        return _plain("Not found.", 404)
    content_type = "audio/wav" if name.lower().endswith(".wav") else "audio/mpeg"
    return FileResponse(number.voicemail_greeting_audio.open("rb"), content_type=content_type)
