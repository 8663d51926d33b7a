"""What Softphone needs from a messaging vendor, as plain data. One adapter per vendor
(`messaging/providers/<vendor>.py`), found through the registry (`messaging/providers/__init__.py`).

Domain code (`messaging.services`) and the HTTP edge (`messaging.webhooks`) see only what is in this
module: the dataclasses below, `ProviderError`, `BadWebhook` and the methods of `MessagingProvider`.
A vendor's payloads, field names, HTTP statuses, error codes, signature schemes and SDK stay inside
its adapter. A new vendor is a new adapter and a line in the registry.

Two kinds of line carry conversations, and an adapter says which it serves (`MessagingProvider.lines`):

- NUMBERS: a `PhoneNumber` of a `ProviderAccount` whose `provider` is the adapter's `name` (Twilio;
  Vonage or Bandwidth next). The vendor calls `/webhooks/<name>/messages/` for an inbound message and
  `/webhooks/<name>/messages/status/` for a delivery status, one form-encoded callback each. The edge
  finds the number from what `inbound_line`/`status_line` read, checks `webhook_verified` with the
  account's secret, stores the inbound payload as it came (`inbound_event_id` names it) for a worker
  to read with `inbound_message`, and hands `status_update`'s answer to the domain.
- WHATSAPP_SENDERS: a `WhatsAppSender` (Meta's Cloud API), whose one webhook carries a batch of
  messages and statuses for several senders: `webhook_lines`, then `webhook_verified` with each
  sender's app secret, then `webhook_notifications`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, NamedTuple

from core import safe_http
from core.vendors import ProviderError

__all__ = ["NUMBERS", "PLACEHOLDER", "WHATSAPP_SENDERS", "BadWebhook", "CredentialsRejected", "Inbound", "LineKey", "MediaRequest", "MessagePart",
           "MessagingProvider", "Notification", "OutboundMedia", "ProviderError", "SendResult", "SenderCheck",
           "StatusUpdate", "TemplateInfo", "TemplateParameter", "TemplateSend", "Unauthenticated", "WebhookRequest",
           "event_id", "fetch_media"]

NUMBERS = "numbers"
WHATSAPP_SENDERS = "whatsapp_senders"
# A template's placeholder: {{1}} (positional) or {{first_name}} (named), whatever the vendor.
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")


@dataclass
class Inbound:
    """An inbound message, whatever the vendor: what an adapter makes of what the vendor sent."""

    provider_sid: str
    sender: str  # the customer's number (E.164, or WhatsApp digits)
    body: str
    channel: str  # crm Channel: sms or whatsapp
    # What the adapter needs to fetch each item again (media_fetch) and what it is:
    # [{"url" | "media_id", "content_type", "type", "caption"}]
    media: list[dict] = field(default_factory=list)
    profile_name: str = ""
    wa_id: str = ""
    received_at: datetime | None = None
    # One part of a long text the vendor delivers in parts (Vonage's SMS API), to be joined with the
    # others before it is stored as one message.
    part: MessagePart | None = None


@dataclass(frozen=True)
class MessagePart:
    """Which part of which long text: `group` names the text (unique for its sender and line),
    `number` counts from 1 to `total`."""

    group: str
    number: int
    total: int


@dataclass(frozen=True)
class StatusUpdate:
    """A vendor's news about a message we sent."""

    provider_sid: str
    status: str  # ours (messaging.models.MessageStatus); "" when the vendor's status means nothing to us
    error_code: str = ""  # the vendor's code, for the record and for support
    error_message: str = ""  # readable already: our words for a code we know, else the vendor's


@dataclass
class Notification:
    """What one callback told us about one of our lines (a vendor that batches sends several)."""

    line: str  # the vendor's id of our line (WhatsApp: the phone number id)
    messages: list[Inbound] = field(default_factory=list)
    statuses: list[StatusUpdate] = field(default_factory=list)


@dataclass(frozen=True)
class OutboundMedia:
    """One attachment to send: a public URL the vendor fetches, and what it is."""

    url: str
    content_type: str = ""  # "application/pdf"; "" when nobody said (a bare URL given to the API)


@dataclass(frozen=True)
class TemplateParameter:
    """One value a template needs: where it goes (the header's text or the body) and its name ("1"
    for {{1}}, "first_name" for {{first_name}})."""

    component: str  # "header" | "body"
    name: str
    example: str = ""


@dataclass(frozen=True)
class TemplateInfo:
    """A message template as a vendor describes it, read into what the product needs."""

    external_id: str
    name: str
    language: str
    category: str
    status: str  # messaging.models.TemplateStatus
    status_reason: str
    parameter_format: str  # "positional" | "named"
    header: str
    body: str
    footer: str
    parameters: tuple[TemplateParameter, ...]
    unsupported: str  # why the composer cannot send it, or ""
    components: list


@dataclass(frozen=True)
class TemplateSend:
    """A template message to send: which template, and the value of each of its parameters."""

    external_id: str
    name: str
    language: str
    parameter_format: str
    parameters: tuple[TemplateParameter, ...]
    values: Mapping[str, str]


@dataclass(frozen=True)
class SendResult:
    sid: str
    status: str  # the vendor's initial status, mapped to ours
    num_segments: int = 1


@dataclass(frozen=True)
class SenderCheck:
    """What the vendor says of a WhatsApp sender's line, read with its credentials."""

    display_phone_number: str
    verified_name: str = ""
    quality_rating: str = ""
    # Whether the vendor has verified the number (its registration is finished), and the vendor's word for it.
    verified: bool = False
    verification_status: str = ""
    # Whether the line belongs to the business account it was given with.
    in_business_account: bool = False


class CredentialsRejected(ProviderError):
    """The vendor refused the credentials themselves (an expired, revoked or mistyped token)."""

    def __init__(self, message: str, *, code: int | str | None = None):
        super().__init__(message, permanent=True, code=code)


class LineKey(NamedTuple):
    """Which of our numbers a callback is about, in the vendor's words: the vendor account it names
    and our addresses it may be for, the likeliest first."""

    account: str
    addresses: tuple[str, ...]


@dataclass(frozen=True)
class WebhookRequest:
    """A vendor's callback as the HTTP edge received it; adapters verify it from this alone."""

    url: str  # the public URL the vendor called (and signed)
    headers: Mapping[str, str]  # case-insensitive
    body: bytes
    form: Mapping[str, str] = field(default_factory=dict)  # form parameters, one value per name
    # Every value of every name, for the rare request that repeats one; read only when asked.
    form_lists: Callable[[], Mapping[str, list[str]]] = dict


class BadWebhook(Exception):
    """Not something the vendor sends (a 400). The message says why, for whoever sent it."""


def event_id(value, *, field: str, vendor: str, longest: int = 64) -> str:  # the column holds 128
    """A vendor's message id read from a callback (`field` names where it was), or BadWebhook saying
    why it cannot be one: missing, not text, or longer than the vendor's ids."""
    if not isinstance(value, str) or not value:
        raise BadWebhook(f"{field} is missing.")
    if len(value) > longest:
        raise BadWebhook(f"{field} is not a {vendor} message id.")
    return value


class Unauthenticated(BadWebhook):
    """A vendor that authenticates with HTTP credentials sent none: a 401 asking for them."""

    challenge = 'Basic realm="Softphone webhooks"'


@dataclass(frozen=True)
class MediaRequest:
    """How to fetch one inbound media item: the URL, the vendor's media origins (scheme://host[:port],
    from configuration), and the credentials, which go to those origins only."""

    url: str
    trusted_origins: frozenset[str]
    credentials: dict[str, str]


def fetch_media(how: MediaRequest) -> safe_http.Fetched:
    """Fetch a media item under the rules of core.safe_http (credentials to the vendor's origins
    only, every other hop public, size and time capped), its failures as ProviderErrors."""
    try:
        return safe_http.fetch(how.url, trusted_origins=how.trusted_origins, credentials=how.credentials)
    except safe_http.FetchFailed as exc:
        if exc.status in (404, 410):
            raise ProviderError("The provider no longer has this attachment.", permanent=True, gone=True) from None
        raise ProviderError("The attachment could not be fetched from the provider.", permanent=False) from None
    except safe_http.FetchRefused as exc:
        raise ProviderError(f"The attachment is not served: {exc}", permanent=True) from None


class MessagingProvider:
    """One vendor's messaging: webhooks in, messages out, media, and its errors in words.

    An instance carries one line's credentials (`for_conversation`); the webhook methods are class
    methods, since a callback's line, and so its credentials, are not known until it is read. Every
    failure is a ProviderError whose message a person can read (`readable_error`).
    """

    name: ClassVar[str]  # the registry's key, stored with what the vendor sent (InboundEvent.provider)
    lines: ClassVar[str]  # NUMBERS or WHATSAPP_SENDERS: what a conversation with this vendor goes through
    # The vendor's error codes an agent may see on a failed message, in words they can act on.
    readable_errors: ClassVar[Mapping[str, str]] = {}
    # The answer to an inbound-message callback: (body, content type).
    inbound_answer: ClassVar[tuple[str, str]] = ("", "text/plain")
    # NUMBERS: whether the vendor checks a webhook address with a GET before it takes it (answered
    # 200, nothing read or stored).
    answers_probe: ClassVar[bool] = False

    @classmethod
    def for_conversation(cls, conversation) -> MessagingProvider:
        """The adapter with the credentials of the line the conversation goes through (its number's
        provider account, or its WhatsApp sender)."""
        raise NotImplementedError

    @classmethod
    def for_account(cls, account) -> MessagingProvider:
        """NUMBERS: the adapter with a connected ProviderAccount's credentials (for what belongs to the
        account rather than to one conversation: its message templates)."""
        raise NotImplementedError

    def templates(self, business_account_id: str = "") -> Iterable[TemplateInfo]:
        """The message templates the vendor holds for this line's account (WHATSAPP_SENDERS: of
        `business_account_id`), read into TemplateInfo. ProviderError when they cannot be read."""
        raise ProviderError("This provider keeps no message templates.", permanent=True)

    @classmethod
    def for_sender(cls, *, line: str, access_token: str) -> MessagingProvider:
        """WHATSAPP_SENDERS: the adapter with credentials a person typed (checked before they are saved)."""
        raise NotImplementedError

    def sender_check(self, *, business_account_id: str) -> SenderCheck:
        """WHATSAPP_SENDERS: read this line with these credentials, and whether it belongs to
        `business_account_id`. Raises CredentialsRejected when the vendor refuses the token, and
        ProviderError when the line cannot be read (with a reason a person can act on)."""
        raise NotImplementedError

    @classmethod
    def readable_error(cls, code, fallback: str = "") -> str:
        """A vendor's error code as a reason an agent can act on; the vendor's own words (`fallback`)
        for a code we have no words for."""
        return cls.readable_errors.get(str(code), fallback or f"The provider refused the message (code {code}).")

    # Webhooks --------------------------------------------------------------------------------------

    @classmethod
    def webhook_verified(cls, request: WebhookRequest, secret: str, *, method: str = "") -> bool:
        """Whether the vendor signed this request with the line's `secret` (its account's auth
        token, its app secret, its signature secret; by `method` where the account chooses one).
        False without a signature or without a secret."""
        raise NotImplementedError

    @classmethod
    def callback_events(cls, request: WebhookRequest) -> list[Mapping]:
        """NUMBERS: the events one callback carries, each read by `inbound_line`/`status_line` and
        the rest. Most vendors send one form per callback; Bandwidth a JSON array. BadWebhook when the
        body is not the vendor's."""
        return [request.form]

    @classmethod
    def callback_kind(cls, event: Mapping, route: str) -> str:
        """NUMBERS: "message" (inbound) or "status" for one event; by default what its route says
        (`route`), for vendors whose callbacks mix both the event says."""
        return route

    @classmethod
    def inbound_line(cls, form: Mapping[str, str]) -> LineKey:
        """NUMBERS: which of our numbers an inbound message is for."""
        raise NotImplementedError

    @classmethod
    def inbound_event_id(cls, form: Mapping[str, str]) -> str:
        """NUMBERS: the vendor's id of an inbound message, under which it is stored once. BadWebhook
        when there is none that can be the vendor's."""
        raise NotImplementedError

    @staticmethod
    def inbound_message(payload: dict) -> Inbound:
        """NUMBERS: a stored inbound-message payload (the form as the webhook received it) as our Inbound."""
        raise NotImplementedError

    @classmethod
    def status_line(cls, form: Mapping[str, str]) -> LineKey:
        """NUMBERS: which of our numbers a status callback is about (it sent the message)."""
        raise NotImplementedError

    @classmethod
    def status_update(cls, form: Mapping[str, str]) -> StatusUpdate:
        """NUMBERS: a status callback as our StatusUpdate."""
        raise NotImplementedError

    @classmethod
    def subscription(cls, query: Mapping[str, str]) -> tuple[str, str] | None:
        """WHATSAPP_SENDERS: a subscription handshake's (verify token, challenge to echo), or None
        when the request is not one."""
        raise NotImplementedError

    @classmethod
    def webhook_lines(cls, payload) -> set[str]:
        """WHATSAPP_SENDERS: the ids of our lines a decoded callback is about. BadWebhook when it is
        not the vendor's envelope."""
        raise NotImplementedError

    @classmethod
    def webhook_notifications(cls, payload) -> Iterator[Notification]:
        """WHATSAPP_SENDERS: what a decoded (and verified) callback says, line by line, in order."""
        raise NotImplementedError

    # Sending and media -------------------------------------------------------------------------------

    def send(self, *, sender: str, to: str, channel: str, body: str, media: Sequence[OutboundMedia],
             status_callback: str, template: TemplateSend | None = None) -> SendResult:
        """Send one message from our `sender` address to `to` (E.164) on `channel` (crm Channel), with
        `media` to fetch from their URLs; the vendor reports its progress at `status_callback` (where
        it takes one). With `template`, the message is that WhatsApp template with its values (`body`
        is then only our copy of the text). Raises ProviderError, whose message is readable."""
        raise NotImplementedError

    def media_fetch(self, item: dict) -> safe_http.Fetched:
        """The body of an inbound media item (an entry of Message.media this adapter's parsing made),
        fetched from the vendor with this line's credentials through `fetch_media`. Raises
        ProviderError: `gone` when the vendor no longer has it, `permanent` when it is not fetched
        (not at the vendor's hosts, too large, refused), neither when trying later may help. The
        caller closes what it gets."""
        raise NotImplementedError
