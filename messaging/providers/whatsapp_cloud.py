"""WhatsApp Cloud API (Meta's Graph API, at WHATSAPP_GRAPH_BASE_URL / WHATSAPP_GRAPH_VERSION) and its webhook."""

from __future__ import annotations

import hashlib
import hmac
import mimetypes
import re
from collections.abc import Iterator, Mapping, Sequence
from urllib.parse import quote, unquote, urlsplit

import requests
from django.conf import settings

from core.safe_http import Fetched, FetchRefused, origin_of
from crm.models import Channel

from .base import (
    PLACEHOLDER,
    WHATSAPP_SENDERS,
    BadWebhook,
    CredentialsRejected,
    Inbound,
    MediaRequest,
    MessagingProvider,
    Notification,
    OutboundMedia,
    ProviderError,
    SenderCheck,
    SendResult,
    StatusUpdate,
    TemplateInfo,
    TemplateParameter,
    TemplateSend,
    WebhookRequest,
    fetch_media,
)

MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")
# Meta's transient errors: temporary unavailability and throttling.
TRANSIENT_CODES = {1, 2, 4, 80007, 130429, 131000, 131016, 133004}
# Graph's "no such object" (an unknown or expired media id, among others).
NO_SUCH_OBJECT = 100
# Graph's "invalid OAuth access token" (expired, revoked, or not a token at all), and its permission errors.
INVALID_TOKEN = 190
NO_PERMISSION = {10, 200}
# The fields of Meta's WhatsApp Business Phone Number object a sender's check reads.
SENDER_FIELDS = "display_phone_number,verified_name,quality_rating,code_verification_status"
VERIFIED = "VERIFIED"
# A business account's numbers are read 100 to a page, at most this many pages, looking for one.
ACCOUNT_PAGES = 10
# Meta's message statuses that mean something to us, as ours.
STATUSES = {"sent": "sent", "delivered": "delivered", "read": "read", "failed": "failed"}

READABLE_ERRORS = {
    "131026": "WhatsApp could not deliver the message to this recipient.",
    "131047": "WhatsApp allows only approved templates more than 24 hours after the customer's last message.",
    "132000": "The template was sent with a different number of values than it has variables.",
    "132001": "WhatsApp does not know this template in this language (deleted or renamed at Meta?).",
    "132005": "The template's text is too long once its values are filled in.",
    "132015": "Meta paused this template because of its quality; it cannot be sent now.",
    "132016": "Meta disabled this template; it cannot be sent.",
    "132018": "A template value may not contain new lines, tabs or more than four spaces in a row.",
}

# Message templates (the WhatsApp Business Management API) -------------------------------------------

TEMPLATE_FIELDS = "id,name,language,status,category,components,parameter_format,rejected_reason"
TEMPLATES_PAGE = 100
TEMPLATES_MAX_PAGES = 200  # 20,000 templates: Meta allows at most 6,000 per business account
# Header formats the composer can fill: text (perhaps with one variable). A picture, video, document
# or location header needs a file or place chosen with the message.
UNSUPPORTED_HEADERS = {"IMAGE": "a picture", "VIDEO": "a video", "DOCUMENT": "a document", "LOCATION": "a location"}


def _placeholders(text: str) -> list[str]:
    seen: list[str] = []
    for name in PLACEHOLDER.findall(text or ""):
        if name not in seen:
            seen.append(name)
    return seen


def _examples(component: dict) -> list[str]:
    """Meta's example values of a component's variables, in order (positional or named)."""
    example = component.get("example") or {}
    named = example.get("body_text_named_params") or example.get("header_text_named_params")
    if named:
        return [str(item.get("example", "")) for item in named if isinstance(item, dict)]
    positional = example.get("body_text") or example.get("header_text") or []
    if positional and isinstance(positional[0], list):
        positional = positional[0]
    return [str(value) for value in positional]


def template_from_graph(item: dict) -> TemplateInfo:
    """A template as the Graph API describes it (GET /{waba-id}/message_templates)."""
    header = body = footer = ""
    parameters: list[TemplateParameter] = []
    unsupported = ""
    components = item.get("components") if isinstance(item.get("components"), list) else []
    for component in components:
        if not isinstance(component, dict):
            continue
        kind = str(component.get("type", "")).upper()
        if kind == "HEADER":
            fmt = str(component.get("format", "TEXT")).upper()
            if fmt in UNSUPPORTED_HEADERS:
                unsupported = unsupported or f"Its header is {UNSUPPORTED_HEADERS[fmt]}, which cannot be chosen here."
            else:
                header = str(component.get("text", ""))
                examples = _examples(component)
                parameters += [TemplateParameter("header", name, examples[i] if i < len(examples) else "")
                               for i, name in enumerate(_placeholders(header))]
        elif kind == "BODY":
            body = str(component.get("text", ""))
            examples = _examples(component)
            parameters += [TemplateParameter("body", name, examples[i] if i < len(examples) else "")
                           for i, name in enumerate(_placeholders(body))]
        elif kind == "FOOTER":
            footer = str(component.get("text", ""))
        elif kind == "BUTTONS":
            for button in component.get("buttons") or []:
                if not isinstance(button, dict):
                    continue
                kind_of = str(button.get("type", "")).upper()
                if kind_of in ("OTP", "COPY_CODE") or (kind_of == "URL" and PLACEHOLDER.search(str(button.get("url", "")))):
                    unsupported = unsupported or "One of its buttons needs a value (a code or a link) given with each message."
        else:
            unsupported = unsupported or f"It is {kind.lower().replace('_', ' ') or 'of a kind'} template, which cannot be sent from here."
    header_names = {p.name for p in parameters if p.component == "header"}
    if any(p.component == "body" and p.name in header_names for p in parameters):
        # Meta numbers the header's variables and the body's each from {{1}}: the composer keys values
        # by name, so it would give both the same value.
        unsupported = unsupported or "Its header and its body each have a variable of the same name."
    category = str(item.get("category", "")).upper()
    if category == "AUTHENTICATION":
        unsupported = unsupported or "Authentication templates carry one-time codes, sent by software, not by agents."
    status = str(item.get("status", "")).lower()
    known = {"approved", "pending", "in_appeal", "rejected", "paused", "disabled", "pending_deletion", "archived",
             "limit_exceeded", "deleted"}
    reason = str(item.get("rejected_reason") or "")
    if reason.upper() == "NONE":
        reason = ""
    if status == "paused" and not reason:
        reason = "Meta paused it after customers reported or blocked its messages."
    return TemplateInfo(
        external_id=str(item.get("id", "")), name=str(item.get("name", "")), language=str(item.get("language", "")),
        category=category.lower(), status=status if status in known else "unknown",
        status_reason=reason.replace("_", " ").capitalize() if reason.isupper() else reason,
        parameter_format="named" if str(item.get("parameter_format", "")).upper() == "NAMED" else "positional",
        header=header, body=body, footer=footer, parameters=tuple(parameters), unsupported=unsupported,
        components=components)


class WhatsAppCloud(MessagingProvider):
    name = "whatsapp_cloud"
    lines = WHATSAPP_SENDERS
    readable_errors = READABLE_ERRORS

    def __init__(self, *, phone_number_id: str, access_token: str):
        self.phone_number_id = phone_number_id
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {access_token}"})
        self._access_token = access_token
        self.base = f"{settings.WHATSAPP_GRAPH_BASE_URL.rstrip('/')}/{settings.WHATSAPP_GRAPH_VERSION}"

    @classmethod
    def for_conversation(cls, conversation) -> WhatsAppCloud:
        sender = conversation.whatsapp_sender
        return cls(phone_number_id=sender.phone_number_id, access_token=sender.access_token or "")

    @classmethod
    def for_sender(cls, *, line: str, access_token: str) -> WhatsAppCloud:
        return cls(phone_number_id=line, access_token=access_token)

    # Checking a sender -------------------------------------------------------------------------------

    def sender_check(self, *, business_account_id: str) -> SenderCheck:
        """Meta's phone number object (GET /{phone-number-id}?fields=...), then whether the number is
        among the business account's (GET /{waba-id}/phone_numbers, paged by cursor on our own base
        URL: a `next` link Meta gives is never followed). No business account id: not asked."""
        number = self._read(f"/{_segment(self.phone_number_id)}", {"fields": SENDER_FIELDS},
                            what=f"phone number id {self.phone_number_id}")
        status = str(number.get("code_verification_status") or "")
        return SenderCheck(
            display_phone_number=str(number.get("display_phone_number") or "")[:20],
            verified_name=str(number.get("verified_name") or "")[:200],
            quality_rating=str(number.get("quality_rating") or "")[:20],
            verified=status == VERIFIED, verification_status=status,
            in_business_account=self._in_business_account(business_account_id) if business_account_id else False,
        )

    def _in_business_account(self, business_account_id: str) -> bool:
        after = ""
        for _ in range(ACCOUNT_PAGES):
            params = {"fields": "id", "limit": "100", **({"after": after} if after else {})}
            page = self._read(f"/{_segment(business_account_id)}/phone_numbers", params,
                              what=f"WhatsApp Business Account {business_account_id}")
            items = page.get("data") if isinstance(page.get("data"), list) else []
            if any(isinstance(item, dict) and str(item.get("id")) == self.phone_number_id for item in items):
                return True
            paging = page.get("paging") if isinstance(page.get("paging"), dict) else {}
            after = str((paging.get("cursors") or {}).get("after") or "")
            if not paging.get("next") or not after:
                return False
        return False

    def _read(self, path: str, params: dict, *, what: str) -> dict:
        """A GET of the Graph API, its errors in words about `what` was read."""
        try:
            response = self.session.get(self.base + path, params=params, timeout=settings.WHATSAPP_HTTP_TIMEOUT)
        except requests.RequestException:
            raise ProviderError("WhatsApp could not be reached; try again shortly.", permanent=False) from None
        if response.status_code >= 400:
            error = _error(response)
            if error.code == INVALID_TOKEN:
                raise CredentialsRejected("Meta refused the access token: it has expired, was revoked or was not "
                                          "copied whole. Create a new one (a System User's token does not expire) "
                                          "and enter it here.", code=error.code)
            if error.code in NO_PERMISSION:
                raise ProviderError(f"The access token may not read {what}: give its app the "
                                    "whatsapp_business_management permission on that account.", permanent=True,
                                    code=error.code)
            if error.permanent:
                raise ProviderError(f"Meta has no {what} that this access token can read: check the id.",
                                    permanent=True, code=error.code)
            raise error
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ProviderError("WhatsApp answered something unreadable; try again shortly.", permanent=False)
        return body

    # Webhooks --------------------------------------------------------------------------------------

    @classmethod
    def subscription(cls, query: Mapping[str, str]) -> tuple[str, str] | None:
        if query.get("hub.mode") != "subscribe":
            return None
        return query.get("hub.verify_token") or "", query.get("hub.challenge", "")

    @classmethod
    def webhook_verified(cls, request: WebhookRequest, secret: str, *, method: str = "") -> bool:
        """X-Hub-Signature-256: HMAC-SHA256 of the body as sent, with the app's secret."""
        if not secret:
            return False
        # Compared as bytes: compare_digest refuses str with non-ASCII characters, which a header may carry.
        given = request.headers.get("X-Hub-Signature-256", "").encode("utf-8", "surrogateescape")
        expected = b"sha256=" + hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest().encode()
        return hmac.compare_digest(given, expected)

    @classmethod
    def webhook_lines(cls, payload) -> set[str]:
        try:
            return {change["value"]["metadata"]["phone_number_id"]
                    for entry in payload.get("entry", []) for change in entry.get("changes", [])}
        except (KeyError, TypeError, AttributeError):
            raise BadWebhook("Not a WhatsApp webhook payload.") from None

    @classmethod
    def webhook_notifications(cls, payload) -> Iterator[Notification]:
        for entry in payload.get("entry", []):
            for change in entry.get("changes", []):
                value = change.get("value", {})
                yield Notification(line=value["metadata"]["phone_number_id"], messages=_messages(value),
                                   statuses=[cls._status(status) for status in value.get("statuses", [])])

    @classmethod
    def _status(cls, status: dict) -> StatusUpdate:
        error = (status.get("errors") or [{}])[0]
        code = str(error.get("code", "") or "")
        details = (error.get("error_data") or {}).get("details", "") or error.get("title", "")
        return StatusUpdate(provider_sid=status.get("id", ""), status=STATUSES.get(status.get("status", ""), ""),
                            error_code=code, error_message=cls.readable_error(code, details) if code else details)

    # Sending and media -------------------------------------------------------------------------------

    def _post(self, path: str, payload: dict) -> dict:
        try:
            response = self.session.post(self.base + path, json=payload, timeout=settings.WHATSAPP_HTTP_TIMEOUT)
        except requests.RequestException:
            raise ProviderError("WhatsApp could not be reached; try again shortly.", permanent=False) from None
        if response.status_code >= 400:
            raise _error(response)
        return response.json()

    def send(self, *, sender: str, to: str, channel: str, body: str, media: Sequence[OutboundMedia],
             status_callback: str, template: TemplateSend | None = None) -> SendResult:
        """One message per send: a template with its values, or the first attachment, with the body as
        its caption where Meta takes one (Meta reports statuses to the app's webhook, not to a
        callback per message)."""
        recipient = to.lstrip("+")
        if template is not None:
            payload = {"messaging_product": "whatsapp", "to": recipient, "type": "template",
                       "template": template_payload(template)}
        elif media:
            kind = media_kind(media[0])
            content = {"link": media[0].url}
            if kind == "document":
                content["filename"] = _filename(media[0])
            if body and kind in ("image", "video", "document"):
                content["caption"] = body
            payload = {"messaging_product": "whatsapp", "to": recipient, "type": kind, kind: content}
        else:
            payload = {"messaging_product": "whatsapp", "to": recipient, "type": "text", "text": {"body": body}}
        answer = self._post(f"/{self.phone_number_id}/messages", payload)
        return SendResult(sid=answer["messages"][0]["id"], status="queued")

    def _get(self, path: str, params: dict) -> dict:
        try:
            response = self.session.get(self.base + path, params=params, timeout=settings.WHATSAPP_HTTP_TIMEOUT)
        except requests.RequestException:
            raise ProviderError("WhatsApp could not be reached; try again shortly.", permanent=False) from None
        if response.status_code >= 400:
            raise _error(response)
        try:
            return response.json()
        except ValueError:
            raise ProviderError("WhatsApp answered with something that is not JSON.", permanent=False) from None

    def templates(self, business_account_id: str) -> Iterator[TemplateInfo]:
        """Every message template of the business account, page after page. The next page is asked
        for by its cursor at our configured Graph address: a `next` link from the answer is never
        followed with the token."""
        if not re.fullmatch(r"[0-9]{1,30}", business_account_id or ""):
            raise ProviderError("The WhatsApp Business Account id is missing or not a number: set it on the "
                                "sender to read its templates.", permanent=True)
        after = ""
        for _ in range(TEMPLATES_MAX_PAGES):
            params = {"fields": TEMPLATE_FIELDS, "limit": TEMPLATES_PAGE, **({"after": after} if after else {})}
            answer = self._get(f"/{business_account_id}/message_templates", params)
            for item in answer.get("data") or []:
                if isinstance(item, dict) and item.get("id") and item.get("name"):
                    yield template_from_graph(item)
            paging = answer.get("paging") or {}
            after = str((paging.get("cursors") or {}).get("after") or "")
            if not paging.get("next") or not after:
                return

    def media_fetch(self, item: dict) -> Fetched:
        if not item.get("media_id"):
            raise ProviderError("No such attachment.", permanent=True, gone=True)
        return fetch_media(self._media_request(item["media_id"]))

    def _media_url(self, media_id: str) -> str:
        """Where to download an inbound media item (Graph gives a short-lived address)."""
        try:
            response = self.session.get(f"{self.base}/{media_id}", timeout=settings.WHATSAPP_HTTP_TIMEOUT)
        except requests.RequestException:
            raise ProviderError("The attachment could not be fetched from the provider.", permanent=False) from None
        if response.status_code >= 400:
            error = _error(response)
            if error.gone or error.code == NO_SUCH_OBJECT:
                raise ProviderError("The provider no longer has this attachment.", permanent=True, gone=True,
                                    code=error.code)
            raise ProviderError("The attachment could not be fetched from the provider.", permanent=error.permanent,
                                code=error.code)
        try:
            return response.json().get("url")
        except (ValueError, AttributeError):
            raise ProviderError("The attachment could not be fetched from the provider.", permanent=False) from None

    def _media_request(self, media_id: str) -> MediaRequest:
        """How to download an inbound media item: the token goes only to the Graph API's configured
        host and Meta's media hosts (WHATSAPP_MEDIA_ORIGINS); a download URL anywhere else is refused."""
        url = self._media_url(media_id)
        origins = frozenset({origin_of(settings.WHATSAPP_GRAPH_BASE_URL)}
                            | {origin_of(o) for o in settings.WHATSAPP_MEDIA_ORIGINS})
        try:
            known = isinstance(url, str) and origin_of(url) in origins
        except FetchRefused:
            known = False
        if not known:
            raise ProviderError("WhatsApp gave a media address outside its own hosts.", permanent=True)
        return MediaRequest(url=url, trusted_origins=origins,
                            credentials={"Authorization": f"Bearer {self._access_token}"})


def _segment(graph_id: str) -> str:
    """An id as one path segment of a Graph URL: whatever it holds, it cannot reach another path."""
    return quote(graph_id, safe="").replace(".", "%2E")


def _messages(value: dict) -> list[Inbound]:
    """The customers' messages of one change, as ours."""
    profiles = {c.get("wa_id"): (c.get("profile") or {}).get("name", "") for c in value.get("contacts", [])}
    found = []
    for item in value.get("messages", []):
        sender_id = item.get("from")
        if not sender_id:
            continue  # username-only users: no number to answer (logged, nothing stored)
        kind = item.get("type", "text")
        body, media = "", []
        if kind == "text":
            body = (item.get("text") or {}).get("body", "")
        elif kind in MEDIA_TYPES:
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
        found.append(Inbound(provider_sid=item["id"], sender="+" + sender_id, body=body, channel=Channel.WHATSAPP,
                             media=media, profile_name=profiles.get(sender_id, ""), wa_id=sender_id))
    return found


def template_payload(template: TemplateSend) -> dict:
    """The `template` object of a send: its name, language and the value of each variable, by
    component (named variables carry their names)."""
    components = []
    for component in ("header", "body"):
        parameters = []
        for parameter in template.parameters:
            if parameter.component != component:
                continue
            value = {"type": "text", "text": template.values.get(parameter.name, "")}
            if template.parameter_format == "named":
                value["parameter_name"] = parameter.name
            parameters.append(value)
        if parameters:
            components.append({"type": component, "parameters": parameters})
    payload: dict = {"name": template.name, "language": {"code": template.language}}
    if components:
        payload["components"] = components
    return payload


def media_kind(item: OutboundMedia) -> str:
    """What Meta is to send a file as: an image, a video or an audio by its type, anything else a
    document. A URL given without a type is read by its extension, and taken for a picture when it
    has none (as MMS mostly are)."""
    content_type = item.content_type or mimetypes.guess_type(urlsplit(item.url).path)[0] or "image/"
    major = content_type.split("/")[0].strip().lower()
    return major if major in ("image", "video", "audio") else "document"


def _filename(item: OutboundMedia) -> str:
    """The name a document arrives under: the URL's own file name when it has a known extension,
    else "attachment" with the extension of its type (our upload links name no file)."""
    name = unquote(urlsplit(item.url).path.rsplit("/", 1)[-1])
    if name and mimetypes.guess_type(name)[0]:
        return name
    content_type = item.content_type.split(";")[0].strip().lower()
    extension = mimetypes.guess_extension(content_type) if content_type else None
    return "attachment" + (extension or "")


def _error(response: requests.Response) -> ProviderError:
    try:
        error = response.json().get("error", {})
    except ValueError:
        error = {}
    code = error.get("code")
    details = (error.get("error_data") or {}).get("details") or error.get("message") or response.reason
    permanent = response.status_code < 500 and code not in TRANSIENT_CODES
    return ProviderError(WhatsAppCloud.readable_error(code, f"WhatsApp: {details}"), permanent=permanent, code=code,
                         gone=response.status_code in (404, 410))
