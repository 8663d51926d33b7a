"""The inbound call's TwiML, written from templates on the hot path, is byte for byte what the twilio
SDK's builder writes for the same decision, whatever text a contact's name or a greeting holds; and
text XML cannot carry is dropped, never sent to Twilio as a document it cannot parse."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from hypothesis import given, settings
from hypothesis import strategies as st

from telephony.providers.twilio_voice import TwilioVoice
from telephony.providers.voice import RingAgents, Voicemail

# What XML 1.0 can carry (the SDK would write the rest as is, and Twilio could not read it).
VALID = st.characters(blacklist_categories=["Cs"], blacklist_characters=[chr(c) for c in range(32) if c not in (9, 10, 13)]
                      + ["\ufffe", "\uffff"])
TEXT = st.text(alphabet=VALID, max_size=40)
URL = st.builds(lambda tail: "https://softphone.example.com/webhooks/twilio/voice/" + tail, TEXT)


def ring(**overrides) -> RingAgents:
    values = dict(identities=("agent_" + "a" * 32,), timeout=20,
                  after_dial_url="https://softphone.example.com/webhooks/twilio/voice/after-dial/",
                  status_url="https://softphone.example.com/webhooks/twilio/voice/status/",
                  caller_id="+14155550199", parameters={"call_id": "1", "contact_name": "Ann"})
    return RingAgents(**{**values, **overrides})


def voicemail(**overrides) -> Voicemail:
    values = dict(greeting_text="Please leave a message.",
                  record_action_url="https://softphone.example.com/webhooks/twilio/voice/voicemail/",
                  recording_status_url="https://softphone.example.com/webhooks/twilio/voice/recording/")
    return Voicemail(**{**values, **overrides})


def rendered(decision) -> str:
    body, content_type = TwilioVoice.render(decision)
    assert content_type == "text/xml"
    return body


@settings(max_examples=200, deadline=None)
@given(identities=st.lists(st.from_regex(r"agent_[0-9a-f]{32}", fullmatch=True), min_size=1, max_size=12),
       timeout=st.integers(5, 60), after=URL, status=URL, caller_id=st.one_of(st.just(""), TEXT),
       parameters=st.dictionaries(TEXT, TEXT, max_size=5))
def test_ringing_is_what_the_sdk_writes(identities, timeout, after, status, caller_id, parameters):
    decision = ring(identities=tuple(identities), timeout=timeout, after_dial_url=after, status_url=status,
                    caller_id=caller_id, parameters=parameters)
    assert rendered(decision) == TwilioVoice.render_with_sdk(decision)


@settings(max_examples=200, deadline=None)
@given(text=TEXT, audio=st.one_of(st.just(""), URL), action=URL, status=URL, length=st.integers(1, 3600))
def test_voicemail_is_what_the_sdk_writes(text, audio, action, status, length):
    decision = voicemail(greeting_text=text, greeting_audio_url=audio, record_action_url=action,
                         recording_status_url=status, max_length=length)
    assert rendered(decision) == TwilioVoice.render_with_sdk(decision)


def test_ringing_names_the_caller_and_rings_at_most_ten_browsers():
    root = ET.fromstring(rendered(ring(identities=tuple(f"agent_{i:032x}" for i in range(12)),
                                       parameters={"contact_name": 'Ann "A&B" <Smith>'})))
    dial = root.find("Dial")
    assert (dial.get("timeout"), dial.get("callerId"), dial.get("answerOnBridge")) == ("20", "+14155550199", "true")
    clients = dial.findall("Client")
    assert len(clients) == 10
    assert clients[0].find("Parameter").get("value") == 'Ann "A&B" <Smith>'


def test_text_xml_cannot_carry_is_dropped():
    name = "Ann\x01\x08 B\x0bob\x1f\ufffe"
    body = rendered(ring(parameters={"contact_name": name}))
    assert ET.fromstring(body).find("Dial/Client/Parameter").get("value") == "Ann Bob"
    greeting = rendered(voicemail(greeting_text="Hello\x00 there\x1b"))
    assert ET.fromstring(greeting).findtext("Say") == "Hello there"
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f]", body + greeting)
