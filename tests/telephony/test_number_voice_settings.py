"""A number's voice settings (ring timeout, voicemail greeting, a recorded greeting checked by its
content) and the organization's calling rules, as managers edit them in the pages; what callers
then get is read from the TwiML our webhooks answer."""

from __future__ import annotations

import io
import wave
import xml.etree.ElementTree as ET

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from softphone.simulator import twilio_webhooks as tw
from telephony.models import PhoneNumber, Provider, VoicePolicy
from telephony.services import calling_rules
from tenants import presence
from tenants.models import AuditEvent
from tenants.scoping import tenant_scope
from tests.vendor_fixtures import ACME_SID, ACME_TOKEN

pytestmark = pytest.mark.django_db

OUR_NUMBER = "+14155550142"
CUSTOMER = "+14155550199"
RULES = "/o/acme/calling-rules/"


def wav_bytes(seconds: float = 0.5) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x01" * int(8000 * seconds))
    return buffer.getvalue()


def mp3_bytes(frames: int = 20) -> bytes:
    """MPEG-1 layer III frames (128 kbit/s, 44.1 kHz: 417 bytes each) after an ID3v2 tag."""
    tag = b"ID3\x04\x00\x00\x00\x00\x00\x0a" + b"TIT2" + b"\x00" * 6
    return tag + (bytes([0xFF, 0xFB, 0x90, 0x64]) + b"\x00" * 413) * frames


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def number(org, twilio, twilio_account, agent):
    with tenant_scope(org):
        return PhoneNumber.objects.create(
            organization=org, provider_account=twilio_account, provider=Provider.TWILIO, phone_number=OUR_NUMBER,
            provider_sid="PN" + "1" * 32, agent=agent, capabilities={"voice": True, "sms": True})


def settings_url(number) -> str:
    return f"/o/acme/numbers/{number.pk}/voice/"


def save(client, number, **fields):
    data = {"ring_timeout": "20", "voicemail_greeting": "", **fields}
    return client.post(settings_url(number), data)


def stored(org, number) -> PhoneNumber:
    with tenant_scope(org):
        return PhoneNumber.objects.get(pk=number.pk)


def inbound_call_twiml() -> ET.Element:
    path = "/webhooks/twilio/voice/inbound/"
    params = tw.incoming_call(account_sid=ACME_SID, to=OUR_NUMBER, from_=CUSTOMER)
    response = Client().post(path, params, HTTP_X_TWILIO_SIGNATURE=tw.signature(
        settings.PUBLIC_BASE_URL + path, params, ACME_TOKEN))
    assert response.status_code == 200, response.content
    return ET.fromstring(response.content)


# Ringing and the spoken greeting -------------------------------------------------------------------


def test_a_manager_sets_the_ring_timeout_and_the_greeting_callers_get(org, number, agent, owner_client):
    page = owner_client.get(f"/o/acme/numbers/{number.pk}/").content.decode()
    assert "Calls and voicemail" in page and 'name="ring_timeout"' in page and 'value="20"' in page

    response = save(owner_client, number, ring_timeout="35", voicemail_greeting="  Acme support. Leave your order number. ")

    assert response.status_code == 302 and response["Location"] == f"/o/acme/numbers/{number.pk}/"
    saved = stored(org, number)
    assert (saved.ring_timeout, saved.voicemail_greeting) == (35, "Acme support. Leave your order number.")
    # Nobody online: the caller hears the greeting.
    assert inbound_call_twiml().findtext("Say") == "Acme support. Leave your order number."
    # The agent online: their browser rings 35 seconds.
    presence.heartbeat(org.pk, agent.pk)
    try:
        assert inbound_call_twiml().find("Dial").get("timeout") == "35"
    finally:
        presence.gone(org.pk, agent.pk)
    with tenant_scope(org):
        event = AuditEvent.objects.get(verb="phone_number.voice_settings_changed", target_id=number.pk)
    assert event.data == {"ring_timeout": {"from": 20, "to": 35}, "voicemail_greeting": "changed"}


@pytest.mark.parametrize("timeout", ["4", "61", "soon", ""])
def test_a_ring_timeout_outside_5_to_60_seconds_is_refused_with_a_sentence(org, number, owner_client, timeout):
    response = save(owner_client, number, ring_timeout=timeout, voicemail_greeting="Changed?")

    assert response.status_code == 400
    assert "Ring for 5 to 60 seconds." in response.content.decode()
    assert (stored(org, number).ring_timeout, stored(org, number).voicemail_greeting) == (20, "")


def test_a_greeting_too_long_to_listen_to_is_refused(org, number, owner_client):
    response = save(owner_client, number, voicemail_greeting="Hello. " * 200)

    assert response.status_code == 400
    assert "1000 characters" in response.content.decode()
    assert stored(org, number).voicemail_greeting == ""


# The recorded greeting -------------------------------------------------------------------------------


def test_a_wav_recording_is_kept_and_played_to_callers_instead_of_the_text(org, number, owner_client):
    audio = wav_bytes()
    upload = SimpleUploadedFile("my greeting.wav", audio, content_type="audio/wav")

    response = save(owner_client, number, voicemail_greeting="Spoken when no recording", greeting_audio=upload)

    assert response.status_code == 302
    saved = stored(org, number)
    assert saved.voicemail_greeting_audio.name.endswith(".wav")
    assert "my greeting" not in saved.voicemail_greeting_audio.name  # our name, not the uploader's
    root = inbound_call_twiml()
    assert root.find("Say") is None
    played = root.findtext("Play")
    served = Client().get(played.removeprefix(settings.PUBLIC_BASE_URL))
    assert served.status_code == 200 and served["Content-Type"] == "audio/wav"
    assert b"".join(served.streaming_content) == audio
    page = owner_client.get(f"/o/acme/numbers/{number.pk}/").content.decode()
    assert "Callers hear the recorded greeting" in page and "Remove the recorded greeting" in page
    assert '<audio controls preload="none" src="/webhooks/twilio/voice/greeting/' in page  # on this site


def test_the_format_is_read_from_the_bytes_not_from_the_name(org, number, owner_client):
    upload = SimpleUploadedFile("greeting.wav", mp3_bytes(), content_type="audio/wav")  # an MP3 named .wav

    assert save(owner_client, number, greeting_audio=upload).status_code == 302

    assert stored(org, number).voicemail_greeting_audio.name.endswith(".mp3")
    served = Client().get(inbound_call_twiml().findtext("Play").removeprefix(settings.PUBLIC_BASE_URL))
    assert served["Content-Type"] == "audio/mpeg"


@pytest.mark.parametrize("name, content, content_type", [
    ("greeting.mp3", b"<html><script>alert(1)</script></html>", "audio/mpeg"),
    ("greeting.wav", b"RIFF\x24\x00\x00\x00WAVEjunk", "audio/wav"),
    ("greeting.mp3", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "audio/mpeg"),
    ("greeting.mp3", b"ID3 not really a tag", "audio/mpeg"),
])
def test_a_file_that_is_not_an_mp3_or_wav_is_refused_whatever_its_name(org, number, owner_client, media, name,
                                                                         content, content_type):
    upload = SimpleUploadedFile(name, content, content_type=content_type)

    response = save(owner_client, number, ring_timeout="30", greeting_audio=upload)

    assert response.status_code == 400
    assert "This file is not an MP3 or WAV recording" in response.content.decode()
    saved = stored(org, number)
    assert (saved.voicemail_greeting_audio.name, saved.ring_timeout) == ("", 20)  # nothing saved
    assert not list(media.rglob("*.*"))


def test_a_recording_over_the_size_limit_is_refused(org, number, owner_client):
    too_big = wav_bytes() + b"\x00" * (4 * 1024 * 1024)
    upload = SimpleUploadedFile("long.wav", too_big, content_type="audio/wav")

    response = save(owner_client, number, greeting_audio=upload)

    assert response.status_code == 400
    assert "larger than 4 MB" in response.content.decode()
    assert stored(org, number).voicemail_greeting_audio.name == ""


def test_replacing_and_removing_the_recording_deletes_the_old_file(org, number, owner_client,
                                                                  django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        save(owner_client, number, greeting_audio=SimpleUploadedFile("a.wav", wav_bytes(), content_type="audio/wav"))
    first = stored(org, number).voicemail_greeting_audio.name
    with django_capture_on_commit_callbacks(execute=True):
        save(owner_client, number, greeting_audio=SimpleUploadedFile("b.mp3", mp3_bytes(), content_type="audio/mpeg"))
    second = stored(org, number).voicemail_greeting_audio.name
    assert second != first and not default_storage.exists(first) and default_storage.exists(second)

    with django_capture_on_commit_callbacks(execute=True):
        response = save(owner_client, number, voicemail_greeting="Back to words.", remove_greeting_audio="on")

    assert response.status_code == 302
    assert stored(org, number).voicemail_greeting_audio.name == ""
    assert not default_storage.exists(second)
    root = inbound_call_twiml()
    assert root.find("Play") is None and root.findtext("Say") == "Back to words."


def test_agents_cannot_change_a_numbers_voice_settings(org, number, agent, agent_client):
    assert save(agent_client, number, ring_timeout="50").status_code == 403
    assert stored(org, number).ring_timeout == 20


# Calling rules -----------------------------------------------------------------------------------------


def test_the_numbers_page_leads_to_the_calling_rules(org, owner_client):
    assert f'href="{RULES}"' in owner_client.get("/o/acme/numbers/").content.decode()


def test_a_manager_allows_premium_rate_and_a_prefix_and_calls_follow_the_rules(org, owner_client):
    page = owner_client.get(RULES).content.decode()
    assert "Allow premium-rate numbers" in page and "<code>+1900</code>" in page and "<code>911</code>" in page
    with tenant_scope(org):
        assert not calling_rules.destination_check(organization=org, destination="+449098790000").allowed

    response = owner_client.post(RULES, {"allowed_prefixes": "+44 909 879\n+1 (900) 555, +44 909-879"})

    assert response.status_code == 302 and response["Location"] == RULES
    with tenant_scope(org):
        policy = VoicePolicy.objects.get()
        assert (policy.allow_premium_rate, policy.allow_emergency, policy.allowed_prefixes) == (
            False, False, ["+44909879", "+1900555"])
        assert calling_rules.destination_check(organization=org, destination="+19005550100").allowed
        assert calling_rules.destination_check(organization=org, destination="+449098790000").allowed
        assert not calling_rules.destination_check(organization=org, destination="+19004440100").allowed
        assert not calling_rules.destination_check(organization=org, destination="911").allowed
    assert "+1900555" in owner_client.get(RULES).content.decode()

    owner_client.post(RULES, {"allow_premium_rate": "on", "allow_emergency": "on", "allowed_prefixes": ""})
    with tenant_scope(org):
        assert calling_rules.destination_check(organization=org, destination="+19004440100").allowed
        assert calling_rules.destination_check(organization=org, destination="911").allowed
        events = list(AuditEvent.objects.filter(verb="voice_policy.changed").order_by("created_at", "id")
                      .values_list("data", flat=True))
    assert events[-1] == {"allow_premium_rate": {"from": False, "to": True},
                          "allow_emergency": {"from": False, "to": True},
                          "allowed_prefixes": {"from": ["+44909879", "+1900555"], "to": []}}


def test_a_prefix_that_is_not_one_is_refused_with_a_sentence(org, owner_client):
    response = owner_client.post(RULES, {"allow_premium_rate": "on", "allowed_prefixes": "+1900\n900-CALL-NOW"})

    assert response.status_code == 400
    assert "is not a number prefix" in response.content.decode()
    with tenant_scope(org):
        assert not VoicePolicy.objects.exists()


def test_agents_cannot_read_or_change_the_calling_rules(org, agent, agent_client):
    assert agent_client.get(RULES).status_code == 403
    assert agent_client.post(RULES, {"allow_emergency": "on"}).status_code == 403
    with tenant_scope(org):
        assert not VoicePolicy.objects.exists()
