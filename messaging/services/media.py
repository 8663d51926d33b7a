"""Media customers sent us, kept at the provider and fetched with the tenant's credentials on
behalf of a member (the inbox's media view).

Only inbound media is served: outbound media are files we host or URLs an agent gave, and fetching
those with the organization's credentials is exactly what must never happen. The conversation's
adapter fetches the item (it knows where its vendor keeps media, and its credentials go there only,
through core.safe_http, which checks everything else and caps size and time); here are the rules of
what is served and how.
"""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass

from core import safe_http
from messaging.models import Direction, Message
from messaging.providers import for_conversation
from messaging.providers.base import ProviderError

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
    try:
        fetched = for_conversation(message.conversation).media_fetch(item)
    except ProviderError as exc:
        if exc.gone:
            raise MediaUnavailable(exc.message) from None
        raise MediaRefused(exc.message) from None
    declared = fetched.content_type or item.get("content_type", "")
    content_type, inline = served_type(declared)
    extension = ""
    original = declared.split(";")[0].strip().lower()
    if _MEDIA_TYPE.match(original):
        extension = mimetypes.guess_extension(original) or ""
    return Media(content_type=content_type, inline=inline, filename=f"attachment-{index + 1}{extension}",
                 fetched=fetched)
