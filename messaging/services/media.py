"""Attachments kept at the provider, fetched with the tenant's credentials on behalf of a member."""

from __future__ import annotations

import requests
from django.conf import settings

from messaging.models import Message
from messaging.providers.base import ProviderError
from messaging.providers.whatsapp_cloud import WhatsAppCloud

TWILIO_HOST = "https://api.twilio.com"


class MediaUnavailable(Exception):
    """The attachment does not exist, or the provider no longer gives it out."""


def media_open(*, message: Message, index: int) -> requests.Response:
    """A streaming response for one attachment. Twilio's media URLs need the account's credentials
    and WhatsApp's a bearer token: they are used here and never reach the browser."""
    if index >= len(message.media):
        raise MediaUnavailable("No such attachment.")
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
            if url.startswith(TWILIO_HOST):  # follows TWILIO_API_BASE_URL, as the adapters do
                url = settings.TWILIO_API_BASE_URL.rstrip("/") + url[len(TWILIO_HOST):]
            upstream = requests.get(url, auth=(account.account_sid, account.auth_token or ""), stream=True,
                                    timeout=settings.TWILIO_HTTP_TIMEOUT)
    except (requests.RequestException, ProviderError):
        raise MediaUnavailable("The attachment could not be fetched from the provider.") from None
    if upstream.status_code != 200:
        upstream.close()
        raise MediaUnavailable("The provider no longer has this attachment.")
    return upstream
