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
from django.views.decorators.http import require_http_methods, require_POST

from core.phones import canonical_contact_number

from . import carrier, tasks, voice
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
    """VAPI's API (phone numbers, assistants), as softphone.simulator.vapi answers it: Bearer key, JSON.
    Importing a number points its voice URL on the simulated Twilio at VAPI, as VAPI does."""
    with simulated("twilio") as twilio, simulated("vapi") as fake:
        fake.twilio = twilio
        try:
            return _answer(fake.handle(_as_fake_request(request, "/" + path)))
        finally:
            fake.twilio = None  # each vendor's state is saved in its own row


def _carrier_answer(request: HttpRequest, path: str, vendor: str, *, id_key: str):
    """A carrier fake's answer to the request, and the ids of the texts it accepted meanwhile."""
    asked = _as_fake_request(request, "/" + path)
    with simulated(vendor) as fake:
        before = len(fake.sent)
        answer = fake.handle(asked)
        accepted = [m[id_key] for m in fake.sent[before:]]
    return answer, accepted


@csrf_exempt
@require_http_methods(["GET", "POST"])
@simulator_only
def vonage_api(request: HttpRequest, path: str) -> HttpResponse:
    """Vonage's REST host (numbers, SMS, balance), as softphone.simulator.vonage answers it. A text it
    accepts gets its delivery receipt a second later, posted to the message's callback (ours only)."""
    answer, accepted = _carrier_answer(request, path, "vonage", id_key="message-id")
    for message_id in accepted[:1]:  # one receipt per text (the first part's stands for it)
        tasks.vonage_sent(message_id=message_id)
    return _answer(answer)


@csrf_exempt
@require_http_methods(["GET", "POST", "PUT"])
@simulator_only
def bandwidth_api(request: HttpRequest, path: str) -> HttpResponse:
    """Bandwidth's token endpoint, account API and Messaging API, as softphone.simulator.bandwidth
    answers them. A message it accepts gets its status events a second apart, posted to the
    messaging application's status URL (ours only)."""
    answer, accepted = _carrier_answer(request, path, "bandwidth", id_key="id")
    for message_id in accepted:
        tasks.bandwidth_sent(message_id=message_id)
    return _answer(answer)


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
    ended = carrier.twilio_call_ended(asked, answer)
    if ended is not None:
        tasks.voice_deliver(voice.ended_by_api(*ended))
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
    calls, due = voice.customer_calls(customer)
    tasks.voice_deliver(due)
    return render(request, "simulator/phone.html", {
        "me": customer, "numbers": numbers, "whatsapp_numbers": carrier.whatsapp_numbers(),
        "chosen": request.POST.get("to", numbers[0]["phone_number"] if numbers else ""),
        "thread": carrier.phone_thread(customer), "whatsapp_thread": carrier.whatsapp_thread(customer),
        "error": error, "body": request.POST.get("body", "") if error else "", "calls": calls,
    }, status=status)


@login_required
@require_http_methods(["GET"])
@simulator_only
def phone_thread(request: HttpRequest) -> HttpResponse:
    """The phone's thread alone, for its own refresh."""
    customer = _customer(request.GET.get("me", ""))
    if customer is None:
        return HttpResponse("That is not a phone number.", status=400, content_type="text/plain")
    calls, due = voice.customer_calls(customer)
    tasks.voice_deliver(due)
    return render(request, "simulator/_thread.html", {"me": customer, "thread": carrier.phone_thread(customer),
                                                      "whatsapp_thread": carrier.whatsapp_thread(customer),
                                                      "calls": calls})


@login_required
@require_POST
@simulator_only
def phone_call(request: HttpRequest) -> HttpResponse:
    """The customer's phone calls one of the numbers (`to`), or answers, declines or hangs up a call
    (`sid`, `action`)."""
    customer = _customer(request.POST.get("me", ""))
    if customer is None:
        return HttpResponse("That is not a phone number.", status=400, content_type="text/plain")
    action = request.POST.get("action", "call")
    try:
        if action == "call":
            _, out = voice.call_from_customer(customer=customer, to=request.POST.get("to", ""))
        elif action in ("answer", "decline", "hangup"):
            out = voice.customer_action(customer=customer, sid=request.POST.get("sid", ""), action=action)
        else:
            return HttpResponse("Unknown action.", status=400, content_type="text/plain")
    except voice.VoiceError as exc:
        return HttpResponse(str(exc), status=exc.status, content_type="text/plain")
    tasks.voice_deliver(out)
    return redirect(f"{reverse('simulator:phone')}?me={customer}")


# The browser's simulated device (static/js/simulated_voice.js) ----------------------------------------
# It stands for the Twilio Voice SDK's connection to Twilio: the page's access token in a header on
# every request, as the SDK presents it when it connects.

ACTIONS = ("accept", "reject", "hangup", "digits")


def _device_failed(exc: voice.VoiceError) -> JsonResponse:
    return JsonResponse({"code": exc.code, "message": str(exc)}, status=exc.status)


def _access_token(request: HttpRequest) -> str:
    return request.headers.get("X-Twilio-Access-Token", "")


@csrf_exempt
@require_POST
@simulator_only
def voice_device(request: HttpRequest) -> HttpResponse:
    """A device registers (register=1) or asks what happens: the calls ringing it and the calls it is in."""
    try:
        news, out = voice.device_news(_access_token(request), register=request.POST.get("register") == "1")
    except voice.VoiceError as exc:
        return _device_failed(exc)
    tasks.voice_deliver(out)
    return JsonResponse(news)


@csrf_exempt
@require_POST
@simulator_only
def voice_connect(request: HttpRequest) -> HttpResponse:
    """A device places a call with the page's parameters (To, FromNumber)."""
    try:
        sid, out = voice.device_connect(_access_token(request), request.POST.dict())
    except voice.VoiceError as exc:
        return _device_failed(exc)
    tasks.voice_deliver(out)
    return JsonResponse({"sid": sid})


@csrf_exempt
@require_POST
@simulator_only
def voice_call(request: HttpRequest, sid: str, action: str) -> HttpResponse:
    """A device accepts, rejects or hangs up a call, or sends keys (digits)."""
    if action not in ACTIONS:
        return JsonResponse({"code": 31000, "message": "Unknown action."}, status=404)
    try:
        out = voice.device_action(_access_token(request), sid, action, request.POST.get("digits", ""))
    except voice.VoiceError as exc:
        return _device_failed(exc)
    tasks.voice_deliver(out)
    return JsonResponse({"sid": sid, "action": action})
