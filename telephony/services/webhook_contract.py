"""The webhook-URL contract: the addresses a provider calls for each number we configure, and how
to tell when what the provider has differs from them (drift)."""

from __future__ import annotations

import secrets

from django.conf import settings

from telephony import providers
from telephony.models import PhoneNumber, Provider, ProviderAccount, WebhookMode
from telephony.providers.base import AccountWebhooks, IncomingNumber, WebhookUrls

# The addresses the carriers call. They are a contract with every number we configure, so they are
# fixed here rather than derived from the URL configuration; messaging serves one pair per carrier
# that has a messaging adapter (messaging/urls.py), and a test holds the two together.
# Which of them a carrier's number carries is its adapter's business (`number_webhooks`): Twilio's
# carry all three (`status_callback` is where Twilio reports the progress of calls to the number),
# Vonage's only the inbound-message URL, Bandwidth's none (its messaging application has them).
# Each message we send names its own status callback (`message_status_url`).
MESSAGE_PATH = "/webhooks/{provider}/messages/"
MESSAGE_STATUS_PATH = "/webhooks/{provider}/messages/status/"


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


def message_url(provider: str) -> str:
    """Where `provider` delivers the messages our numbers receive."""
    return settings.PUBLIC_BASE_URL + MESSAGE_PATH.format(provider=provider)


def message_status_url(provider: str = Provider.TWILIO) -> str:
    """Where `provider` reports the progress of a message we sent."""
    return settings.PUBLIC_BASE_URL + MESSAGE_STATUS_PATH.format(provider=provider)


def webhook_urls(provider: str = Provider.TWILIO) -> WebhookUrls:
    """The URLs a number of `provider` is given ('' for those its numbers do not carry)."""
    carried = providers.adapter_class(provider).number_webhooks
    return WebhookUrls(
        sms_url=message_url(provider) if "sms_url" in carried else "",
        status_callback=voice_url("status") if "status_callback" in carried else "",
        voice_url=voice_url("inbound") if "voice_url" in carried else "",
    )


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
    ours = webhook_urls(account.provider)
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
    ours = webhook_urls(account.provider)
    problems = []
    if remote.sms_url != ours.sms_url:
        problems.append(f"SMS URL is {remote.sms_url or 'empty'}")
    if remote.status_callback != ours.status_callback:
        problems.append(f"status callback is {remote.status_callback or 'empty'}")
    if takes_voice(number) and remote.voice_url != ours.voice_url:
        problems.append(f"voice URL is {remote.voice_url or 'empty'}")
    return "; ".join(problems)


def account_webhooks_ours(account: ProviderAccount) -> AccountWebhooks:
    """What a carrier's messaging application should call (account-wide webhooks), and the callback
    credentials it presents: the account's own id as the user, our generated secret as the password."""
    return AccountWebhooks(inbound_url=message_url(account.provider), status_url=message_status_url(account.provider),
                           username=account.account_sid, password=account.webhook_secret or "")


def account_webhooks_drift(account: ProviderAccount, remote: AccountWebhooks) -> str:
    """What the carrier's application has that we did not set ('' when all is as we left it)."""
    if account.webhook_mode == WebhookMode.GLOBAL:
        return ""
    ours = account_webhooks_ours(account)
    problems = []
    if remote.inbound_url != ours.inbound_url:
        problems.append(f"inbound URL is {remote.inbound_url or 'empty'}")
    if remote.status_url != ours.status_url:
        problems.append(f"status URL is {remote.status_url or 'empty'}")
    if remote.username != ours.username:
        problems.append("callback credentials are not ours")
    return "; ".join(problems)
