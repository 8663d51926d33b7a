"""Call recordings and voicemails, fetched from the carrier for a member of the organization (the
call's page and the conversation timeline play them through our server, never from the vendor).

Twilio keeps recordings behind the account's credentials: the adapter fetches them from Twilio's own
host only (TwilioVoice.recording_fetch). VAPI's reports carry a public link to their storage: it is
fetched without any credential, from public addresses only (core.safe_http). Only audio is served.
"""

from __future__ import annotations

from dataclasses import dataclass

from core import safe_http
from telephony.models import Call, Provider
from telephony.providers import ProviderError, voice_for_account

# What a browser's <audio> plays, and the extension the file is saved with.
AUDIO_TYPES = {
    "audio/mpeg": ".mp3", "audio/mp3": ".mp3", "audio/wav": ".wav", "audio/x-wav": ".wav", "audio/wave": ".wav",
    "audio/mp4": ".m4a", "audio/aac": ".aac", "audio/ogg": ".ogg", "audio/webm": ".webm",
}


class RecordingUnavailable(Exception):
    """The call has no recording, or the vendor no longer has it (a 404 for the member)."""


class RecordingRefused(Exception):
    """The recording exists but is not served: not at the vendor's, not audio, too large (a 502)."""


@dataclass
class Recording:
    content_type: str
    filename: str
    fetched: safe_http.Fetched


def recording_open(*, call: Call) -> Recording:
    """Fetch the call's recording (its voicemail, for a missed call). The caller closes
    ``Recording.fetched``."""
    if not call.recording_url:
        raise RecordingUnavailable("This call has no recording.")
    try:
        fetched = _fetch(call)
    except ProviderError as exc:
        if exc.gone:
            raise RecordingUnavailable(exc.message) from None
        raise RecordingRefused(exc.message) from None
    content_type = (fetched.content_type or "").split(";")[0].strip().lower()
    extension = AUDIO_TYPES.get(content_type)
    if extension is None:
        fetched.close()
        raise RecordingRefused("The provider did not send audio for this recording.")
    name = "voicemail" if call.voicemail else "recording"
    return Recording(content_type=content_type, filename=f"{name}-{call.created_at:%Y%m%d-%H%M}{extension}",
                     fetched=fetched)


def _fetch(call: Call) -> safe_http.Fetched:
    if call.provider == Provider.VAPI:
        return _public(call.recording_url)
    number = call.phone_number
    if number is None:
        raise RecordingUnavailable("The number this call was on is no longer connected, so its recording "
                                   "cannot be fetched.")
    return voice_for_account(number.provider_account).recording_fetch(call.recording_url)


def _public(url: str) -> safe_http.Fetched:
    try:
        if safe_http.origin_of(url).split("://")[0] != "https":
            raise ProviderError("The recording's address is not an https:// one.", permanent=True)
        return safe_http.fetch(url)
    except safe_http.FetchFailed as exc:
        if exc.status in (403, 404, 410):
            raise ProviderError("The provider no longer has this recording.", permanent=True, gone=True) from None
        raise ProviderError("The recording could not be fetched from the provider.", permanent=False) from None
    except safe_http.FetchRefused as exc:
        raise ProviderError(f"The recording is not served: {exc}", permanent=True) from None
