"""Twilio's Messages API (SMS, MMS, WhatsApp through Twilio) with the real SDK, and its webhooks."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from functools import cached_property
from urllib.parse import urlsplit

from django.conf import settings

from core.safe_http import Fetched, FetchRefused, origin_of
from crm.models import Channel
from telephony.providers.twilio import call, make_client, signature_valid

from .base import (
    NUMBERS,
    PLACEHOLDER,
    Inbound,
    LineKey,
    MediaRequest,
    MessagingProvider,
    OutboundMedia,
    ProviderError,
    SendResult,
    StatusUpdate,
    TemplateInfo,
    TemplateParameter,
    TemplateSend,
    WebhookRequest,
    event_id,
    fetch_media,
)

# The host in the media URLs of Twilio's webhooks; fetched at TWILIO_API_BASE_URL, as the SDK is.
PUBLIC_API = "https://api.twilio.com"

INITIAL_STATUS = {"accepted": "queued", "queued": "queued", "scheduled": "queued", "sending": "sending",
                  "sent": "sent"}
# Twilio's message statuses that mean something to us, as ours (the names are mostly the same).
STATUSES = {"accepted": "queued", "scheduled": "queued", "queued": "queued", "sending": "sending", "sent": "sent",
            "delivered": "delivered", "undelivered": "undelivered", "failed": "failed", "read": "read"}

READABLE_ERRORS = {
    "21211": "The recipient's number is not valid.",
    "21408": "Sending to this country or region is not enabled on the Twilio account.",
    "21606": "This Twilio number cannot send messages (not owned by the account or not SMS-capable).",
    "21610": "The recipient has unsubscribed (replied STOP) and cannot be messaged until they reply START.",
    "21611": "This number's outgoing queue is full; try again later.",
    "21612": "The carrier cannot route messages to this recipient.",
    "21614": "The recipient's number cannot receive text messages (landline or not mobile).",
    "21619": "A message needs a body or an attachment.",
    "30001": "This number's outgoing queue overflowed; the message was not sent.",
    "30003": "The recipient's phone is unreachable (off or out of coverage).",
    "30004": "The recipient blocked this message.",
    "30005": "The recipient's number is unknown or no longer exists.",
    "30006": "The recipient's number is a landline or cannot receive texts.",
    "30007": "The carrier filtered this message as spam.",
    "30008": "The carrier could not deliver the message (unknown error).",
    "63016": "WhatsApp allows only approved templates more than 24 hours after the customer's last message.",
}

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'

# Twilio's Content API: the WhatsApp review states, as ours (received: submitted, not yet with Meta).
CONTENT_STATUSES = {"approved": "approved", "pending": "pending", "received": "pending", "rejected": "rejected",
                    "paused": "paused", "disabled": "disabled"}
# Content types whose variables are all in the body: what the composer can fill.
CONTENT_TYPES_SENDABLE = ("twilio/text", "twilio/quick-reply", "twilio/call-to-action", "twilio/media")
CONTENT_LARGEST = 20_000  # templates read at most (Meta allows 6,000 per business account)


def template_from_content(item) -> TemplateInfo:
    """A template of Twilio's Content API (GET /v1/ContentAndApprovals) with its WhatsApp approval."""
    approval = dict(getattr(item, "approval_requests", None) or {})
    types = dict(getattr(item, "types", None) or {})
    kind = next((name for name in CONTENT_TYPES_SENDABLE if name in types), next(iter(types), ""))
    content = types.get(kind) if isinstance(types.get(kind), dict) else {}
    body = str(content.get("body") or "")
    unsupported = ""
    if kind not in CONTENT_TYPES_SENDABLE:
        unsupported = f"It is a {kind.removeprefix('twilio/').replace('-', ' ') or 'kind of'} template, which " \
                      "cannot be sent from here."
    elif PLACEHOLDER.search(str(content.get("actions", "")) + str(content.get("media", ""))):
        unsupported = "One of its buttons or its media needs a value given with each message."
    examples = {str(k): str(v) for k, v in dict(getattr(item, "variables", None) or {}).items()}
    names = list(dict.fromkeys(PLACEHOLDER.findall(body)))
    status = str(approval.get("status") or "")
    reason = str(approval.get("rejection_reason") or "")
    if not approval:
        status, reason = "unknown", "Not submitted to WhatsApp for approval."
    elif status == "unsubmitted":
        reason = reason or "Not submitted to WhatsApp for approval."
    return TemplateInfo(
        external_id=str(item.sid or ""), name=str(approval.get("name") or item.friendly_name or ""),
        language=str(item.language or ""), category=str(approval.get("category") or "").lower(),
        status=CONTENT_STATUSES.get(status, "unknown"), status_reason=reason, parameter_format="positional",
        header="", body=body, footer="",
        parameters=tuple(TemplateParameter("body", name, examples.get(name, "")) for name in names),
        unsupported=unsupported, components=[{"types": types, "approval": approval}])


def _bare(address: str) -> str:
    return (address or "").removeprefix("whatsapp:")


class TwilioMessaging(MessagingProvider):
    name = "twilio"
    lines = NUMBERS
    readable_errors = READABLE_ERRORS
    inbound_answer = (EMPTY_TWIML, "text/xml")

    def __init__(self, *, account_sid: str, auth_token: str):
        self.account_sid = account_sid
        self._auth_token = auth_token

    @classmethod
    def for_conversation(cls, conversation) -> TwilioMessaging:
        return cls.for_account(conversation.phone_number.provider_account)

    @classmethod
    def for_account(cls, account) -> TwilioMessaging:
        return cls(account_sid=account.account_sid, auth_token=account.auth_token or "")

    @cached_property
    def client(self):
        return make_client(self.account_sid, self._auth_token)

    # Webhooks --------------------------------------------------------------------------------------

    @classmethod
    def webhook_verified(cls, request: WebhookRequest, secret: str, *, method: str = "") -> bool:
        return signature_valid(url=request.url, form=request.form, form_lists=request.form_lists,
                               given=request.headers.get("X-Twilio-Signature", ""), auth_token=secret)

    @classmethod
    def inbound_line(cls, form: Mapping[str, str]) -> LineKey:
        return LineKey(form.get("AccountSid", ""), (_bare(form.get("To", "")),))

    @classmethod
    def status_line(cls, form: Mapping[str, str]) -> LineKey:
        # Status callbacks are about messages we sent: our number is `From`.
        return LineKey(form.get("AccountSid", ""), (_bare(form.get("From", "")), _bare(form.get("To", ""))))

    @classmethod
    def inbound_event_id(cls, form: Mapping[str, str]) -> str:
        return event_id(form.get("MessageSid") or form.get("SmsMessageSid") or "", field="MessageSid",
                        vendor="Twilio")  # Twilio's ids are 34 characters

    @staticmethod
    def inbound_message(payload: dict) -> Inbound:
        """A Twilio inbound-message webhook's parameters as our Inbound."""
        whatsapp = payload.get("From", "").startswith("whatsapp:")
        try:
            count = min(int(payload.get("NumMedia") or 0), 10)
        except ValueError:
            count = 0
        media = [{"url": payload.get(f"MediaUrl{i}", ""), "content_type": payload.get(f"MediaContentType{i}", "")}
                 for i in range(count) if payload.get(f"MediaUrl{i}")]
        return Inbound(
            provider_sid=payload.get("MessageSid") or payload.get("SmsMessageSid") or "",
            sender=_bare(payload.get("From", "")), body=payload.get("Body", ""),
            channel=Channel.WHATSAPP if whatsapp else Channel.SMS, media=media,
            profile_name=payload.get("ProfileName", ""), wa_id=payload.get("WaId", ""),
        )

    @classmethod
    def status_update(cls, form: Mapping[str, str]) -> StatusUpdate:
        status = form.get("MessageStatus") or form.get("SmsStatus") or ""
        code = form.get("ErrorCode", "")
        return StatusUpdate(provider_sid=form.get("MessageSid", ""), status=STATUSES.get(status, ""), error_code=code,
                            error_message=cls.readable_error(code) if code else "")

    # Sending and media -------------------------------------------------------------------------------

    def send(self, *, sender: str, to: str, channel: str, body: str, media: Sequence[OutboundMedia],
             status_callback: str, template: TemplateSend | None = None) -> SendResult:
        prefix = "whatsapp:" if channel == Channel.WHATSAPP else ""
        params = {"from_": prefix + sender, "to": prefix + to, "status_callback": status_callback}
        if template is not None:
            # A template approved for WhatsApp in Twilio's Content API: its SID, and the values of its
            # variables by name ("1", "2", ...), as a JSON object (Messages: ContentSid, ContentVariables).
            params["content_sid"] = template.external_id
            if template.values:
                params["content_variables"] = json.dumps(dict(template.values))
        elif body:
            params["body"] = body
        if media and template is None:  # Twilio reads each file's type from what its URL answers
            params["media_url"] = [item.url for item in media]
        try:
            message = call(self.client.messages.create, **params)
        except ProviderError as exc:
            raise ProviderError(self.readable_error(exc.code, exc.message) if exc.code else exc.message,
                                permanent=exc.permanent, code=exc.code, gone=exc.gone) from None
        return SendResult(sid=message.sid, status=INITIAL_STATUS.get(str(message.status), "queued"),
                          num_segments=int(message.num_segments or 1))

    def templates(self, business_account_id: str = "") -> list[TemplateInfo]:
        """The account's message templates in Twilio's Content API with their WhatsApp approval, every
        page (the SDK follows Twilio's next-page links, which our HTTP client lets reach only Twilio's
        configured hosts)."""
        items = call(lambda: list(self.client.content.v1.content_and_approvals.stream(page_size=100,
                                                                                       limit=CONTENT_LARGEST)))
        return [template_from_content(item) for item in items if getattr(item, "sid", None)]

    def media_fetch(self, item: dict) -> Fetched:
        return fetch_media(self._media_request(item.get("url", "")))

    def _media_request(self, url) -> MediaRequest:
        """Where and how to fetch the media of an inbound message. The account's credentials go only
        to Twilio's configured API host and only for this account's own resources; a URL anywhere
        else is refused (ProviderError) rather than fetched. Twilio answers with a redirect to its
        CDN, which safe_http follows without the credentials."""
        base = settings.TWILIO_API_BASE_URL.rstrip("/")
        url = url if isinstance(url, str) else ""
        if url.startswith(PUBLIC_API + "/"):
            url = base + url[len(PUBLIC_API):]
        try:
            trusted = origin_of(base)
            same_origin = origin_of(url) == trusted
        except FetchRefused:
            same_origin = False
        if not same_origin or not urlsplit(url).path.startswith(f"/2010-04-01/Accounts/{self.account_sid}/"):
            raise ProviderError("This attachment is not one of the account's media at Twilio.", permanent=True)
        basic = base64.b64encode(f"{self.account_sid}:{self._auth_token}".encode()).decode()
        return MediaRequest(url=url, trusted_origins=frozenset({trusted}),
                            credentials={"Authorization": f"Basic {basic}"})
