"""The browser softphone's own endpoints: its access tokens, its presence heartbeat, and the buttons
of a live call (hold, transfer)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, JsonResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from tenants import presence
from tenants import selectors as tenant_selectors
from tenants.models import AgentKind

from . import selectors
from .providers.voice import ProviderError
from .services import calls, live_calls, softphone


@never_cache
@require_GET
def voice_token(request: HttpRequest, org_slug: str) -> JsonResponse:
    """The signed-in person's softphone: identity, one token per voice-ready Twilio account, the
    numbers they may call from. 404 with a reason for someone who is no agent here."""
    agent = tenant_selectors.agent_for_user(organization=request.organization, user=request.user)
    try:
        phone = softphone.softphone_for(organization=request.organization, agent=agent)
    except ValidationError as exc:
        return JsonResponse({"error": " ".join(exc.messages)}, status=404)
    return JsonResponse({
        "identity": phone.identity,
        "ttl": phone.ttl,
        "devices": phone.devices,
        "numbers": phone.numbers,
        "problems": phone.problems,
        "heartbeat_url": reverse("telephony:voice-presence", kwargs={"org_slug": org_slug}),
        "heartbeat_interval": presence.HEARTBEAT_INTERVAL,
    })


@never_cache
@require_POST
def voice_presence(request: HttpRequest, org_slug: str) -> JsonResponse:
    """The page's heartbeat while its softphone is registered (`state=registered`, every
    HEARTBEAT_INTERVAL seconds) and its goodbye when it unregisters or the tab closes
    (`state=gone`). Answers what others now see of this person."""
    agent = tenant_selectors.agent_for_user(organization=request.organization, user=request.user)
    if agent is None or agent.kind != AgentKind.HUMAN:
        return JsonResponse({"error": "You are not an agent of this organization."}, status=404)
    try:
        status, recorded = softphone.softphone_presence(organization=request.organization, agent=agent,
                                                        state=request.POST.get("state", ""))
    except ValidationError as exc:
        return JsonResponse({"error": " ".join(exc.messages)}, status=400)
    return JsonResponse({"status": status, "label": presence.LABELS[status], "recorded": recorded})


# Live calls: the dialer's buttons. JSON in and out; errors are {"error": sentence}.


def _call_error(exc: ValidationError) -> JsonResponse:
    status = 409 if isinstance(exc, live_calls.CallConflict) else 400
    if getattr(exc, "code", "") == "not_yours":
        status = 403
    return JsonResponse({"error": " ".join(exc.messages)}, status=status)


def _vendor_error(exc: ProviderError) -> JsonResponse:
    return JsonResponse({"error": f"Twilio could not do that: {exc.message}"}, status=502)


def _me(request):
    return tenant_selectors.agent_for_user(organization=request.organization, user=request.user)


def _call_json(call) -> dict:
    contact = call.contact
    return {
        "id": str(call.pk),
        "direction": call.direction,
        "status": call.status,
        "contact_name": contact.name if contact and contact.name else "",
        "contact_number": call.from_number if call.direction == "inbound" else call.to_number,
        "conversation_url": (reverse("messaging:conversation-with", kwargs={
            "org_slug": call.organization.slug, "contact_id": contact.pk, "phone_number_id": call.phone_number_id})
            if contact and call.phone_number_id else ""),
        "on_hold": call.on_hold,
        "transfer": {"state": call.transfer_state, "mode": call.transfer_mode,
                     "to_name": call.transfer_target.name if call.transfer_target else ""},
    }


def _live_action(view):
    """A POST about one of the organization's calls by the person on it."""

    @never_cache
    @require_POST
    def handle(request: HttpRequest, org_slug: str, call_id) -> JsonResponse:
        call = selectors.get_call_for_org(request.organization, call_id)
        try:
            call = view(request, call, _me(request))
        except ValidationError as exc:
            return _call_error(exc)
        except ProviderError as exc:
            return _vendor_error(exc)
        body = _call_json(call)
        return JsonResponse({"call": body, "held": call.on_hold, "transfer": body["transfer"]})

    handle.__name__, handle.__doc__ = view.__name__, view.__doc__
    return handle


@never_cache
@require_GET
def call_live(request: HttpRequest, org_slug: str) -> JsonResponse:
    """The call one of my softphone's legs belongs to (`?sid=CA...`): how the dialer finds our call
    for the call it placed."""
    sid = request.GET.get("sid", "")[:64]
    call = calls.call_for_leg(organization=request.organization, sid=sid) if sid else None
    me = _me(request)
    if call is None or me is None or me.pk not in (call.agent_id, call.transfer_target_id):
        return JsonResponse({"error": "No call of yours has that id."}, status=404)
    return JsonResponse({"call": _call_json(call)})


@_live_action
def call_hold(request, call, me):
    """Put the caller on hold (`hold=1`) or take them off it (`hold=0`)."""
    if request.POST.get("hold") not in ("0", "1"):
        raise ValidationError("hold must be 1 or 0.")
    return live_calls.call_hold(organization=request.organization, agent=me, call=call,
                                hold=request.POST["hold"] == "1")


@_live_action
def call_transfer(request, call, me):
    """Transfer the call to a colleague (`to` = their agent id, `mode` = blind or warm)."""
    try:
        target = tenant_selectors.get_agent_for_org(request.organization, request.POST.get("to", ""))
    except Http404:
        raise ValidationError("Choose a colleague of this organization to transfer the call to.") from None
    return live_calls.call_transfer_start(organization=request.organization, agent=me, call=call, target=target,
                                          mode=request.POST.get("mode", ""))


@_live_action
def call_transfer_complete(request, call, me):
    """Warm transfer: leave the colleague with the caller."""
    return live_calls.call_transfer_complete(organization=request.organization, agent=me, call=call)


@_live_action
def call_transfer_cancel(request, call, me):
    """Stop the transfer and go back to the caller."""
    return live_calls.call_transfer_cancel(organization=request.organization, agent=me, call=call)


@never_cache
@require_GET
def call_transfer_targets(request: HttpRequest, org_slug: str) -> JsonResponse:
    """Colleagues to transfer to, with their availability."""
    return JsonResponse({"agents": live_calls.transfer_targets(organization=request.organization, agent=_me(request))})
