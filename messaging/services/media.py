"""Media customers sent us, kept at the provider and fetched with the tenant's credentials on
behalf of a member (the inbox's media view).

Only inbound media is served: outbound media are files we host or URLs an agent gave, and fetching
those with the organization's credentials is exactly what must never happen. The adapter says where
the vendor keeps its media (configuration, never input) and the credentials go there only;
core.safe_http checks everything else (the stored URL's host, redirects) and caps size and time.
"""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass

import requests

from core import safe_http
from messaging.models import Direction, Message
from messaging.providers import twilio
from messaging.providers.base import ProviderError
from messaging.providers.whatsapp_cloud import WhatsAppCloud

# Shown in the page (inline): raster images, audio and video a browser plays. Anything else (SVG,
# HTML, scripts, PDFs, unknown types) is a download, so nothing from a customer runs as our origin.
INLINE_TYPES = frozenset({
    "image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp", "image/avif",
    "audio/mpeg", "audio/ogg", "audio/aac", "audio/mp4", "audio/amr", "audio/wav", "audio/webm",
    "video/mp4", "video/3gpp", "video/webm", "video/quicktime",
})
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")


class MediaUnavailable(Exception):
    """The attachment does not exist, or the provider no longer gives it out (a 404 for the member)."""


class MediaRefused(Exception):
    """The attachment exists but is not served: not at the vendor, too large, too slow (a 502)."""


@dataclass
class Media:
    """What the member is served: the body, the type it is served as, and whether it shows inline."""

    content_type: str
    inline: bool
    filename: str
    fetched: safe_http.Fetched


def served_type(declared: str) -> tuple[str, bool]:
    """The Content-Type we answer with and whether it may show inline. Only allow-listed types are
    kept; everything else is served as an opaque download, which no browser renders or runs as a
    script or a style sheet (with nosniff)."""
    media_type = (declared or "").split(";")[0].strip().lower()
    if media_type in INLINE_TYPES:
        return media_type, True
    return "application/octet-stream", False


def media_open(*, message: Message, index: int) -> Media:
    """Fetch one inbound attachment for a member. The caller closes ``Media.fetched``."""
    if message.direction != Direction.INBOUND or not 0 <= index < len(message.media):
        raise MediaUnavailable("No such attachment.")
    item = message.media[index]
    conversation = message.conversation
    try:
        if conversation.whatsapp_sender_id:
            if not item.get("media_id"):
                raise MediaUnavailable("No such attachment.")
            sender = conversation.whatsapp_sender
            client = WhatsAppCloud(phone_number_id=sender.phone_number_id, access_token=sender.access_token or "")
            how = client.media_request(item["media_id"])
        else:
            account = conversation.phone_number.provider_account
            how = twilio.media_request(url=item.get("url", ""), account_sid=account.account_sid,
                                       auth_token=account.auth_token or "")
        fetched = safe_http.fetch(how.url, trusted_origins=how.trusted_origins, credentials=how.credentials)
    except ProviderError as exc:
        if exc.permanent and exc.code is None and not exc.gone:  # refused by the adapter before any request
            raise MediaRefused(exc.message) from None
        raise MediaUnavailable("The attachment could not be fetched from the provider.") from None
    except requests.RequestException:
        raise MediaUnavailable("The attachment could not be fetched from the provider.") from None
    except safe_http.FetchFailed as exc:
        if exc.status in (404, 410):
            raise MediaUnavailable("The provider no longer has this attachment.") from None
        raise MediaRefused("The attachment could not be fetched from the provider.") from None
    except safe_http.FetchRefused as exc:
        raise MediaRefused(f"The attachment is not served: {exc}") from None
    declared = fetched.content_type or item.get("content_type", "")
    content_type, inline = served_type(declared)
    extension = ""
    original = declared.split(";")[0].strip().lower()
    if _MEDIA_TYPE.match(original):
        extension = mimetypes.guess_extension(original) or ""
    return Media(content_type=content_type, inline=inline, filename=f"attachment-{index + 1}{extension}",
                 fetched=fetched)
