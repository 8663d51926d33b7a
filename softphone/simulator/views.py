"""The simulated vendors' APIs, under /simulator/ (softphone.simulator): the product's real adapters
reach them through their base-URL settings, exactly as they reach the vendors."""

from __future__ import annotations

from email.message import Message
from functools import wraps

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from core.phones import canonical_contact_number

from . import carrier, tasks
from .server import Request
from .state import simulated


def simulator_only(view):
    """404 unless the simulator is on (SIMULATOR; off by default, refused in production unless asked)."""
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not settings.SIMULATOR_ENABLED:
            return JsonResponse({"detail": "Not found."}, status=404)
        return view(request, *args, **kwargs)
    return wrapped


def _as_fake_request(request: HttpRequest, path: str) -> Request:
    headers = Message()
    for name, value in request.headers.items():
        headers[name] = value
    return Request(request.method, path, request.META.get("QUERY_STRING", ""), headers, request.body)


def _answer(answer) -> HttpResponse:
    response = HttpResponse(answer.body, status=answer.status)
    for name, value in answer.headers.items():
        response[name] = value
    return response


@csrf_exempt
@require_http_methods(["GET", "POST", "PATCH", "DELETE"])
@simulator_only
def vapi_api(request: HttpRequest, path: str) -> HttpResponse:
    """VAPI's API (phone numbers, assistants), as softphone.simulator.vapi answers it: Bearer key, JSON."""
    with simulated("vapi") as fake:
        return _answer(fake.handle(_as_fake_request(request, "/" + path)))


@csrf_exempt
@require_http_methods(["GET", "POST", "DELETE"])
@simulator_only
def whatsapp_api(request: HttpRequest, path: str) -> HttpResponse:
    """Meta's Graph API for the WhatsApp Cloud API (numbers, messages, media, templates), as
    softphone.simulator.whatsapp answers it."""
    asked = _as_fake_request(request, "/" + path)
    with simulated("whatsapp") as fake:
        answer = fake.handle(asked)
    accepted = carrier.whatsapp_message_accepted(asked, answer)
    if accepted is not None:
        tasks.whatsapp_sent(**accepted)
    return _answer(answer)


@csrf_exempt
@require_http_methods(["GET", "POST", "DELETE"])
@simulator_only
def twilio_api(request: HttpRequest, path: str) -> HttpResponse:
    """Twilio's REST API 2010-04-01 (and the Content API's list), as softphone.simulator.twilio answers
    it: Basic auth with an account's SID and auth token, form-encoded bodies, Twilio's JSON."""
    asked = _as_fake_request(request, "/" + path)
    with simulated("twilio") as fake:
        answer = fake.handle(asked)
    accepted = carrier.twilio_message_accepted(asked, answer)
    if accepted is not None:
        tasks.message_sent(**accepted)
    return _answer(answer)


# A customer's phone ------------------------------------------------------------------------------------

DEFAULT_CUSTOMER = "+14155550123"  # Maria Lopez, a customer of the demo


def _customer(value: str) -> str | None:
    try:
        return canonical_contact_number(value or DEFAULT_CUSTOMER)
    except ValidationError:
        return None


@login_required
@require_http_methods(["GET", "POST"])
@simulator_only
def phone(request: HttpRequest) -> HttpResponse:
    """A customer's phone on the simulated carrier: text (or WhatsApp) one of the numbers that reach
    this installation, and read the replies as they come (the thread refreshes itself)."""
    customer = _customer(request.POST.get("me") or request.GET.get("me", ""))
    error, status = "", 200
    if customer is None:
        error, status, customer = "That is not a phone number: use E.164, e.g. +14155550123.", 400, DEFAULT_CUSTOMER
    elif request.method == "POST":
        try:
            to, body = request.POST.get("to", ""), request.POST.get("body", "")
            if to.startswith("wa:"):
                carrier.whatsapp_from_customer(customer=customer, phone_number_id=to[3:], body=body)
            else:
                carrier.text_from_customer(customer=customer, to=to, body=body)
        except carrier.PhoneError as exc:
            error, status = str(exc), 400
        else:
            return redirect(f"{reverse('simulator:phone')}?me={customer}")
    numbers = carrier.phone_numbers()
    return render(request, "simulator/phone.html", {
        "me": customer, "numbers": numbers, "whatsapp_numbers": carrier.whatsapp_numbers(),
        "chosen": request.POST.get("to", numbers[0]["phone_number"] if numbers else ""),
        "thread": carrier.phone_thread(customer), "whatsapp_thread": carrier.whatsapp_thread(customer),
        "error": error, "body": request.POST.get("body", "") if error else "",
    }, status=status)


@login_required
@require_http_methods(["GET"])
@simulator_only
def phone_thread(request: HttpRequest) -> HttpResponse:
    """The phone's thread alone, for its own refresh."""
    customer = _customer(request.GET.get("me", ""))
    if customer is None:
        return HttpResponse("That is not a phone number.", status=400, content_type="text/plain")
    return render(request, "simulator/_thread.html", {"me": customer, "thread": carrier.phone_thread(customer),
                                                      "whatsapp_thread": carrier.whatsapp_thread(customer)})
