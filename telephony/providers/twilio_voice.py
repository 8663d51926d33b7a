"""Twilio Voice: TwiML for our routing decisions, webhook signatures, the browser softphone's set-up
and tokens, and control of live calls (conferences for hold and transfer), with the real SDK.

Like the numbers adapter, it reaches Twilio only through `make_client` (the configured base URL,
timeouts, credentials to that one host).
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Mapping
from functools import cached_property
from urllib.parse import urlsplit

from django.conf import settings
from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import VoiceGrant
from twilio.twiml.voice_response import Client as ClientNoun
from twilio.twiml.voice_response import Conference as ConferenceNoun
from twilio.twiml.voice_response import Dial, VoiceResponse

from core import safe_http

from .twilio import TWILIO_HOST, call, make_client, signature_valid
from .voice import (
    Conference,
    Decision,
    DialNumber,
    Hangup,
    Music,
    ProviderError,
    Refuse,
    RingAgents,
    VoiceCarrier,
    Voicemail,
    VoiceSetup,
    VoiceSetupIncomplete,
)

logger = logging.getLogger(__name__)
# A recording as Twilio names it (RecordingUrl): the account's own, one RE… id, the media or resource
# extension at most. Nothing else is fetched with the account's credentials.
RECORDING_PATH = re.compile(
    r"/2010-04-01/Accounts/(?P<account>AC[0-9a-fA-F]{32})/Recordings/(?P<sid>RE[0-9a-fA-F]{32})(?:\.(?:mp3|wav|json))?")

TWIML = "text/xml"
VOICE = "Polly.Joanna"  # one clear voice for everything we say to callers
LEG_EVENTS = ["initiated", "ringing", "answered", "completed"]


# The inbound call's answers, written from fixed templates: the SDK's builder (an ElementTree per
# answer) took a quarter of the inbound webhook's own time, while callers arriving together hear
# silence until they are answered (docs/benchmarks.md, issue 15). Attributes in the SDK's order,
# escaped as ElementTree escapes them, so the bytes are the builder's; characters XML 1.0 cannot
# carry (controls from a contact's name) are dropped rather than making Twilio fail the call.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_HEAD = '<?xml version="1.0" encoding="UTF-8"?><Response>'
_CLIENT_EVENTS = "initiated ringing answered completed"


def _text(value) -> str:
    return _XML_INVALID.sub("", str(value)).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attr(value) -> str:
    return (_text(value).replace('"', "&quot;").replace("\r", "&#13;").replace("\n", "&#10;")
            .replace("\t", "&#09;"))


def _inbound_twiml(decision: RingAgents | Voicemail) -> str:
    if isinstance(decision, Voicemail):
        said = _text(decision.greeting_text)
        greeting = (f"<Play>{_text(decision.greeting_audio_url)}</Play>" if decision.greeting_audio_url
                    else f'<Say voice="{VOICE}">{said}</Say>' if said else f'<Say voice="{VOICE}" />')
        return (f'{_HEAD}{greeting}<Record action="{_attr(decision.record_action_url)}" '
                f'maxLength="{int(decision.max_length)}" method="POST" playBeep="true" '
                f'recordingStatusCallback="{_attr(decision.recording_status_url)}" '
                'recordingStatusCallbackEvent="completed" recordingStatusCallbackMethod="POST" /><Hangup /></Response>')
    caller_id = f' callerId="{_attr(decision.caller_id)}"' if decision.caller_id else ""
    parameters = "".join(f'<Parameter name="{_attr(name)}" value="{_attr(value)}" />'
                         for name, value in decision.parameters.items())
    clients = "".join(
        f'<Client statusCallback="{_attr(decision.status_url)}" statusCallbackEvent="{_CLIENT_EVENTS}" '
        f'statusCallbackMethod="POST"><Identity>{_text(identity)}</Identity>{parameters}</Client>'
        for identity in decision.identities[:10])  # Twilio rings at most ten clients at once
    return (f'{_HEAD}<Dial action="{_attr(decision.after_dial_url)}" answerOnBridge="true"{caller_id} method="POST" '
            f'timeout="{int(decision.timeout)}">{clients}</Dial></Response>')


class TwilioVoice(VoiceCarrier):
    name = "twilio"

    def __init__(self, *, account_sid: str, auth_token: str):
        self.account_sid = account_sid
        self._auth_token = auth_token

    @classmethod
    def for_account(cls, account) -> TwilioVoice:
        if not account.auth_token:
            raise ProviderError("The Twilio account has no auth token.", permanent=True)
        return cls(account_sid=account.account_sid, auth_token=account.auth_token)

    @cached_property
    def client(self):
        return make_client(self.account_sid, self._auth_token)

    def _call(self, fn, *args, **kwargs):
        return call(fn, *args, **kwargs)

    # Webhooks and TwiML ----------------------------------------------------------------------------

    @classmethod
    def webhook_verified(cls, *, url: str, form: Mapping[str, str], form_lists, signature: str, secret: str) -> bool:
        return signature_valid(url=url, form=form, form_lists=form_lists, given=signature, auth_token=secret)

    @classmethod
    def render(cls, decision: Decision) -> tuple[str, str]:
        if isinstance(decision, RingAgents | Voicemail):
            return _inbound_twiml(decision), TWIML
        return cls.render_with_sdk(decision), TWIML

    @classmethod
    def render_with_sdk(cls, decision: Decision) -> str:
        """TwiML built with the SDK's builder: every decision but the inbound call's two answers, which
        _inbound_twiml writes to the same bytes (tests/telephony/test_twiml.py compares them)."""
        response = VoiceResponse()
        if isinstance(decision, RingAgents):
            dial = Dial(timeout=decision.timeout, action=decision.after_dial_url, method="POST",
                        answer_on_bridge=True, **({"caller_id": decision.caller_id} if decision.caller_id else {}))
            for identity in decision.identities[:10]:  # Twilio rings at most ten clients at once
                client = ClientNoun(status_callback=decision.status_url, status_callback_method="POST",
                                    status_callback_event="initiated ringing answered completed")
                client.identity(identity)
                for name, value in decision.parameters.items():
                    client.parameter(name=name, value=value)
                dial.append(client)
            response.append(dial)
        elif isinstance(decision, DialNumber):
            options = {"action": decision.after_dial_url, "method": "POST"} if decision.after_dial_url else {}
            dial = Dial(caller_id=decision.caller_id, answer_on_bridge=True, timeout=decision.timeout, **options)
            dial.number(decision.number, status_callback=decision.status_url, status_callback_method="POST",
                        status_callback_event="initiated ringing answered completed")
            response.append(dial)
        elif isinstance(decision, Voicemail):
            if decision.greeting_audio_url:
                response.play(decision.greeting_audio_url)
            else:
                response.say(decision.greeting_text, voice=VOICE)
            response.record(max_length=decision.max_length, play_beep=True, action=decision.record_action_url,
                            method="POST", recording_status_callback=decision.recording_status_url,
                            recording_status_callback_method="POST", recording_status_callback_event="completed")
            response.hangup()
        elif isinstance(decision, Refuse):
            response.say(decision.message, voice=VOICE)
            response.hangup()
        elif isinstance(decision, Conference):
            dial = Dial()
            options = {"wait_url": decision.wait_url, "wait_method": "POST"} if decision.wait_url else {}
            dial.append(ConferenceNoun(
                decision.name, start_conference_on_enter=decision.start_on_enter,
                end_conference_on_exit=decision.end_on_exit, beep=False,
                status_callback=decision.status_url, status_callback_method="POST",
                status_callback_event="start end join leave hold", **options))
            response.append(dial)
        elif isinstance(decision, Music):
            if decision.message:
                response.say(decision.message, voice=VOICE)
            response.play(decision.url, loop=0)
        elif isinstance(decision, Hangup):
            if decision.message:
                response.say(decision.message, voice=VOICE)
            response.hangup()
        else:  # pragma: no cover - every decision type is rendered above
            raise TypeError(f"No TwiML for {type(decision).__name__}")
        return response.to_xml()

    # Browser softphone set-up (voice_provision, voice_deprovision, access_token) ---------------------

    def voice_provision(self, *, voice_url: str, status_url: str, friendly_name: str) -> VoiceSetup:
        """A TwiML App (Applications) whose voice URL is our outbound route, and a standard API key
        (Keys) whose secret Twilio shows in this one answer. Both are made with the auth token."""
        account = self.client.api.v2010.accounts(self.account_sid)
        name = friendly_name[:64]
        app = self._call(account.applications.create, friendly_name=name, voice_url=voice_url, voice_method="POST",
                         status_callback=status_url, status_callback_method="POST")
        try:
            key = self._call(account.new_keys.create, friendly_name=name)
            if not (key.sid and key.secret):  # without its secret the key can never sign a token
                self._delete_quietly(account.keys, key.sid)
                raise ProviderError("Twilio created the API key without showing its secret; try again.",
                                    permanent=False)
        except ProviderError as exc:
            if self._delete_quietly(account.applications, app.sid):
                raise
            raise VoiceSetupIncomplete(exc.message, permanent=exc.permanent, code=exc.code,
                                       twiml_app_sid=app.sid) from None
        return VoiceSetup(twiml_app_sid=app.sid, api_key_sid=key.sid, api_key_secret=key.secret)

    def voice_deprovision(self, *, twiml_app_sid: str, api_key_sid: str) -> None:
        """Delete the API key (tokens it signs stop working), then the TwiML App. What Twilio no longer
        has counts as deleted; both are tried before the first other failure is raised."""
        account = self.client.api.v2010.accounts(self.account_sid)
        failure = None
        for resource, sid in ((account.keys, api_key_sid), (account.applications, twiml_app_sid)):
            if not sid:
                continue
            try:
                self._call(resource(sid).delete)
            except ProviderError as exc:
                if not exc.gone:
                    failure = failure or exc
        if failure is not None:
            raise failure

    def _delete_quietly(self, resource, sid: str) -> bool:
        """Delete what a failed set-up had created; whether it is gone now."""
        try:
            self._call(resource(sid).delete)
        except ProviderError as exc:
            if not exc.gone:
                logger.warning("voice set-up: could not remove %s from Twilio account %s: %s", sid,
                               self.account_sid, exc)
                return False
        return True

    def access_token(self, *, api_key_sid: str, api_key_secret: str, twiml_app_sid: str, identity: str,
                     ttl: int) -> str:
        """A Voice access token (a JWT signed with the API key's secret, never the auth token): calls
        out through the TwiML App, incoming calls to `identity` allowed."""
        if not (api_key_sid and api_key_secret and twiml_app_sid):
            raise ProviderError("Voice is not set up on this Twilio account.", permanent=True)
        token = AccessToken(self.account_sid, api_key_sid, api_key_secret, identity=identity, ttl=ttl)
        token.add_grant(VoiceGrant(outgoing_application_sid=twiml_app_sid, incoming_allow=True))
        jwt = token.to_jwt()
        return jwt.decode() if isinstance(jwt, bytes) else jwt

    # Live calls (call_redirect, call_hangup, call_place, conference_*) -------------------------------

    def call_redirect(self, call_sid: str, decision: Decision) -> None:
        twiml, _ = self.render(decision)
        self._call(self.client.calls(call_sid).update, twiml=twiml)

    def call_hangup(self, call_sid: str) -> None:
        try:
            self._call(self.client.calls(call_sid).update, status="completed")
        except ProviderError as exc:
            if not (exc.gone or exc.code == 21220):  # gone, or no longer in progress: it is over already
                raise

    def call_place(self, *, from_number: str, to: str, url: str, status_url: str, timeout: int = 30) -> str:
        created = self._call(self.client.calls.create, to=to, from_=from_number, url=url, method="POST",
                             status_callback=status_url, status_callback_method="POST",
                             status_callback_event=LEG_EVENTS, timeout=timeout)
        return created.sid

    def conference_find(self, name: str) -> str:
        found = self._call(self.client.conferences.list, friendly_name=name, status="in-progress", limit=1)
        return found[0].sid if found else ""

    def conference_hold(self, *, conference_sid: str, call_sid: str, hold: bool, hold_url: str = "") -> None:
        options = {"hold_url": hold_url, "hold_method": "POST"} if hold and hold_url else {}
        self._call(self.client.conferences(conference_sid).participants(call_sid).update, hold=hold, **options)

    def conference_add(self, *, conference_sid: str, from_number: str, to: str, status_url: str,
                       timeout: int = 30) -> str:
        added = self._call(self.client.conferences(conference_sid).participants.create, from_=from_number, to=to,
                           status_callback=status_url, status_callback_method="POST",
                           status_callback_event=LEG_EVENTS, timeout=timeout, early_media=True,
                           start_conference_on_enter=True, end_conference_on_exit=False)
        return added.call_sid

    def conference_remove(self, *, conference_sid: str, call_sid: str) -> None:
        try:
            self._call(self.client.conferences(conference_sid).participants(call_sid).delete)
        except ProviderError as exc:
            if not exc.gone:
                raise

    # Recordings ------------------------------------------------------------------------------------

    def recording_fetch(self, recording_url: str) -> safe_http.Fetched:
        """The recording's audio as MP3 (RecordingUrl + ".mp3"), with the account's credentials.

        Those credentials go to Twilio's configured API host only, and only for one of this
        account's own recordings: a URL anywhere else, or another account's, is refused
        (ProviderError) before any connection. Twilio may answer with a redirect to its storage,
        which core.safe_http follows without the credentials, to public addresses only."""
        base = settings.TWILIO_API_BASE_URL.rstrip("/")
        url = recording_url if isinstance(recording_url, str) else ""
        if url.startswith(TWILIO_HOST + "/"):
            url = base + url[len(TWILIO_HOST):]
        try:
            trusted = safe_http.origin_of(base)
            parts = urlsplit(url)
            ours = (safe_http.origin_of(url) == trusted and not parts.query and not parts.fragment
                    and parts.username is None and parts.password is None)
        except (safe_http.FetchRefused, ValueError):
            ours = False
        # The API may live under a path (TWILIO_API_BASE_URL = https://host/prefix): the recording's
        # path is then the prefix's, followed by Twilio's own.
        prefix = urlsplit(base).path.rstrip("/")
        path = parts.path.removeprefix(prefix) if ours and parts.path.startswith(prefix + "/") else ""
        match = RECORDING_PATH.fullmatch(path)
        if match is None or match["account"] != self.account_sid:
            raise ProviderError("This recording is not one of the account's recordings at Twilio.", permanent=True)
        media_url = f"{base}/2010-04-01/Accounts/{self.account_sid}/Recordings/{match['sid']}.mp3"
        basic = base64.b64encode(f"{self.account_sid}:{self._auth_token}".encode()).decode()
        try:
            return safe_http.fetch(media_url, trusted_origins=frozenset({trusted}),
                                   credentials={"Authorization": f"Basic {basic}"})
        except safe_http.FetchFailed as exc:
            if exc.status in (404, 410):
                raise ProviderError("Twilio no longer has this recording.", permanent=True, gone=True) from None
            raise ProviderError("The recording could not be fetched from Twilio.", permanent=False) from None
        except safe_http.FetchRefused as exc:
            raise ProviderError(f"The recording is not served: {exc}", permanent=True) from None
