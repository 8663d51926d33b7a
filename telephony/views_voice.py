"""The browser softphone's own endpoints: its access tokens and its presence heartbeat."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from tenants import presence
from tenants import selectors as tenant_selectors
from tenants.models import AgentKind

from .services import softphone


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
    state = request.POST.get("state", "")
    if state == "registered":
        recorded = presence.heartbeat(request.organization.pk, agent.pk)
    elif state == "gone":
        presence.gone(request.organization.pk, agent.pk)
        recorded = True
    else:
        return JsonResponse({"error": "state must be 'registered' or 'gone'."}, status=400)
    status = presence.status_of([agent], request.organization.pk)[str(agent.pk)]
    return JsonResponse({"status": status, "label": presence.LABELS[status], "recorded": recorded})
