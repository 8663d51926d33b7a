"""VAPI's server messages at the HTTP edge: find the tenant, check its secret, call one service.

VAPI posts what happens on a call to one of our numbers to the number's `server.url`
(webhook_contract.VAPI_PATH, set on each number when it is attached), with the organization's
webhook secret in the `X-Vapi-Secret` header. The tenant comes from the number the message names
(VAPI's phone number id, our `PhoneNumber.platform_id`), read across tenants before anything is
stored; the header is compared, in constant time, with the secret of that organization's VAPI
account. No secret: 401. Unknown number: 404. Any other secret (another organization's too): 403.
Not a message we can read: 400. None of them stores anything.

Kept: the end-of-call report (the call, its transcript, summary, cost and recording link) and
status updates (the call shows while it lasts). Every other message (transcripts as they are
spoken, speech and conversation updates, ...) is answered 200 at once, without a database read:
VAPI sends many of them during a call and we keep none.
"""

from __future__ import annotations

import hmac
import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from telephony import platforms
from telephony.models import PhoneNumber, Platform, Provider, ProviderAccount
from tenants.scoping import platform_scope, tenant_scope

from .services import calls
from .services.platform import platform_account

logger = logging.getLogger(__name__)

VAPI = platforms.adapter_class(Provider.VAPI)


def _plain(text: str, status: int) -> HttpResponse:
    return HttpResponse(text, status=status, content_type="text/plain")


def _number_across_tenants(platform_id: str) -> tuple[PhoneNumber, ProviderAccount | None] | None:
    """The one read across tenants: whose number VAPI names, and the account whose secret it must
    present. Nothing is written here."""
    with platform_scope():
        number = (PhoneNumber.objects.select_related("organization", "agent")
                  .filter(platform=Platform.VAPI, platform_id=platform_id).first())
        if number is None:
            return None
        return number, platform_account(number.organization)


def _secret_matches(presented: str, account: ProviderAccount | None) -> bool:
    expected = (account.webhook_secret or "") if account is not None else ""
    # compare_digest takes as long whatever the first difference: the secret cannot be guessed
    # byte by byte from response times.
    return bool(expected) and hmac.compare_digest(presented.encode(), expected.encode())


@csrf_exempt
@require_POST
def report(request: HttpRequest) -> HttpResponse:
    """A server message of VAPI about a call on one of our numbers."""
    presented = request.headers.get(VAPI.secret_header, "")
    if not presented:
        return _plain(f"The {VAPI.secret_header} header is missing.", 401)
    try:
        event = VAPI.parse_event(request.body)
    except ValueError as exc:
        return _plain(str(exc), 400)
    if event.report is None:
        return JsonResponse({"ignored": event.type[:64]})
    found = _number_across_tenants(event.report.phone_number_id)
    if found is None:
        return _plain("No number of ours has this VAPI phone number id.", 404)
    number, account = found
    if not _secret_matches(presented, account):
        logger.warning("VAPI message for number %s refused: the secret is not its organization's", number.pk)
        return _plain("Invalid secret.", 403)
    with tenant_scope(number.organization):
        if event.kind == "report":
            call = calls.call_ai_report_record(organization=number.organization, number=number, report=event.report)
        else:
            call = calls.call_ai_status(organization=number.organization, number=number, report=event.report)
    return JsonResponse({"received": event.type, "call": str(call.pk)})
