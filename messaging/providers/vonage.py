"""Vonage's SMS API (contracts/vonage/sms.yml): texts out, and its two webhooks in (inbound SMS and
delivery receipts), signed with the account's signature secret.

What we rely on for the webhooks (how `sig` is made, its `timestamp`) is in docs/providers.md, with
its sources. The SMS API carries text only: a Vonage number takes no attachments (its capabilities
say no MMS, and the composer says so before anything is sent).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping, Sequence

from core.safe_http import Fetched
from crm.models import Channel
from telephony.providers.vonage import SIGNATURE_METHODS, VonageClient

from .base import (
    NUMBERS,
    BadWebhook,
    Inbound,
    LineKey,
    MessagePart,
    MessagingProvider,
    OutboundMedia,
    ProviderError,
    SendResult,
    StatusUpdate,
    TemplateSend,
    WebhookRequest,
    event_id,
)

# How far a webhook's `timestamp` may be from our clock: an old request replayed is refused.
SIGNATURE_WINDOW = 300

# Delivery receipts' statuses, as ours (accepted and buffered: on the way; unknown: no news).
STATUSES = {"accepted": "sent", "buffered": "sent", "delivered": "delivered", "expired": "undelivered",
            "failed": "failed", "rejected": "failed", "unknown": ""}

# Delivery receipts' `err-code` (Vonage, "SMS delivery receipt error codes").
READABLE_ERRORS = {
    "1": "The carrier could not say why the message was not delivered.",
    "2": "The recipient's phone was off or out of coverage until the message expired.",
    "3": "The recipient's number is no longer in service.",
    "4": "The recipient has barred incoming messages.",
    "5": "The recipient's number was ported and could not be reached.",
    "6": "The carrier rejected the message as spam.",
    "7": "The recipient's phone was busy.",
    "8": "A network error stopped the message.",
    "9": "The recipient's number is not valid.",
    "10": "The carrier rejected the message's content.",
    "11": "The carrier cannot route messages to this recipient.",
    "12": "The recipient's number cannot be reached.",
    "13": "The recipient may not receive this content (age restriction).",
    "14": "The recipient's carrier blocked the message.",
    "15": "The recipient's prepaid account has no credit to receive it.",
    "16": "The carrier's quota for this route is exceeded; try again later.",
    "50": "The message was filtered by the sender's registered entity (entity filter).",
    "51": "The message was filtered: its sender id is not registered.",
    "52": "The message was filtered for its content.",
    "53": "The recipient has not consented to these messages.",
    "54": "The message breaks a regulation of the recipient's country.",
    "99": "The carrier could not deliver the message (general error).",
}

# What the SMS API's `status` says when it refuses a message (contracts/vonage/sms.yml, x-errors).
SEND_ERRORS = {
    "1": ("Vonage is throttling this account's messages; it will be tried again.", False),
    "2": ("Vonage said a parameter was missing.", True),
    "3": ("Vonage said a parameter was not valid (the recipient's number?).", True),
    "4": ("Vonage rejected the account's API key and secret.", True),
    "5": ("Vonage had an internal error; it will be tried again.", False),
    "6": ("Vonage could not route the message to this recipient.", True),
    "7": ("The recipient's number is barred at Vonage.", True),
    "8": ("The Vonage account is barred from sending.", True),
    "9": ("The Vonage account has no credit left.", True),
    "12": ("The message is too long for Vonage.", True),
    "15": ("This Vonage number may not send to that country (a local number is needed).", True),
    "29": ("The Vonage account is in trial and may only send to its whitelisted numbers.", True),
    "33": ("This number has been deactivated at Vonage.", True),
}

# GSM 03.38: what a text of type `text` can carry; anything else is sent as `unicode`.
GSM = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
          "¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€\f")


def _e164(digits: str) -> str:
    digits = (digits or "").strip().removeprefix("+")
    return "+" + digits if digits else ""


def _flat(payload) -> dict[str, str]:
    """A JSON webhook's object, as the strings a form would have carried."""
    if not isinstance(payload, dict):
        raise BadWebhook("Not a Vonage webhook: the body is not an object.")
    flat = {}
    for name, value in payload.items():
        if isinstance(value, (dict, list)):
            raise BadWebhook(f"Not a Vonage webhook: {str(name)[:40]} is not a plain value.")
        flat[str(name)] = "" if value is None else ("true" if value is True else "false" if value is False
                                                     else str(value))
    return flat


def signature_of(params: Mapping[str, str], secret: str, method: str) -> str:
    """Vonage's `sig`: every parameter but `sig`, sorted, `&` and `=` in values made `_`, joined as
    `&name=value`, then hashed with the secret appended (md5hash) or keyed with it (HMAC)."""
    text = "".join(f"&{name}={str(params[name]).replace('&', '_').replace('=', '_')}"
                   for name in sorted(params) if name != "sig")
    if method == "md5hash":
        return hashlib.md5((text + secret).encode()).hexdigest()
    digest = {"md5": hashlib.md5, "sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}[method]
    return hmac.new(secret.encode(), text.encode(), digest).hexdigest()


def _part(payload: Mapping[str, str]) -> MessagePart | None:
    """A long text arrives as parts, each its own webhook: `concat` true, the text's `concat-ref`
    (per sender), this part's number and how many there are."""
    if str(payload.get("concat", "")).lower() != "true":
        return None
    try:
        number, total = int(payload.get("concat-part", "")), int(payload.get("concat-total", ""))
    except ValueError:
        return None
    if not (1 <= number <= total <= 255) or not payload.get("concat-ref"):
        return None
    return MessagePart(group=f"{payload.get('msisdn', '')}:{payload['concat-ref']}", number=number, total=total)


class VonageMessaging(MessagingProvider):
    name = "vonage"
    lines = NUMBERS
    readable_errors = READABLE_ERRORS
    # Vonage checks a number's inbound URL with a GET before it takes it.
    answers_probe = True

    def __init__(self, *, api_key: str, api_secret: str):
        self.client = VonageClient(api_key, api_secret)

    @classmethod
    def for_conversation(cls, conversation) -> VonageMessaging:
        account = conversation.phone_number.provider_account
        return cls(api_key=account.account_sid, api_secret=account.auth_token or "")

    # Webhooks --------------------------------------------------------------------------------------

    @classmethod
    def callback_events(cls, request: WebhookRequest) -> list[Mapping[str, str]]:
        """Vonage posts a form or JSON object (the account's "HTTP method" setting): one event."""
        if request.headers.get("Content-Type", "").split(";")[0].strip().lower() == "application/json":
            try:
                return [_flat(json.loads(request.body))]
            except (ValueError, RecursionError):
                raise BadWebhook("Not a Vonage webhook: the body is not JSON.") from None
        return [request.form]

    @classmethod
    def webhook_verified(cls, request: WebhookRequest, secret: str, *, method: str = "") -> bool:
        if not secret or method not in SIGNATURE_METHODS:
            return False
        try:
            params = cls.callback_events(request)[0]
        except BadWebhook:
            return False
        given = str(params.get("sig", "")).lower()
        try:
            age = abs(time.time() - int(params.get("timestamp", "")))
        except ValueError:
            return False
        if not given or age > SIGNATURE_WINDOW:
            return False
        expected = signature_of(params, secret, method)
        return hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogateescape"))

    @classmethod
    def inbound_line(cls, form: Mapping[str, str]) -> LineKey:
        return LineKey(form.get("api-key", ""), (_e164(form.get("to", "")),))

    @classmethod
    def status_line(cls, form: Mapping[str, str]) -> LineKey:
        # A delivery receipt's `to` is our number (the sender), `msisdn` the recipient.
        return LineKey(form.get("api-key", ""), (_e164(form.get("to", "")),))

    @classmethod
    def inbound_event_id(cls, form: Mapping[str, str]) -> str:
        return event_id(form.get("messageId", ""), field="messageId", vendor="Vonage")

    @staticmethod
    def inbound_message(payload: dict) -> Inbound:
        return Inbound(provider_sid=payload.get("messageId", ""), sender=_e164(payload.get("msisdn", "")),
                       body=payload.get("text", ""), channel=Channel.SMS, part=_part(payload))

    @classmethod
    def status_update(cls, form: Mapping[str, str]) -> StatusUpdate:
        status = STATUSES.get(form.get("status", ""), "")
        code = form.get("err-code", "")
        failed = status in ("failed", "undelivered") and code not in ("", "0")
        return StatusUpdate(provider_sid=form.get("messageId", ""), status=status, error_code=code if failed else "",
                            error_message=cls.readable_error(code) if failed else "")

    # Sending and media -------------------------------------------------------------------------------

    def send(self, *, sender: str, to: str, channel: str, body: str, media: Sequence[OutboundMedia],
             status_callback: str, template: TemplateSend | None = None) -> SendResult:
        if channel != Channel.SMS or template is not None:
            raise ProviderError("Vonage numbers send SMS only.", permanent=True)
        if media:
            raise ProviderError("Vonage's SMS API carries text only: attachments cannot be sent from a Vonage "
                                "number.", permanent=True)
        form = {"from": sender.removeprefix("+"), "to": to.removeprefix("+"), "text": body,
                "type": "text" if set(body) <= GSM else "unicode"}
        if status_callback:
            form["callback"] = status_callback
        response = self.client.post("/sms/json", form)
        if response.status_code != 200:
            raise ProviderError(f"Vonage refused the message (HTTP {response.status_code}).",
                                permanent=400 <= response.status_code < 500 and response.status_code != 429,
                                code=response.status_code)
        try:
            answer = response.json()
            parts = [p for p in answer.get("messages") or [] if isinstance(p, dict)]
        except (ValueError, AttributeError):
            parts = []
        if not parts:
            raise ProviderError("Vonage's answer could not be read; the message may not have been sent.",
                                permanent=False)
        failed = next((p for p in parts if str(p.get("status")) != "0"), None)
        if failed is not None:
            code = str(failed.get("status"))
            readable, permanent = SEND_ERRORS.get(code, (f"Vonage refused the message: {failed.get('error-text')}.",
                                                         True))
            raise ProviderError(readable, permanent=permanent, code=code)
        # A long text goes as several parts, each with its id and receipt: the first stands for it.
        return SendResult(sid=str(parts[0].get("message-id") or ""), status="sent", num_segments=len(parts))

    def media_fetch(self, item: dict) -> Fetched:
        raise ProviderError("Vonage's SMS API carries no attachments.", permanent=True)
