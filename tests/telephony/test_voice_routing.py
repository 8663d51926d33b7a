"""Voice routing: the TwiML our webhooks answer, parsed, and the Call rows they keep."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from django.conf import settings
from django.test import Client

from softphone.simulator import twilio_webhooks as tw
from telephony.identity import client_identity
from telephony.models import Call, PhoneNumber, Provider, VoicePolicy
from tenants import presence
from tenants.scoping import tenant_scope
from tests import factories
from tests.vendor_fixtures import ACME_SID, ACME_TOKEN, GLOBEX_SID, GLOBEX_TOKEN

pytestmark = pytest.mark.django_db

OUR_NUMBER = "+14155550142"
SECOND_NUMBER = "+14155550143"
CUSTOMER = "+14155550199"


def post(path: str, params: dict, token: str | None = ACME_TOKEN, signature: str | None = None):
    url = settings.PUBLIC_BASE_URL + path
    header = signature if signature is not None else tw.signature(url, params, token) if token else None
    extra = {"HTTP_X_TWILIO_SIGNATURE": header} if header is not None else {}
    return Client().post(path, params, **extra)


def twiml(response) -> ET.Element:
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/xml")
    return ET.fromstring(response.content)


@pytest.fixture
def person(org, agent):
    return agent


@pytest.fixture
def online(org, person):
    presence.heartbeat(org.pk, person.pk)
    yield person
    presence.gone(org.pk, person.pk)
    presence.in_call_clear(org.pk, person.pk)


def call_rows(org):
    with tenant_scope(org):
        return list(Call.objects.select_related("contact", "agent").order_by("created_at"))


# Inbound --------------------------------------------------------------------------------------------


def test_a_call_to_an_online_agents_number_rings_their_browser_with_who_is_calling(org, our_number, online):
    params = tw.incoming_call(account_sid=ACME_SID, to=OUR_NUMBER, from_=CUSTOMER)
    root = twiml(post("/webhooks/twilio/voice/inbound/", params))

    dial = root.find("Dial")
    assert dial.get("timeout") == "20"
    assert dial.get("action") == settings.PUBLIC_BASE_URL + "/webhooks/twilio/voice/after-dial/"
    clients = dial.findall("Client")
    assert [c.findtext("Identity") for c in clients] == [client_identity(online)]
    parameters = {p.get("name"): p.get("value") for p in clients[0].findall("Parameter")}
    [call] = call_rows(org)
    assert parameters["call_id"] == str(call.pk)
    assert parameters["contact_number"] == CUSTOMER
    assert parameters["number_label"] == "Support line"
    assert parameters["conversation_url"] == f"/o/{org.slug}/inbox/with/{call.contact_id}/{our_number.pk}/"
    assert (call.direction, call.status, call.provider_sid, call.from_number, call.to_number, call.agent_id) == (
        "inbound", "ringing", params["CallSid"], CUSTOMER, OUR_NUMBER, online.pk)


def test_the_number_ring_timeout_is_how_long_the_browser_rings(org, our_number, online):
    with tenant_scope(org):
        PhoneNumber.objects.filter(pk=our_number.pk).update(ring_timeout=35)
    root = twiml(post("/webhooks/twilio/voice/inbound/", tw.incoming_call(account_sid=ACME_SID, to=OUR_NUMBER,
                                                                          from_=CUSTOMER)))
    assert root.find("Dial").get("timeout") == "35"


@pytest.mark.parametrize("situation", ["softphone offline", "away", "unassigned", "on another call"])
def test_a_caller_who_cannot_reach_a_person_gets_the_voicemail_greeting_and_a_recording(org, our_number, person,
                                                                                        situation):
    if situation == "away":
        presence.heartbeat(org.pk, person.pk)
        with tenant_scope(org):
            type(person).objects.filter(pk=person.pk).update(availability="away")
    elif situation == "unassigned":
        presence.heartbeat(org.pk, person.pk)
        with tenant_scope(org):
            PhoneNumber.objects.filter(pk=our_number.pk).update(agent=None)
    elif situation == "on another call":
        presence.heartbeat(org.pk, person.pk)
        presence.in_call_set(org.pk, person.pk, "another-call")
    try:
        root = twiml(post("/webhooks/twilio/voice/inbound/", tw.incoming_call(account_sid=ACME_SID, to=OUR_NUMBER,
                                                                              from_=CUSTOMER)))
    finally:
        presence.gone(org.pk, person.pk)
        presence.in_call_clear(org.pk, person.pk)
    assert root.find("Dial") is None
    assert org.name in root.findtext("Say")
    record = root.find("Record")
    assert record.get("action") == settings.PUBLIC_BASE_URL + "/webhooks/twilio/voice/voicemail/"
    assert record.get("recordingStatusCallback") == settings.PUBLIC_BASE_URL + "/webhooks/twilio/voice/recording/"
    assert record.get("playBeep") == "true" and int(record.get("maxLength")) <= 300
    assert [c.status for c in call_rows(org)] == ["ringing"]


def test_the_numbers_own_greeting_is_spoken(org, our_number, person):
    with tenant_scope(org):
        PhoneNumber.objects.filter(pk=our_number.pk).update(voicemail_greeting="Acme support. Leave your order number.")
    root = twiml(post("/webhooks/twilio/voice/inbound/", tw.incoming_call(account_sid=ACME_SID, to=OUR_NUMBER,
                                                                          from_=CUSTOMER)))
    assert root.findtext("Say") == "Acme support. Leave your order number."


def test_nobody_answering_in_time_sends_the_caller_to_voicemail_and_the_message_is_kept(org, our_number, online):
    params = tw.incoming_call(account_sid=ACME_SID, to=OUR_NUMBER, from_=CUSTOMER)
    twiml(post("/webhooks/twilio/voice/inbound/", params))
    sid = params["CallSid"]

    after = twiml(post("/webhooks/twilio/voice/after-dial/", tw.dial_action(
        account_sid=ACME_SID, call_sid=sid, dial_status="no-answer", from_=CUSTOMER, to=OUR_NUMBER)))
    assert after.find("Record") is not None

    action = tw.recording(account_sid=ACME_SID, call_sid=sid, duration=23, action=True)
    bye = twiml(post("/webhooks/twilio/voice/voicemail/", action))
    assert bye.findtext("Say") == "Thank you. Goodbye." and bye.find("Hangup") is not None
    # The recording callback repeats what the action said: nothing changes twice.
    callback = tw.recording(account_sid=ACME_SID, call_sid=sid, recording_sid=action["RecordingSid"], duration=23)
    assert post("/webhooks/twilio/voice/recording/", callback).status_code == 204
    ended = tw.call_status(account_sid=ACME_SID, call_sid=sid, status="completed", from_=CUSTOMER, to=OUR_NUMBER,
                           sequence=3, duration=41)
    assert post("/webhooks/twilio/voice/status/", ended).status_code == 204

    [call] = call_rows(org)
    assert (call.voicemail, call.recording_sid, call.recording_duration, call.status, call.answered_at,
            call.duration) == (True, action["RecordingSid"], 23, "no-answer", None, 41)
    assert call.missed


def test_an_answered_call_is_in_progress_then_completed_and_the_agent_is_in_a_call_meanwhile(org, our_number,
                                                                                            online):
    params = tw.incoming_call(account_sid=ACME_SID, to=OUR_NUMBER, from_=CUSTOMER)
    twiml(post("/webhooks/twilio/voice/inbound/", params))
    parent, child = params["CallSid"], "CA" + "c" * 32
    identity = f"client:{client_identity(online)}"
    for status, sequence in (("ringing", 1), ("in-progress", 2)):
        assert post("/webhooks/twilio/voice/status/", tw.call_status(
            account_sid=ACME_SID, call_sid=child, parent_call_sid=parent, status=status, from_=CUSTOMER,
            to=identity, sequence=sequence)).status_code == 204
    [call] = call_rows(org)
    assert (call.status, call.child_sid) == ("in-progress", child) and call.answered_at is not None
    assert presence.status_of([online], org.pk)[str(online.pk)] == presence.IN_CALL

    post("/webhooks/twilio/voice/status/", tw.call_status(account_sid=ACME_SID, call_sid=parent, status="completed",
                                                          from_=CUSTOMER, to=OUR_NUMBER, sequence=4, duration=95))
    [call] = call_rows(org)
    assert (call.status, call.duration, call.missed) == ("completed", 95, False)
    assert presence.status_of([online], org.pk)[str(online.pk)] == presence.AVAILABLE


def test_duplicate_and_out_of_order_callbacks_change_nothing(org, our_number, online):
    params = tw.incoming_call(account_sid=ACME_SID, to=OUR_NUMBER, from_=CUSTOMER)
    twiml(post("/webhooks/twilio/voice/inbound/", params))
    twiml(post("/webhooks/twilio/voice/inbound/", params))  # Twilio retried the webhook
    parent, child = params["CallSid"], "CA" + "d" * 32
    answered = tw.call_status(account_sid=ACME_SID, call_sid=child, parent_call_sid=parent, status="in-progress",
                              from_=CUSTOMER, to=f"client:{client_identity(online)}")
    post("/webhooks/twilio/voice/status/", answered)
    done = tw.call_status(account_sid=ACME_SID, call_sid=parent, status="completed", from_=CUSTOMER, to=OUR_NUMBER,
                          sequence=5, duration=60)
    post("/webhooks/twilio/voice/status/", done)
    [before] = call_rows(org)
    # Late and repeated: an earlier status of the parent, the child's ringing, the same completion.
    for late in (tw.call_status(account_sid=ACME_SID, call_sid=parent, status="ringing", from_=CUSTOMER,
                                to=OUR_NUMBER, sequence=1),
                 tw.call_status(account_sid=ACME_SID, call_sid=child, parent_call_sid=parent, status="ringing",
                                from_=CUSTOMER, to="client:x"),
                 done, answered):
        assert post("/webhooks/twilio/voice/status/", late).status_code == 204
    [after] = call_rows(org)
    assert len(call_rows(org)) == 1
    assert (after.status, after.duration, after.answered_at, after.updated_at) == (
        before.status, before.duration, before.answered_at, before.updated_at) == (
        "completed", 60, before.answered_at, before.updated_at)


# Refused and forged ---------------------------------------------------------------------------------


def test_a_forged_or_unsigned_call_is_refused_and_stores_nothing(org, our_number, online):
    params = tw.incoming_call(account_sid=ACME_SID, to=OUR_NUMBER, from_=CUSTOMER)
    assert post("/webhooks/twilio/voice/inbound/", params, signature="bm90IGEgc2lnbmF0dXJl").status_code == 403
    assert post("/webhooks/twilio/voice/inbound/", params, token=None).status_code == 403
    # Signed with another tenant's auth token: refused like a forgery.
    assert post("/webhooks/twilio/voice/inbound/", params, token=GLOBEX_TOKEN).status_code == 403
    assert call_rows(org) == []


def test_a_call_to_a_number_nobody_has_is_not_found(org, our_number):
    params = tw.incoming_call(account_sid=ACME_SID, to="+14155550111", from_=CUSTOMER)
    assert post("/webhooks/twilio/voice/inbound/", params).status_code == 404
    # The right number, but under another account: not ours either.
    params = tw.incoming_call(account_sid=GLOBEX_SID, to=OUR_NUMBER, from_=CUSTOMER)
    assert post("/webhooks/twilio/voice/inbound/", params, token=GLOBEX_TOKEN).status_code == 404
    assert call_rows(org) == []


def test_callbacks_for_a_call_we_never_had_are_not_found(org, our_number):
    for path, params in (
        ("/webhooks/twilio/voice/status/", tw.call_status(account_sid=ACME_SID, call_sid="CA" + "9" * 32,
                                                         status="completed", from_=CUSTOMER, to=OUR_NUMBER)),
        ("/webhooks/twilio/voice/after-dial/", tw.dial_action(account_sid=ACME_SID, call_sid="CA" + "9" * 32,
                                                             dial_status="no-answer", from_=CUSTOMER, to=OUR_NUMBER)),
        ("/webhooks/twilio/voice/voicemail/", tw.recording(account_sid=ACME_SID, call_sid="CA" + "9" * 32,
                                                          action=True)),
    ):
        assert post(path, params).status_code == 404


def test_another_tenants_account_cannot_touch_our_call_with_its_own_signature(org, other_org, our_number, online):
    params = tw.incoming_call(account_sid=ACME_SID, to=OUR_NUMBER, from_=CUSTOMER)
    twiml(post("/webhooks/twilio/voice/inbound/", params))
    forged = tw.call_status(account_sid=GLOBEX_SID, call_sid=params["CallSid"], status="completed", from_=CUSTOMER,
                            to=OUR_NUMBER, duration=1)
    assert post("/webhooks/twilio/voice/status/", forged, token=GLOBEX_TOKEN).status_code == 404
    assert [c.status for c in call_rows(org)] == ["ringing"]


# Outbound (the browser) -----------------------------------------------------------------------------


@pytest.fixture
def second_number(org, twilio_account, person):
    with tenant_scope(org):
        return PhoneNumber.objects.create(
            organization=org, provider_account=twilio_account, provider=Provider.TWILIO, phone_number=SECOND_NUMBER,
            provider_sid="PN" + "2" * 32, agent=person, capabilities={"voice": True, "sms": True})


def browser(person, to: str, from_number=None, **kwargs):
    return tw.browser_call(account_sid=ACME_SID, identity=client_identity(person), to=to,
                           from_number=str(from_number) if from_number else None, **kwargs)


def test_the_browser_dials_the_destination_from_the_number_the_agent_chose(org, our_number, second_number, person):
    params = browser(person, "+442071838750", from_number=second_number.pk)
    root = twiml(post("/webhooks/twilio/voice/outbound/", params))
    dial = root.find("Dial")
    assert dial.get("callerId") == SECOND_NUMBER
    assert dial.findtext("Number") == "+442071838750"
    assert dial.find("Number").get("statusCallback") == settings.PUBLIC_BASE_URL + "/webhooks/twilio/voice/status/"
    [call] = call_rows(org)
    assert (call.direction, call.status, call.from_number, call.to_number, call.agent_id, call.provider_sid,
            call.contact.phone_number) == ("outbound", "queued", SECOND_NUMBER, "+442071838750", person.pk,
                                           params["CallSid"], "+442071838750")


def test_a_number_the_agent_is_not_assigned_is_never_the_caller_id(org, our_number, person, twilio_account):
    with tenant_scope(org):
        colleague_number = PhoneNumber.objects.create(
            organization=org, provider_account=twilio_account, provider=Provider.TWILIO, phone_number="+14155550144",
            provider_sid="PN" + "3" * 32, agent=None, capabilities={"voice": True})
    root = twiml(post("/webhooks/twilio/voice/outbound/", browser(person, "+14155550177",
                                                                   from_number=colleague_number.pk)))
    assert root.find("Dial").get("callerId") == OUR_NUMBER  # the agent's own number, not the one asked for


def test_an_agent_without_a_number_is_told_so_and_nothing_is_dialled(org, person, twilio_account):
    root = twiml(post("/webhooks/twilio/voice/outbound/", browser(person, "+14155550177")))
    assert root.find("Dial") is None
    assert "no phone number to call from" in root.findtext("Say")
    assert root.find("Hangup") is not None
    assert [(c.status, c.failure_reason[:30]) for c in call_rows(org)] == [("failed", "You have no phone number to ca")]


@pytest.mark.parametrize("destination, refusal", [
    ("911", "Emergency numbers"),
    ("112", "Emergency numbers"),
    ("+19005550100", "Premium-rate numbers"),
    ("+449098790000", "Premium-rate numbers"),
    ("not a number", "not valid"),
    ("+1415", "not valid"),
])
def test_emergency_premium_and_invalid_destinations_are_refused_with_a_spoken_reason(org, our_number, person,
                                                                                     destination, refusal):
    root = twiml(post("/webhooks/twilio/voice/outbound/", browser(person, destination)))
    assert root.find("Dial") is None
    assert refusal in root.findtext("Say")
    assert [c.status for c in call_rows(org)] == ["failed"]


def test_the_organization_can_allow_premium_rate_or_one_prefix(org, our_number, person):
    with tenant_scope(org):
        VoicePolicy.objects.create(organization=org, allowed_prefixes=["+1900555"])
    root = twiml(post("/webhooks/twilio/voice/outbound/", browser(person, "+19005550100")))
    assert root.find("Dial").findtext("Number") == "+19005550100"
    refused = twiml(post("/webhooks/twilio/voice/outbound/", browser(person, "+19007770100")))
    assert refused.find("Dial") is None


def test_an_identity_that_is_no_agent_of_the_signing_account_is_not_found(org, other_org, our_number, person):
    stranger = factories.make_agent(other_org, user=factories.make_user())
    params = tw.browser_call(account_sid=ACME_SID, identity=client_identity(stranger), to="+14155550177")
    assert post("/webhooks/twilio/voice/outbound/", params).status_code == 404
    params = tw.browser_call(account_sid=ACME_SID, identity="agent_not-a-uuid", to="+14155550177")
    assert post("/webhooks/twilio/voice/outbound/", params).status_code == 404
    assert call_rows(org) == [] and call_rows(other_org) == []


def test_the_customer_not_answering_an_outbound_call_is_recorded_as_such(org, our_number, person):
    params = browser(person, "+14155550177")
    twiml(post("/webhooks/twilio/voice/outbound/", params))
    child = "CA" + "e" * 32
    post("/webhooks/twilio/voice/status/", tw.call_status(account_sid=ACME_SID, call_sid=child,
                                                          parent_call_sid=params["CallSid"], status="ringing",
                                                          from_=OUR_NUMBER, to="+14155550177"))
    post("/webhooks/twilio/voice/status/", tw.call_status(account_sid=ACME_SID, call_sid=child,
                                                          parent_call_sid=params["CallSid"], status="no-answer",
                                                          from_=OUR_NUMBER, to="+14155550177"))
    hangup = twiml(post("/webhooks/twilio/voice/after-dial/", tw.dial_action(
        account_sid=ACME_SID, call_sid=params["CallSid"], dial_status="no-answer", from_=f"client:{person.pk}",
        to="+14155550177", dial_call_sid=child)))
    assert hangup.find("Record") is None and hangup.find("Hangup") is not None
    [call] = call_rows(org)
    assert (call.status, call.child_sid, call.answered_at) == ("no-answer", child, None)
