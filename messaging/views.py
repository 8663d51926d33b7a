"""HTML-side views of `messaging` (the inbox itself is its own issue)."""

from __future__ import annotations

import requests
from django.conf import settings
from django.http import Http404, HttpRequest, StreamingHttpResponse
from django.views.decorators.http import require_GET

from . import selectors
from .providers.base import ProviderError
from .providers.whatsapp_cloud import WhatsAppCloud


@require_GET
def message_media(request: HttpRequest, org_slug: str, message_id, index: int):
    """Stream a message's attachment to a member of the organization. Twilio's media URLs need the
    account's credentials and WhatsApp's a bearer token: they stay here, never in the browser."""
    message = selectors.get_message_for_org(request.organization, message_id)
    if index >= len(message.media):
        raise Http404("No such attachment.")
    item = message.media[index]
    conversation = message.conversation
    try:
        if conversation.whatsapp_sender_id and item.get("media_id"):
            sender = conversation.whatsapp_sender
            client = WhatsAppCloud(phone_number_id=sender.phone_number_id, access_token=sender.access_token or "")
            url, _ = client.media_url(item["media_id"])
            upstream = client.session.get(url, stream=True, timeout=settings.WHATSAPP_HTTP_TIMEOUT)
        else:
            account = conversation.phone_number.provider_account
            url = item.get("url", "")
            if settings.TWILIO_API_BASE_URL != "https://api.twilio.com" and url.startswith("https://api.twilio.com"):
                url = settings.TWILIO_API_BASE_URL + url[len("https://api.twilio.com"):]
            upstream = requests.get(url, auth=(account.account_sid, account.auth_token or ""), stream=True,
                                    timeout=settings.TWILIO_HTTP_TIMEOUT)
    except (requests.RequestException, ProviderError):
        raise Http404("The attachment could not be fetched from the provider.") from None
    if upstream.status_code != 200:
        upstream.close()
        raise Http404("The provider no longer has this attachment.")
    response = StreamingHttpResponse(upstream.iter_content(64 * 1024),
                                     content_type=upstream.headers.get("Content-Type", "application/octet-stream"))
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = "inline" if response["Content-Type"].startswith("image/") else "attachment"
    return response
