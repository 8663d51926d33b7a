"""The webhook-URL contract: the addresses a provider calls for each number we configure, and how
to tell when what the provider has differs from them (drift)."""

from __future__ import annotations

import secrets

from django.conf import settings

from telephony.models import PhoneNumber, ProviderAccount, WebhookMode
from telephony.providers.base import IncomingNumber, WebhookUrls

# The addresses Twilio calls. They are a contract with every number we configure, so they are fixed
# here rather than derived from the URL configuration.
# A number's `status_callback` is where Twilio reports the progress of calls to it; each message we
# send names its own status callback (MESSAGE_STATUS_PATH).
WEBHOOK_PATHS = {
    "sms_url": "/webhooks/twilio/messages/",
    "status_callback": "/webhooks/twilio/voice/status/",
    "voice_url": "/webhooks/twilio/voice/inbound/",
}
MESSAGE_STATUS_PATH = "/webhooks/twilio/messages/status/"


# The voice routes Twilio calls: the TwiML App's voice URL (a browser's outgoing call), what
# follows a <Dial>, voicemail, recordings, status callbacks of calls and conferences, hold music,
# and the call placed through the API (which rings the agent first). Fixed for the same reason.
VOICE_PATHS = {
    "inbound": "/webhooks/twilio/voice/inbound/",
    "outbound": "/webhooks/twilio/voice/outbound/",
    "status": "/webhooks/twilio/voice/status/",
    "after_dial": "/webhooks/twilio/voice/after-dial/",
    "voicemail": "/webhooks/twilio/voice/voicemail/",
    "recording": "/webhooks/twilio/voice/recording/",
    "conference": "/webhooks/twilio/voice/conference/",
    "hold_music": "/webhooks/twilio/voice/hold-music/",
    "connect": "/webhooks/twilio/voice/connect/",
}
# Where VAPI reports the calls of our numbers on it (each number's `server.url` there).
VAPI_PATH = "/webhooks/vapi/"


def voice_url(name: str) -> str:
    """The public address of one of the voice routes above."""
    return settings.PUBLIC_BASE_URL + VOICE_PATHS[name]


def vapi_url() -> str:
    """The public address VAPI sends a number's server messages (the end-of-call report) to."""
    return settings.PUBLIC_BASE_URL + VAPI_PATH


def new_webhook_secret() -> str:
    """A secret a voice-AI platform presents to our webhook: 32 random bytes, URL-safe."""
    return secrets.token_urlsafe(32)


def message_status_url() -> str:
    return settings.PUBLIC_BASE_URL + MESSAGE_STATUS_PATH


def webhook_urls() -> WebhookUrls:
    base = settings.PUBLIC_BASE_URL
    return WebhookUrls(**{name: base + path for name, path in WEBHOOK_PATHS.items()})


def takes_voice(number: PhoneNumber) -> bool:
    """A number on a voice-AI platform has the platform's voice URL; we own only its SMS and status
    URLs then."""
    return not number.platform_id


def outdated_ours(number: PhoneNumber, remote: IncomingNumber, account: ProviderAccount) -> bool:
    """The provider has exactly what we last set on this number, but that is no longer our contract
    (a release moved a route: the number-level status callback became voice's). Not drift (nobody
    changed it behind our back): the number is configured again, without anyone having to press
    "Repair"."""
    if account.webhook_mode == WebhookMode.GLOBAL or not number.webhook_configured:
        return False
    ours = webhook_urls()
    pairs = [(remote.sms_url, number.sms_url, ours.sms_url),
             (remote.status_callback, number.status_callback_url, ours.status_callback)]
    if takes_voice(number):
        pairs.append((remote.voice_url, number.voice_url, ours.voice_url))
    return (all(there == last for there, last, _ in pairs)
            and any(last != now for _, last, now in pairs))


def drift_of(number: PhoneNumber, remote: IncomingNumber, account: ProviderAccount) -> str:
    """What the provider has that we did not set ('' when all is as we left it)."""
    if account.webhook_mode == WebhookMode.GLOBAL:
        return ""
    ours = webhook_urls()
    problems = []
    if remote.sms_url != ours.sms_url:
        problems.append(f"SMS URL is {remote.sms_url or 'empty'}")
    if remote.status_callback != ours.status_callback:
        problems.append(f"status callback is {remote.status_callback or 'empty'}")
    if takes_voice(number) and remote.voice_url != ours.voice_url:
        problems.append(f"voice URL is {remote.voice_url or 'empty'}")
    return "; ".join(problems)
