"""HTML-side views of `messaging` (the inbox itself is its own issue)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, StreamingHttpResponse
from django.views.decorators.http import require_GET

from . import selectors
from .services import media


@require_GET
def message_media(request: HttpRequest, org_slug: str, message_id, index: int):
    """Stream a message's attachment to a member of the organization. Twilio's media URLs need the
    account's credentials and WhatsApp's a bearer token: they stay here, never in the browser."""
    message = selectors.get_message_for_org(request.organization, message_id)
    try:
        upstream = media.media_open(message=message, index=index)
    except media.MediaUnavailable as exc:
        raise Http404(str(exc)) from None
    response = StreamingHttpResponse(upstream.iter_content(64 * 1024),
                                     content_type=upstream.headers.get("Content-Type", "application/octet-stream"))
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = "inline" if response["Content-Type"].startswith("image/") else "attachment"
    return response
