"""What the simulated vendors do on their own, as Twilio and Meta would: a sent message's status
callbacks, and a customer's texts and WhatsApp messages from the customer's phone page.

Callbacks and webhooks are signed as the vendor signs them (Twilio's X-Twilio-Signature with the
account's auth token, Meta's X-Hub-Signature-256 with the app secret) and posted only to this product's
own public address: a URL that came in a request never receives anything from here."""

from __future__ import annotations

import json
import logging
import re
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qs

import requests
from django.conf import settings

from . import whatsapp_webhooks
from .server import Request, Response
from .state import simulated
from .twilio_webhooks import inbound_message, signature, status_callback

logger = logging.getLogger(__name__)

# A destination the simulated carrier cannot reach: the message is accepted, then comes back
# undelivered (Twilio's 30003, "Unreachable destination handset").
UNREACHABLE = "+15005550005"
# The statuses a sent message goes through after `queued`, and the seconds between them.
PROGRESS = ("sent", "delivered")
STEP_SECONDS = 1.0


_TWILIO_SEND = re.compile(r"/2010-04-01/Accounts/(AC[0-9a-fA-F]{32})/Messages\.json")
_WHATSAPP_SEND = re.compile(r"/v\d+\.\d+/(\d+)/messages")


def twilio_message_accepted(request: Request, answer: Response) -> dict | None:
    """For a message Twilio's API just accepted with a status callback: what its status steps need
    (account, message sid, callback); None for any other request."""
    sent = _TWILIO_SEND.fullmatch(request.path)
    if request.method != "POST" or sent is None or answer.status != 201:
        return None
    callback = parse_qs(request.body.decode()).get("StatusCallback", [""])[0]
    if not callback:
        return None
    return {"account_sid": sent.group(1), "sid": json.loads(answer.body)["sid"], "callback": callback}


def whatsapp_message_accepted(request: Request, answer: Response) -> dict | None:
    """For a message Meta's Graph API just accepted: what its status webhooks need (number, wamid,
    recipient); None for any other request."""
    sent = _WHATSAPP_SEND.fullmatch(request.path)
    if request.method != "POST" or sent is None or answer.status != 200:
        return None
    recipient = str(json.loads(request.body or b"{}").get("to", ""))
    return {"phone_number_id": sent.group(1), "wamid": json.loads(answer.body)["messages"][0]["id"],
            "recipient_id": "".join(ch for ch in recipient if ch.isdigit())}


_TWILIO_CALL = re.compile(r"/2010-04-01/Accounts/(AC[0-9a-fA-F]{32})/Calls/(CA[0-9a-fA-F]{32})\.json")


def twilio_call_ended(request: Request, answer: Response) -> tuple[str, str, str] | None:
    """For a call our product just ended through Twilio's API (Status=completed or canceled): its
    account, sid and the status it ended with; None for any other request."""
    found = _TWILIO_CALL.fullmatch(request.path)
    if request.method != "POST" or found is None or answer.status != 200:
        return None
    status = parse_qs(request.body.decode()).get("Status", [""])[0]
    if status not in ("completed", "canceled"):
        return None
    return found.group(1), found.group(2), json.loads(answer.body)["status"]


def ours(url: str) -> bool:
    """Whether ``url`` is on this product's public address (the only place callbacks go)."""
    base = settings.PUBLIC_BASE_URL.rstrip("/") + "/"
    return url.startswith(base)


def message_advance(*, account_sid: str, sid: str, callback: str, step: int) -> str | None:
    """Move a simulated message to its status number ``step`` and tell ``callback``; the status it
    reached, or None when there is nothing to do (no such step or message)."""
    if step >= len(PROGRESS):
        return None
    with simulated("twilio") as fake:
        if fake.account(account_sid) is None:
            return None
        message = next((m for m in fake.messages(account_sid) if m["sid"] == sid), None)
        if message is None:
            return None
        status, error = PROGRESS[step], None
        if message["to"] == UNREACHABLE and status == "delivered":
            status, error = "undelivered", 30003
        fake.set_message_status(account_sid, sid, status, error_code=error,
                                error_message="Unreachable destination handset" if error else None)
        token = fake.account(account_sid)["auth_token"]
        params = status_callback(account_sid=account_sid, message_sid=sid, status=status, to=message["to"],
                                 from_=message["from"] or "", error_code=error)
    if ours(callback):
        try:
            requests.post(callback, data=params, timeout=10,
                          headers={"X-Twilio-Signature": signature(callback, params, token)})
        except requests.RequestException as exc:
            logger.warning("simulator: status callback for %s failed: %s", sid, exc)
    return status


# A customer's phone ----------------------------------------------------------------------------------


class PhoneError(Exception):
    """Why a customer's simulated text could not be sent (shown on the phone page)."""


def text_from_customer(*, customer: str, to: str, body: str) -> dict:
    """A customer texts one of the simulated numbers: the carrier records it and posts Twilio's signed
    inbound webhook to the number's SMS URL (only when that URL is this installation's). Returns the
    message as the carrier recorded it. A number of the simulated Vonage or Bandwidth is texted
    through that carrier instead, with its own webhook."""
    body = body.strip()
    if not body:
        raise PhoneError("Write something to send.")
    with simulated("twilio") as fake:
        found = fake.owner_of(to)
    if found is None:
        return _text_other_carrier(customer=customer, to=to, body=body)
    with simulated("twilio") as fake:
        found = fake.owner_of(to)
        if found is None:
            raise PhoneError(f"{to} is not a number of the simulated carrier.")
        account_sid, number = found
        message = fake.add_inbound_message(account_sid, from_=customer, to=to, body=body)
        token = fake.account(account_sid)["auth_token"]
    url = number.get("sms_url") or ""
    if not ours(url):
        reason = "the number's SMS URL is not this installation's" if url else "the number has no SMS URL"
        raise PhoneError(f"Sent, but nobody will read it: {reason} (import the number first).")
    params = inbound_message(account_sid=account_sid, to=to, from_=customer, body=body, message_sid=message["sid"])
    try:
        answer = requests.post(url, data=params, timeout=10, headers={"X-Twilio-Signature": signature(url, params, token)})
    except requests.RequestException as exc:
        raise PhoneError(f"Softphone did not answer the carrier: {exc}") from None
    if answer.status_code >= 400:
        raise PhoneError(f"Softphone refused the message ({answer.status_code}).")
    return message


def _text_other_carrier(*, customer: str, to: str, body: str) -> dict:
    """A customer's text to a number of the simulated Vonage or Bandwidth: that carrier's signed (or
    credentialed) webhook, posted only to this installation."""
    with simulated("vonage") as vonage:
        found = vonage.owner_of(to)
        if found is not None:
            api_key, number = found
            if not ours(number.get("moHttpUrl") or ""):
                raise PhoneError("Sent, but nobody will read it: the number's inbound URL is not this "
                                 "installation's (import the number first).")
            answered = vonage.inbound_sms(api_key, to, customer, body)
            message = vonage.messages[-1]
    if found is None:
        with simulated("bandwidth") as bandwidth:
            owner = bandwidth.owner_of(to)
            if owner is None:
                raise PhoneError(f"{to} is not a number of the simulated carriers.")
            app = bandwidth.application(*owner)
            if not ours(app.get("InboundCallbackUrl") or ""):
                raise PhoneError("Sent, but nobody will read it: the Bandwidth account's messaging application "
                                 "does not call this installation (connect the account first).")
            answered = bandwidth.inbound(owner[0], to, customer, body)
            message = bandwidth.messages[-1]
    if not answered:
        raise PhoneError("Softphone did not answer the carrier.")
    if answered >= 400:
        raise PhoneError(f"Softphone refused the message ({answered}).")
    return message


def receipt_advance(*, vendor: str, message_id: str, step: int = 0) -> str | None:
    """The simulated Vonage's delivery receipt (to the message's callback) or Bandwidth's status event
    (to the messaging application's status URL) for a sent message, only to this installation; the
    status told, or None."""
    with simulated(vendor) as fake:
        if vendor == "vonage":
            message = next((m for m in fake.sent if m["message-id"] == message_id), None)
            if message is None or not ours(message.get("callback") or ""):
                return None
            failed = "+" + message["to"] == UNREACHABLE
            status = "failed" if failed else "delivered"
            fake.delivery_receipt(message_id, status, err_code="1" if failed else "0")
            return status
        message = next((m for m in fake.sent if m["id"] == message_id), None)
        owner = fake.owner_of(message["from"]) if message else None
        if owner is None or not ours(fake.application(*owner).get("OutboundCallbackUrl") or ""):
            return None
        failed = message["to"][0] == UNREACHABLE
        kind = "message-failed" if failed else "message-delivered"
        fake.deliver_status(owner[0], fake.status_event(message_id, kind, error_code=4720 if failed else None))
        return kind


def phone_numbers() -> list[dict]:
    """The simulated numbers a customer can text: those whose texts reach this installation."""
    with simulated("twilio") as fake:
        numbers = [n for sid in fake.account_sids() for n in fake.numbers(sid)]
    for vendor in ("vonage", "bandwidth"):
        with simulated(vendor) as fake:
            numbers += fake.listed_numbers()
    return sorted((n for n in numbers if ours(n.get("sms_url") or "")), key=lambda n: n["phone_number"])


def phone_thread(customer: str) -> list[dict]:
    """Every simulated message to or from ``customer``, oldest first."""
    with simulated("twilio") as fake:
        messages = [m for sid in fake.account_sids() for m in fake.messages(sid)
                    if customer in (m["to"], m["from"])]
    for vendor in ("vonage", "bandwidth"):
        with simulated(vendor) as fake:
            messages += [m for m in fake.messages if customer in (m["to"], m["from"])]
    # Recorded in order within an account; the sort is stable, so equal seconds keep that order.
    return sorted(messages, key=lambda m: parsedate_to_datetime(m["date_created"]))


def whatsapp_from_customer(*, customer: str, phone_number_id: str, body: str) -> dict:
    """A customer writes to one of the simulated WhatsApp numbers: Meta records it (the customer's
    24-hour window opens) and posts its signed webhook to the app's callback (only when that is this
    installation's)."""
    body = body.strip()
    if not body:
        raise PhoneError("Write something to send.")
    wa_id = customer.lstrip("+")
    with simulated("whatsapp") as fake:
        numbers = fake.phone_numbers()
        if phone_number_id not in numbers:
            raise PhoneError("That is not a WhatsApp number of the simulated Meta.")
        received = fake.receive(phone_number_id=phone_number_id, wa_id=wa_id, body=body)
        webhook = fake.webhook
    if not webhook or not ours(webhook["url"]):
        raise PhoneError("Sent, but nobody will read it: the simulated Meta app has no webhook to this installation.")
    payload = whatsapp_webhooks.inbound_text(phone_number_id=phone_number_id, display_phone_number=numbers[phone_number_id],
                                             from_wa_id=wa_id, body=body, profile_name=customer,
                                             wamid=received["wamid"])
    raw = whatsapp_webhooks.encode(payload)
    try:
        answer = requests.post(webhook["url"], data=raw, timeout=10, headers={
            "Content-Type": "application/json", "X-Hub-Signature-256": whatsapp_webhooks.sign(raw, webhook["app_secret"])})
    except requests.RequestException as exc:
        raise PhoneError(f"Softphone did not answer Meta: {exc}") from None
    if answer.status_code >= 400:
        raise PhoneError(f"Softphone refused the message ({answer.status_code}).")
    return received


def whatsapp_numbers() -> dict[str, str]:
    """The simulated WhatsApp numbers (phone number id -> display number), when Meta's webhook reaches us."""
    with simulated("whatsapp") as fake:
        return fake.phone_numbers() if fake.webhook and ours(fake.webhook["url"]) else {}


def whatsapp_thread(customer: str) -> list[dict]:
    with simulated("whatsapp") as fake:
        return fake.conversation_with(customer.lstrip("+"))


# What Meta tells of a message the business sent, one webhook each, a second apart.
WHATSAPP_PROGRESS = ("sent", "delivered")


def whatsapp_advance(*, phone_number_id: str, wamid: str, recipient_id: str, step: int) -> str | None:
    """Meta's status webhook for a sent WhatsApp message, step number ``step``, signed with the app
    secret and posted only to this installation; the status told, or None when there is nothing to tell."""
    if step >= len(WHATSAPP_PROGRESS):
        return None
    with simulated("whatsapp") as fake:
        webhook, display = fake.webhook, fake.phone_numbers().get(phone_number_id)
        business = fake.business_account_of(phone_number_id)
    if not webhook or display is None or not ours(webhook["url"]):
        return None
    status = WHATSAPP_PROGRESS[step]
    payload = whatsapp_webhooks.status_update(phone_number_id=phone_number_id, display_phone_number=display,
                                              wamid=wamid, status=status, recipient_id=recipient_id,
                                              **({"waba_id": business} if business else {}))
    raw = whatsapp_webhooks.encode(payload)
    try:
        requests.post(webhook["url"], data=raw, timeout=10, headers={
            "Content-Type": "application/json", "X-Hub-Signature-256": whatsapp_webhooks.sign(raw, webhook["app_secret"])})
    except requests.RequestException as exc:
        logger.warning("simulator: WhatsApp status webhook for %s failed: %s", wamid, exc)
    return status
