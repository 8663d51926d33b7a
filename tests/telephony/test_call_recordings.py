"""Recordings and voicemails, played through our server: fetched from Twilio (the HTTP fake, which
checks the account's Basic credentials) with the organization's credentials, which go to Twilio's
own host and nowhere else. Other hosts are local listeners that record what they receive; 127.0.0.2
stands for a public host where a test says so (SAFE_FETCH_ALLOWED_NETWORKS)."""

from __future__ import annotations

import base64

import pytest
from django.test import Client

from softphone.simulator import twilio_webhooks as tw
from telephony.models import Call, Provider
from telephony.providers import ProviderError
from telephony.providers.twilio_voice import TwilioVoice
from tenants.scoping import tenant_scope
from tests.fakes.listener import Listener
from tests.telephony.test_call_log import CUSTOMER, OUR_NUMBER, make_call
from tests.telephony.test_voice_routing import post
from tests.vendor_fixtures import ACME_SID, ACME_TOKEN, GLOBEX_SID

pytestmark = pytest.mark.django_db

MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" * 400


@pytest.fixture
def cdn(settings):
    """Twilio's storage: another host, standing for a public one."""
    server = Listener("127.0.0.2")
    settings.SAFE_FETCH_ALLOWED_NETWORKS = ["127.0.0.2/32"]
    yield server
    server.stop()


@pytest.fixture
def listener():
    """A server on a private address (an internal service, or an attacker's listener)."""
    server = Listener("127.0.0.1")
    yield server
    server.stop()


def voicemail_of(org, number, recording_url: str, **fields) -> Call:
    return make_call(org, number, answered=False, status="no-answer", voicemail=True,
                     recording_sid=recording_url.rstrip("/").rsplit("/", 1)[1][:64], recording_url=recording_url,
                     recording_duration=4, **fields)


def recording_requests(twilio) -> list:
    return [r for r in twilio.requests if "/Recordings/" in r.path]


def listen(client, org, call):
    return client.get(f"/o/{org.slug}/calls/{call.pk}/recording/")


def test_a_voicemail_left_through_the_webhooks_plays_from_twilio_with_the_accounts_credentials(
        agent_client, org, our_number, twilio):
    """The whole way: Twilio's webhooks store the RecordingUrl, the page plays it through us."""
    url = twilio.add_recording(ACME_SID, MP3)
    params = tw.incoming_call(account_sid=ACME_SID, to=OUR_NUMBER, from_=CUSTOMER)
    post("/webhooks/twilio/voice/inbound/", params)
    action = tw.recording(account_sid=ACME_SID, call_sid=params["CallSid"], recording_sid=url.rsplit("/", 1)[1],
                          duration=4, action=True)
    assert action["RecordingUrl"] == url
    post("/webhooks/twilio/voice/voicemail/", action)
    with tenant_scope(org):
        call = Call.objects.get(provider_sid=params["CallSid"])

    response = listen(agent_client, org, call)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == MP3
    assert response["Content-Type"] == "audio/mpeg"
    assert response["Content-Disposition"].startswith('inline; filename="voicemail-')
    assert response["Content-Disposition"].endswith('.mp3"')
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert response["Cache-Control"] == "private, max-age=3600"
    # Twilio was asked for the MP3 of that recording, authenticated as Acme's account.
    [fetch] = recording_requests(twilio)
    assert fetch.path == f"/2010-04-01/Accounts/{ACME_SID}/Recordings/{url.rsplit('/', 1)[1]}.mp3"
    assert fetch.account_sid == ACME_SID


def test_twilios_redirect_to_its_storage_is_followed_without_the_credentials(agent_client, org, our_number,
                                                                             twilio, cdn):
    stored = cdn.serve("/recordings/abc.mp3", MP3, "audio/mpeg")
    call = voicemail_of(org, our_number, twilio.add_recording(ACME_SID, b"", redirect=stored))
    response = listen(agent_client, org, call)
    assert response.status_code == 200 and b"".join(response.streaming_content) == MP3
    assert [r.account_sid for r in recording_requests(twilio)] == [ACME_SID]
    assert [s.path for s in cdn.seen] == ["/recordings/abc.mp3"]
    assert cdn.authorizations() == []


def test_a_recording_url_that_is_not_twilios_is_refused_and_never_requested(agent_client, org, our_number,
                                                                            twilio, listener, cdn):
    """A stored RecordingUrl on another host (private or public), over plain http, of another
    account, or malformed: nothing is fetched, and so no credential leaves."""
    for url in (listener.serve("/2010-04-01/Accounts/" + ACME_SID + "/Recordings/RE" + "1" * 32, MP3, "audio/mpeg"),
                cdn.serve("/2010-04-01/Accounts/" + ACME_SID + "/Recordings/RE" + "2" * 32, MP3, "audio/mpeg"),
                f"http://api.twilio.com/2010-04-01/Accounts/{ACME_SID}/Recordings/RE{'3' * 32}",
                f"https://api.twilio.com.evil.example/2010-04-01/Accounts/{ACME_SID}/Recordings/RE{'4' * 32}",
                f"https://api.twilio.com@evil.example/2010-04-01/Accounts/{ACME_SID}/Recordings/RE{'4' * 32}",
                twilio.add_recording(GLOBEX_SID, MP3),
                f"https://api.twilio.com/2010-04-01/Accounts/{ACME_SID}/Messages/MM{'5' * 32}",
                f"https://api.twilio.com/2010-04-01/Accounts/{ACME_SID}/Recordings/RE{'6' * 32}?x=/../",
                "https://[::1", "https://api.twilio.com:99999/"):
        call = voicemail_of(org, our_number, url)
        response = listen(agent_client, org, call)
        assert response.status_code == 502, url
        assert "not one of the account's recordings at Twilio" in response.content.decode()
        assert MP3 not in response.content
    assert listener.seen == [] and cdn.seen == []
    assert recording_requests(twilio) == []


def test_the_adapter_sends_credentials_only_for_the_accounts_own_recordings(twilio, listener):
    voice = TwilioVoice(account_sid=ACME_SID, auth_token=ACME_TOKEN)
    own = twilio.add_recording(ACME_SID, MP3)
    fetched = voice.recording_fetch(own)
    try:
        assert fetched.file.read() == MP3 and fetched.content_type == "audio/mpeg"
    finally:
        fetched.close()
    theirs = twilio.add_recording(GLOBEX_SID, MP3)
    for url in (theirs, listener.base_url + "/x", "", None, 42):
        with pytest.raises(ProviderError) as refused:
            voice.recording_fetch(url)
        assert refused.value.permanent and ACME_TOKEN not in str(refused.value)
    assert listener.seen == []
    assert len(recording_requests(twilio)) == 1
    # With the wrong credentials, Twilio says no, and the error says nothing of them.
    with pytest.raises(ProviderError) as denied:
        TwilioVoice(account_sid=ACME_SID, auth_token="not-the-token").recording_fetch(own)
    assert not denied.value.permanent and "not-the-token" not in str(denied.value)


def test_an_api_under_a_path_serves_recordings_under_that_path_only(twilio, listener, settings):
    """TWILIO_API_BASE_URL with a path (the built-in simulator's /simulator/twilio): Twilio's
    RecordingUrl (on api.twilio.com) is fetched under that path, a URL on the same host outside it is
    refused before any request."""
    prefixed = listener.serve(f"/simulator/twilio/2010-04-01/Accounts/{ACME_SID}/Recordings/RE{'7' * 32}.mp3",
                              MP3, "audio/mpeg")
    settings.TWILIO_API_BASE_URL = listener.base_url + "/simulator/twilio"
    voice = TwilioVoice(account_sid=ACME_SID, auth_token=ACME_TOKEN)
    fetched = voice.recording_fetch(f"https://api.twilio.com/2010-04-01/Accounts/{ACME_SID}/Recordings/RE{'7' * 32}")
    try:
        assert fetched.file.read() == MP3
    finally:
        fetched.close()
    assert [s.path for s in listener.seen] == [prefixed.removeprefix(listener.base_url)]
    assert listener.authorizations() == ["Basic " + base64.b64encode(f"{ACME_SID}:{ACME_TOKEN}".encode()).decode()]
    for outside in (f"{listener.base_url}/2010-04-01/Accounts/{ACME_SID}/Recordings/RE{'8' * 32}",
                    f"{listener.base_url}/simulator/twilioX/2010-04-01/Accounts/{ACME_SID}/Recordings/RE{'8' * 32}"):
        with pytest.raises(ProviderError):
            voice.recording_fetch(outside)
    assert len(listener.seen) == 1


def test_a_recording_twilio_no_longer_has_is_not_found(agent_client, org, our_number, twilio):
    url = twilio.add_recording(ACME_SID, MP3)
    call = voicemail_of(org, our_number, url)
    twilio.delete_recording(ACME_SID, url)
    response = listen(agent_client, org, call)
    assert response.status_code == 404
    assert response.content.decode() == "Twilio no longer has this recording."


def test_what_is_not_audio_is_not_served(agent_client, org, our_number, twilio, cdn):
    page = cdn.serve("/recordings/page.html", b"<script>alert(1)</script>", "text/html")
    call = voicemail_of(org, our_number, twilio.add_recording(ACME_SID, b"", redirect=page))
    response = listen(agent_client, org, call)
    assert response.status_code == 502
    assert response.content.decode() == "The provider did not send audio for this recording."
    assert response["Content-Type"] == "text/plain; charset=utf-8"


def test_a_call_without_a_recording_has_nothing_to_play(agent_client, org, our_number, twilio):
    call = make_call(org, our_number)
    response = listen(agent_client, org, call)
    assert response.status_code == 404 and response.content.decode() == "This call has no recording."
    assert recording_requests(twilio) == []


def test_an_ai_calls_recording_is_fetched_without_credentials_and_only_over_https(agent_client, org, our_number,
                                                                                twilio, cdn):
    url = cdn.serve("/vapi/recording.wav", b"RIFF....WAVE", "audio/wav")
    call = make_call(org, our_number, provider=Provider.VAPI, recording_url=url)
    response = listen(agent_client, org, call)
    assert response.status_code == 502
    assert "not an https:// one" in response.content.decode()
    assert cdn.seen == []


def test_only_members_of_the_organization_hear_it(outsider_client, org, other_org, our_number, twilio):
    call = voicemail_of(org, our_number, twilio.add_recording(ACME_SID, MP3))
    assert Client().get(f"/o/{org.slug}/calls/{call.pk}/recording/").status_code == 302  # to the login page
    assert outsider_client.get(f"/o/{org.slug}/calls/{call.pk}/recording/").status_code == 404
    assert outsider_client.get(f"/o/{other_org.slug}/calls/{call.pk}/recording/").status_code == 404
    assert recording_requests(twilio) == []
