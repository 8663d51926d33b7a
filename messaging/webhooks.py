"""Vendors' callbacks, at the HTTP edge: find the tenant, have the vendor's adapter verify and read
the request, call one service, answer fast.

The tenant is found from the called number (and the vendor account it belongs to) or the WhatsApp
sender before anything is stored, and the adapter checks the signature with that line's own secret
(the account's auth token, the sender's app secret): a request signed with another tenant's secret
is refused like a forged one. What a vendor's request means is the adapter's business
(messaging/providers); here are HTTP, the line lookup, and the text PostgreSQL can store.
"""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse, RawPostDataException
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from core.webhooks import webhook_form
from telephony.lines import line_for
from tenants.scoping import platform_scope, tenant_scope

from .models import WhatsAppSender
from .providers import WHATSAPP_SENDER_PROVIDER, adapter_class
from .providers.base import (
    NUMBERS,
    WHATSAPP_SENDERS,
    BadWebhook,
    MessagingProvider,
    Unauthenticated,
    WebhookRequest,
)
from .services import events, inbound
from .services import senders as sender_services

logger = logging.getLogger(__name__)


def _not_found() -> HttpResponse:
    return HttpResponse("Not found.", status=404, content_type="text/plain")


def _public_url(request: HttpRequest) -> str:
    """The URL the vendor signed: our public origin (TLS may end at a proxy before us) and the path."""
    return settings.PUBLIC_BASE_URL + request.get_full_path()


def _signed(request: HttpRequest, form: dict[str, str] | None = None) -> WebhookRequest:
    """What an adapter checks a signature on."""
    try:
        body = request.body
    except RawPostDataException:  # a multipart form, read as a form already: its parameters are what counts
        body = b""
    return WebhookRequest(url=_public_url(request), headers=request.headers, body=body, form=form or {},
                          form_lists=lambda: dict(request.POST.lists()))


def _without_nul(value):
    """PostgreSQL stores no U+0000 in text or JSON, and a customer's message must not be lost for
    one: it becomes U+FFFD. Applied to what was parsed; signatures cover the bytes as sent."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_without_nul(name): _without_nul(item) for name, item in value.items()}
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    return value


def _unreadable() -> HttpResponse:
    return HttpResponse("The body is not a form this webhook can read.", status=400, content_type="text/plain")


def _bad(exc: BadWebhook) -> HttpResponse:
    return HttpResponse(str(exc), status=400, content_type="text/plain")


# Vendors whose lines are phone numbers: /webhooks/<provider>/messages/[status/] --------------------


def _number_adapter(provider: str) -> type[MessagingProvider] | None:
    try:
        return adapter_class(provider, lines=NUMBERS)
    except LookupError:
        return None


@csrf_exempt
@require_http_methods(["GET", "POST"])
def number_message(request: HttpRequest, provider: str) -> HttpResponse:
    """An inbound message: stored as it came, in one statement, for a worker to read."""
    return _number_callback(request, provider, "message")


@csrf_exempt
@require_http_methods(["GET", "POST"])
def number_message_status(request: HttpRequest, provider: str) -> HttpResponse:
    """News of a message we sent."""
    return _number_callback(request, provider, "status")


def _number_callback(request: HttpRequest, provider: str, route: str) -> HttpResponse:
    """One callback of a carrier: one event (Twilio, Vonage) or several (Bandwidth's JSON array).

    Every event's line is found and the request verified with that line's secret before anything is
    stored; then each event is handled on its own. In a batch, an event about nobody's number is
    logged and left out, so the others are not refused with it (the carrier would send them all
    again); a lone one is a 404."""
    adapter = _number_adapter(provider)
    if adapter is None:
        return _not_found()
    if request.method == "GET":  # the carrier checking the address before it takes it
        if adapter.answers_probe:
            return HttpResponse("OK", content_type="text/plain")
        return HttpResponse("Method not allowed.", status=405, content_type="text/plain")
    form = webhook_form(request)
    if form is None:
        return _unreadable()
    signed = _signed(request, form)
    try:
        received = adapter.callback_events(signed)
    except Unauthenticated as exc:
        response = HttpResponse(str(exc), status=401, content_type="text/plain")
        response["WWW-Authenticate"] = exc.challenge
        return response
    except BadWebhook as exc:
        return _bad(exc)
    found = []
    verified: set[tuple[str, str]] = set()
    for event in received:
        kind = adapter.callback_kind(event, route)
        account, addresses = adapter.inbound_line(event) if kind == "message" else adapter.status_line(event)
        line = line_for(provider, account, addresses)
        if line is None:
            if len(received) == 1:
                return _not_found()
            logger.warning("A %s callback named a number that is nobody's (%s); that event was left out.",
                           adapter.name, kind)
            continue
        if (line.auth_token, line.signature_method) not in verified:
            if not adapter.webhook_verified(signed, line.auth_token, method=line.signature_method):
                return HttpResponse("Invalid signature.", status=403, content_type="text/plain")
            verified.add((line.auth_token, line.signature_method))
        found.append((event, kind, line))
    for event, kind, line in found:
        if kind == "message":
            problem = _store_inbound(adapter, event, line)
            if problem is not None and len(received) == 1:
                return problem
        else:
            update = adapter.status_update(event)
            with tenant_scope(line.organization):
                inbound.status_update(organization=line.organization, provider_sid=update.provider_sid,
                                      status=update.status, error_code=update.error_code,
                                      error_message=update.error_message)
    if route == "message":
        body, content_type = adapter.inbound_answer
        return HttpResponse(body, content_type=content_type)
    return HttpResponse(status=200)


def _store_inbound(adapter: type[MessagingProvider], event, line) -> HttpResponse | None:
    try:
        sid = adapter.inbound_event_id(event)
    except BadWebhook as exc:
        logger.warning("A %s inbound message was left out: %s", adapter.name, exc)
        return _bad(exc)
    if _has_nul(event):
        event = _without_nul(event)
    # One statement, run as the number's organization (see events.inbound_event_store).
    events.inbound_event_store(organization=line.organization, provider=adapter.name, provider_sid=sid,
                               payload=dict(event), phone_number_id=line.number_id)
    return None


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(name) or _has_nul(item) for name, item in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


# WhatsApp senders (Meta's Cloud API) ------------------------------------------------------------------


def _sender_by_verify_token(token: str) -> WhatsAppSender | None:
    with platform_scope():
        return (WhatsAppSender.objects.select_related("organization").filter(verify_token=token, is_active=True)
                .first() if token else None)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def whatsapp(request: HttpRequest) -> HttpResponse:
    adapter = adapter_class(WHATSAPP_SENDER_PROVIDER, lines=WHATSAPP_SENDERS)
    if request.method == "GET":
        # The subscription handshake: echo the challenge if the verify token is one of ours.
        handshake = adapter.subscription(request.GET)
        sender = _sender_by_verify_token(handshake[0]) if handshake else None
        if sender is not None:
            with tenant_scope(sender.organization):
                sender_services.whatsapp_sender_webhook_verified(organization=sender.organization, sender=sender)
            return HttpResponse(handshake[1], content_type="text/plain")
        return HttpResponse("Verification failed.", status=403, content_type="text/plain")
    try:
        payload = json.loads(request.body)
        if b"\\u0000" in request.body:  # a NUL character, escaped (JSON has no other way to carry one)
            payload = _without_nul(payload)
        phone_number_ids = adapter.webhook_lines(payload)
    except RecursionError:  # nested deeper than the parser goes: no WhatsApp payload is
        return JsonResponse({"detail": "The JSON body is nested too deeply to be a WhatsApp webhook payload."},
                            status=400)
    except (ValueError, BadWebhook):
        return JsonResponse({"detail": "Not a WhatsApp webhook payload."}, status=400)
    with platform_scope():
        senders = {s.phone_number_id: s for s in WhatsAppSender.objects.select_related("organization")
                   .filter(phone_number_id__in=phone_number_ids, is_active=True)}
    if not senders or len(senders) != len(phone_number_ids):
        return JsonResponse({"detail": "Not found."}, status=404)
    signed = _signed(request)
    for sender in senders.values():
        if not adapter.webhook_verified(signed, sender.app_secret or ""):
            return JsonResponse({"detail": "Invalid signature."}, status=403)
    for sender in senders.values():
        with tenant_scope(sender.organization):
            sender_services.whatsapp_sender_webhook_seen(organization=sender.organization, sender=sender)
    for notification in adapter.webhook_notifications(payload):
        sender = senders[notification.line]
        with tenant_scope(sender.organization):
            for message in notification.messages:
                events.message_receive(organization=sender.organization, whatsapp_sender=sender, inbound=message)
            for update in notification.statuses:
                inbound.status_update(organization=sender.organization, provider_sid=update.provider_sid,
                                      status=update.status, error_code=update.error_code,
                                      error_message=update.error_message)
    return HttpResponse(status=200)
