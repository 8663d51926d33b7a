"""Provider callbacks: find the tenant, verify the signature, store, answer fast.

The tenant is found from the called number (and the account it belongs to) before anything is
stored, and the signature is checked with that account's own auth token (or the WhatsApp sender's
app secret): a request signed with another tenant's secret is refused like a forged one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST
from twilio.request_validator import RequestValidator

from crm.models import Channel
from telephony.lines import lines_stamp
from telephony.models import NumberStatus, PhoneNumber
from tenants.scoping import platform_scope, tenant_scope

from .models import WhatsAppSender
from .providers.base import Inbound
from .services import events, inbound

logger = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
SID_LONGEST = 64  # Twilio's message ids are 34 characters; the column holds 128


def _twiml() -> HttpResponse:
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")


def _public_url(request: HttpRequest) -> str:
    """The URL Twilio signed: our public origin (TLS may end at a proxy before us) and the path."""
    return settings.PUBLIC_BASE_URL + request.get_full_path()


def _bare(address: str) -> str:
    return (address or "").removeprefix("whatsapp:")


def _find_number(account_sid: str, *addresses: str) -> PhoneNumber | None:
    """Which tenant's number is this? Crosses tenants on purpose (read-only), before the scope."""
    candidates = [_bare(a) for a in addresses if a]
    with platform_scope():
        return (PhoneNumber.objects.select_related("organization", "provider_account")
                .filter(phone_number__in=candidates, provider_account__account_sid=account_sid)
                .exclude(status=NumberStatus.INACTIVE).first())


@dataclass(frozen=True)
class _Line:
    """What a webhook needs to know about the number it was sent to."""

    organization: object
    number_id: object
    auth_token: str


# Which tenant owns a number changes rarely; Twilio calls for it many times a second when busy.
# Each process keeps the answer, with the account's auth token, under the account's lines stamp
# (telephony/lines.py): a rotated token, a deleted account or a removed number bumps the stamp, and
# the next webhook in every process sees a stamp other than its entry's and reads the database
# again, so an old token stops working at once. One Redis GET per request; when Redis cannot answer,
# nothing cached is used. Entries still live at most LINE_CACHE_SECONDS, for changes no service
# makes (an edit in the database by hand).
LINE_CACHE_SECONDS = 30
_lines: dict[tuple[str, str], tuple[float, bytes, _Line]] = {}


def _line(account_sid: str, *addresses: str) -> _Line | None:
    now = time.monotonic()
    stamp = lines_stamp(account_sid)
    if stamp is not None:
        for address in addresses:
            hit = _lines.get((account_sid, _bare(address)))
            if hit is not None and hit[0] > now and hit[1] == stamp:
                return hit[2]
    number = _find_number(account_sid, *addresses)
    if number is None:
        return None
    line = _Line(organization=number.organization, number_id=number.pk,
                 auth_token=number.provider_account.auth_token or "")
    if stamp is not None:  # read before the database: a change made meanwhile moves it on again
        if len(_lines) > 10000:
            _lines.clear()
        _lines[(account_sid, number.phone_number)] = (now + LINE_CACHE_SECONDS, stamp, line)
    return line


def forget_lines() -> None:
    _lines.clear()


class _Form(dict):
    """Form parameters, one value per name. `getall` is what the SDK's signature code asks a form
    for first; without it, it tries two methods and catches two exceptions per parameter."""

    def getall(self, name: str) -> list[str]:
        return [self[name]]


def _form(request: HttpRequest) -> dict[str, str] | None:
    """Twilio's form parameters as a plain dict, or None when the body cannot be read as a form.

    Parsed here rather than through request.POST: a QueryDict costs three times as much, on the
    busiest endpoint we have. Twilio sends each name once; a repeated name keeps its last value, as
    QueryDict.dict() does, and the signature check then falls back to the whole form."""
    if request.content_type != "application/x-www-form-urlencoded":
        return request.POST.dict()
    try:
        return _Form(parse_qsl(request.body.decode(), keep_blank_values=True,
                               max_num_fields=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS))
    except ValueError:  # not UTF-8, or more fields than any Twilio request has
        return None


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


def _verified(request: HttpRequest, line: _Line, data: dict[str, str]) -> bool:
    signature = request.headers.get("X-Twilio-Signature", "")
    if not (signature and line.auth_token):
        return False
    validator = RequestValidator(line.auth_token)
    url = _public_url(request)
    # Twilio signs the URL as configured, which is ours exactly: one HMAC decides nearly every
    # request. The SDK's full check (the URL with and without a default port, every value of a
    # repeated name) is the fallback.
    if hmac.compare_digest(validator.compute_signature(url, data).encode(), signature.encode()):
        return True
    return validator.validate(url, request.POST, signature)


@csrf_exempt
@require_POST
def twilio_message(request: HttpRequest) -> HttpResponse:
    data = _form(request)
    if data is None:
        return _unreadable()
    line = _line(data.get("AccountSid", ""), data.get("To", ""))
    if line is None:
        return HttpResponse("Not found.", status=404, content_type="text/plain")
    if not _verified(request, line, data):
        return HttpResponse("Invalid signature.", status=403, content_type="text/plain")
    sid = data.get("MessageSid") or data.get("SmsMessageSid") or ""
    if not sid:
        return HttpResponse("MessageSid is missing.", status=400, content_type="text/plain")
    if len(sid) > SID_LONGEST:
        return HttpResponse("MessageSid is not a Twilio message id.", status=400, content_type="text/plain")
    if any("\x00" in name or "\x00" in value for name, value in data.items()):
        data = _without_nul(data)
    # One statement, run as the number's organization (see events.inbound_event_store).
    events.inbound_event_store(organization=line.organization, provider="twilio", provider_sid=sid,
                               payload=data, phone_number_id=line.number_id)
    return _twiml()


@csrf_exempt
@require_POST
def twilio_message_status(request: HttpRequest) -> HttpResponse:
    data = _form(request)
    if data is None:
        return _unreadable()
    # Status callbacks are about messages we sent: our number is `From`.
    line = _line(data.get("AccountSid", ""), data.get("From", ""), data.get("To", ""))
    if line is None:
        return HttpResponse("Not found.", status=404, content_type="text/plain")
    if not _verified(request, line, data):
        return HttpResponse("Invalid signature.", status=403, content_type="text/plain")
    status = data.get("MessageStatus") or data.get("SmsStatus") or ""
    with tenant_scope(line.organization):
        inbound.status_update(organization=line.organization, provider_sid=data.get("MessageSid", ""),
                              status=status, error_code=data.get("ErrorCode", ""))
    return HttpResponse(status=200)


# WhatsApp Cloud API ---------------------------------------------------------------------------------


def _sender_by_verify_token(token: str) -> WhatsAppSender | None:
    with platform_scope():
        return WhatsAppSender.objects.filter(verify_token=token, is_active=True).first() if token else None


@csrf_exempt
@require_http_methods(["GET", "POST"])
def whatsapp(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        # Meta's subscription handshake: echo the challenge if the verify token is one of ours.
        if request.GET.get("hub.mode") == "subscribe" and _sender_by_verify_token(request.GET.get("hub.verify_token")):
            return HttpResponse(request.GET.get("hub.challenge", ""), content_type="text/plain")
        return HttpResponse("Verification failed.", status=403, content_type="text/plain")
    try:
        payload = json.loads(request.body)
        if b"\\u0000" in request.body:  # a NUL character, escaped (JSON has no other way to carry one)
            payload = _without_nul(payload)
        changes = [(entry, change) for entry in payload.get("entry", []) for change in entry.get("changes", [])]
        phone_number_ids = {change["value"]["metadata"]["phone_number_id"] for _, change in changes}
    except RecursionError:  # nested deeper than the parser goes: no WhatsApp payload is
        return JsonResponse({"detail": "The JSON body is nested too deeply to be a WhatsApp webhook payload."},
                            status=400)
    except (ValueError, KeyError, TypeError, AttributeError):
        return JsonResponse({"detail": "Not a WhatsApp webhook payload."}, status=400)
    with platform_scope():
        senders = {s.phone_number_id: s for s in WhatsAppSender.objects.select_related("organization")
                   .filter(phone_number_id__in=phone_number_ids, is_active=True)}
    if not senders or len(senders) != len(phone_number_ids):
        return JsonResponse({"detail": "Not found."}, status=404)
    # Compared as bytes: compare_digest refuses str with non-ASCII characters, which a header may carry.
    signature = request.headers.get("X-Hub-Signature-256", "").encode("utf-8", "surrogateescape")
    for sender in senders.values():
        expected = b"sha256=" + hmac.new((sender.app_secret or "").encode(), request.body,
                                         hashlib.sha256).hexdigest().encode()
        if not sender.app_secret or not hmac.compare_digest(signature, expected):
            return JsonResponse({"detail": "Invalid signature."}, status=403)
    for _, change in changes:
        value = change.get("value", {})
        sender = senders[value["metadata"]["phone_number_id"]]
        with tenant_scope(sender.organization):
            _whatsapp_change(sender, value)
    return HttpResponse(status=200)


def _whatsapp_change(sender: WhatsAppSender, value: dict) -> None:
    profiles = {c.get("wa_id"): (c.get("profile") or {}).get("name", "") for c in value.get("contacts", [])}
    for item in value.get("messages", []):
        sender_id = item.get("from")
        if not sender_id:
            continue  # username-only users: no number to answer (logged, nothing stored)
        kind = item.get("type", "text")
        body, media = "", []
        if kind == "text":
            body = (item.get("text") or {}).get("body", "")
        elif kind in ("image", "video", "audio", "document", "sticker"):
            part = item.get(kind) or {}
            body = part.get("caption", "")
            media = [{"media_id": part.get("id", ""), "content_type": part.get("mime_type", ""), "type": kind,
                      "caption": part.get("caption", "")}]
        elif kind == "button":
            body = (item.get("button") or {}).get("text", "")
        elif kind == "interactive":
            reply = (item.get("interactive") or {})
            body = (reply.get("button_reply") or reply.get("list_reply") or {}).get("title", "")
        elif kind == "location":
            loc = item.get("location") or {}
            body = f"Location: {loc.get('latitude')}, {loc.get('longitude')} {loc.get('name', '')}".strip()
        else:
            body = f"[{kind} message]"
        inbound.message_receive(
            organization=sender.organization, whatsapp_sender=sender,
            inbound=Inbound(provider_sid=item["id"], sender="+" + sender_id, body=body,
                                    channel=Channel.WHATSAPP, media=media, profile_name=profiles.get(sender_id, ""),
                                    wa_id=sender_id),
        )
    for status in value.get("statuses", []):
        errors = status.get("errors") or [{}]
        inbound.status_update(organization=sender.organization, provider_sid=status.get("id", ""),
                              status=status.get("status", ""), error_code=str(errors[0].get("code", "") or ""),
                              error_message=(errors[0].get("error_data") or {}).get("details", "")
                              or errors[0].get("title", ""))
