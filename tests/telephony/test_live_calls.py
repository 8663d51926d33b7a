"""Hold and transfer on a live call, built on Twilio conferences, against the Twilio fake: what the
dialer's buttons answer, what Twilio was asked to do, and the Call row through it all."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.test import Client

from softphone.simulator import twilio_webhooks as tw
from telephony.identity import client_identity
from telephony.models import Call, PhoneNumber, Provider
from telephony.services import live_calls
from telephony.services.live_calls import CallConflict
from tenants import presence
from tenants import services as tenant_services
from tenants.models import Membership
from tenants.scoping import tenant_scope
from tests import factories
from tests.vendor_fixtures import ACME_SID, ACME_TOKEN

pytestmark = pytest.mark.django_db

OUR_NUMBER = "+14155550142"
CUSTOMER = "+14155550199"
HOLD_MUSIC = settings.PUBLIC_BASE_URL + "/webhooks/twilio/voice/hold-music/"


def post(path: str, params: dict):
    url = settings.PUBLIC_BASE_URL + path
    return Client().post(path, params, HTTP_X_TWILIO_SIGNATURE=tw.signature(url, params, ACME_TOKEN))


@pytest.fixture
def our_number(org, twilio, voice_ready, agent):
    twilio.add_incoming_number(ACME_SID, OUR_NUMBER)
    with tenant_scope(org):
        return PhoneNumber.objects.create(
            organization=org, provider_account=voice_ready, provider=Provider.TWILIO, phone_number=OUR_NUMBER,
            provider_sid="PN" + "1" * 32, agent=agent, friendly_name="Support line", ring_timeout=25,
            capabilities={"voice": True, "sms": True})


@pytest.fixture
def erin(org):
    user = factories.make_user("erin", first_name="Erin", last_name="Colleague")
    factories.add_member(org, user)
    colleague = factories.make_agent(org, user=user, name="Erin Colleague")
    client = Client()
    client.force_login(user)
    colleague.client_for_test = client
    return colleague


@pytest.fixture
def everyone_online(org, agent, erin):
    for person in (agent, erin):
        presence.heartbeat(org.pk, person.pk)
    yield
    for person in (agent, erin):
        presence.gone(org.pk, person.pk)
        presence.in_call_clear(org.pk, person.pk)


class Answered:
    """An inbound call Dana answered in her browser: the customer's leg (parent) and hers (child)."""

    def __init__(self, org, twilio, agent, capture):
        self.org, self.twilio, self.capture = org, twilio, capture
        params = tw.incoming_call(account_sid=ACME_SID, to=OUR_NUMBER, from_=CUSTOMER)
        self.customer = twilio.add_call(ACME_SID, sid=params["CallSid"], sender=CUSTOMER, to=OUR_NUMBER)
        assert post("/webhooks/twilio/voice/inbound/", params).status_code == 200
        self.dana_leg = twilio.add_call(ACME_SID, sender=OUR_NUMBER, to="client:" + client_identity(agent),
                                        direction="outbound-dial", parent_call_sid=self.customer)
        answered = post("/webhooks/twilio/voice/status/", tw.call_status(
            account_sid=ACME_SID, call_sid=self.dana_leg, parent_call_sid=self.customer, status="in-progress",
            from_=CUSTOMER, to="client:" + client_identity(agent)))
        assert answered.status_code == 204
        assert self.call().status == "in-progress"

    def call(self) -> Call:
        with tenant_scope(self.org):
            return Call.objects.select_related("agent", "transferred_by", "transferred_to").get(
                provider_sid=self.customer)

    def url(self, action: str) -> str:
        return f"/o/acme/calls/{self.call().pk}/{action}/"

    def parent_follows(self):
        """Twilio asks the <Dial>'s action what the customer's leg does now that Dana's moved."""
        response = post("/webhooks/twilio/voice/after-dial/", tw.dial_action(
            account_sid=ACME_SID, call_sid=self.customer, dial_status="completed", from_=CUSTOMER, to=OUR_NUMBER,
            dial_call_sid=self.dana_leg))
        assert response.status_code == 200
        self.twilio.run(ACME_SID, self.customer, response.content)
        return ET.fromstring(response.content)

    def conference(self) -> dict:
        return self.twilio.conference_named(ACME_SID, "call_" + self.call().pk.hex)

    def joined(self, leg: str):
        conference = self.conference()
        with self.capture(execute=True):  # what waited for the join runs in a task, after commit
            response = post("/webhooks/twilio/voice/conference/", tw.conference_event(
                account_sid=ACME_SID, conference_sid=conference["sid"], name=conference["friendly_name"],
                event="participant-join", call_sid=leg))
        assert response.status_code == 204


@pytest.fixture
def answered(org, twilio, agent, our_number, everyone_online, django_capture_on_commit_callbacks):
    return Answered(org, twilio, agent, django_capture_on_commit_callbacks)


def test_hold_moves_the_call_into_its_conference_and_the_caller_hears_music(answered, agent_client, twilio):
    response = agent_client.post(answered.url("hold"), {"hold": "1"})
    assert response.status_code == 200, (response.content, twilio.requests[-3:])
    assert response.json()["held"] is True

    # Dana's leg was given the conference; the customer's <Dial> ended and its action sends them there too.
    dana = ET.fromstring(twilio.call(ACME_SID, answered.dana_leg)["twiml"])
    room = dana.find("Dial/Conference")
    assert room.text == "call_" + answered.call().pk.hex
    assert room.get("endConferenceOnExit") == "false"
    customer = answered.parent_follows().find("Dial/Conference")
    assert customer.text == room.text and customer.get("endConferenceOnExit") == "true"
    assert customer.get("waitUrl") == HOLD_MUSIC
    assert customer.get("statusCallback") == settings.PUBLIC_BASE_URL + "/webhooks/twilio/voice/conference/"

    # When the customer joins, the hold asked for is carried out: music, from our hold-music route.
    answered.joined(answered.customer)
    participant = answered.conference()["participants"][answered.customer]
    assert participant["hold"] is True and participant["hold_url"] == HOLD_MUSIC
    call = answered.call()
    assert call.on_hold and call.conference_sid == answered.conference()["sid"]
    music = ET.fromstring(Client().post("/webhooks/twilio/voice/hold-music/").content)
    assert music.find("Play").get("loop") == "0" and music.findtext("Play") == settings.VOICE_HOLD_MUSIC_URL

    # Taking them off hold is one request to Twilio now that the conference is known.
    response = agent_client.post(answered.url("hold"), {"hold": "0"})
    assert response.json()["held"] is False
    assert answered.conference()["participants"][answered.customer]["hold"] is False
    assert answered.call().status == "in-progress"


def test_a_warm_transfer_lets_the_agent_talk_to_the_colleague_then_leaves_them_with_the_caller(
        answered, agent, erin, agent_client, twilio):
    response = agent_client.post(answered.url("transfer"), {"to": erin.pk, "mode": "warm"})
    assert response.status_code == 200, response.content
    # Dana's leg started the conference, so Erin rings at once; the caller is held when they join it.
    assert response.json()["transfer"] == {"state": "ringing", "mode": "warm", "to_name": "Erin Colleague"}
    answered.parent_follows()
    answered.joined(answered.customer)

    call = answered.call()
    assert call.transfer_state == "ringing" and call.on_hold
    conference = answered.conference()
    assert conference["participants"][answered.customer]["hold"] is True
    erin_leg = call.transfer_leg_sid
    rung = twilio.call(ACME_SID, erin_leg)
    assert rung["to"] == "client:" + client_identity(erin) and rung["from"] == OUR_NUMBER
    add = next(r for r in twilio.requests if r.path.endswith("/Participants.json") and r.method == "POST")
    assert add.form["StatusCallback"] == settings.PUBLIC_BASE_URL + "/webhooks/twilio/voice/status/"
    assert add.form["Timeout"] == "25" and add.form["EndConferenceOnExit"] == "false"

    # Erin picks up: Dana and Erin talk while the caller waits.
    twilio.answer_participant(ACME_SID, erin_leg)
    post("/webhooks/twilio/voice/status/", tw.call_status(account_sid=ACME_SID, call_sid=erin_leg, status="in-progress",
                                                          from_=OUR_NUMBER, to="client:" + client_identity(erin)))
    assert answered.call().transfer_state == "talking"
    assert presence.status_of([erin], answered.org.pk)[str(erin.pk)] == presence.IN_CALL

    response = agent_client.post(answered.url("transfer/complete"))
    assert response.status_code == 200, response.content
    call = answered.call()
    assert (call.agent, call.transferred_by, call.transferred_to, call.transfer_state, call.on_hold) == (
        erin, agent, erin, "", False)
    participants = answered.conference()["participants"]
    assert answered.dana_leg not in participants and participants[answered.customer]["hold"] is False
    assert twilio.call(ACME_SID, answered.dana_leg)["status"] == "completed"
    assert presence.status_of([agent], answered.org.pk)[str(agent.pk)] == presence.AVAILABLE

    # Dana's leg ending does not end the call; the customer hanging up does.
    post("/webhooks/twilio/voice/status/", tw.call_status(
        account_sid=ACME_SID, call_sid=answered.dana_leg, parent_call_sid=answered.customer, status="completed",
        from_=CUSTOMER, to="client:" + client_identity(agent)))
    assert answered.call().status == "in-progress"
    post("/webhooks/twilio/voice/status/", tw.call_status(
        account_sid=ACME_SID, call_sid=answered.customer, status="completed", from_=CUSTOMER, to=OUR_NUMBER,
        sequence=5, duration=140))
    call = answered.call()
    assert call.status == "completed" and call.duration == 140
    # Only Erin, who had the call, can control it now.
    assert erin.client_for_test.post(answered.url("hold"), {"hold": "1"}).status_code == 409  # it has ended


def test_a_blind_transfer_frees_the_agent_at_once_and_the_colleague_gets_the_caller(
        answered, agent, erin, agent_client, twilio):
    agent_client.post(answered.url("hold"), {"hold": "1"})
    answered.parent_follows()
    answered.joined(answered.customer)

    response = agent_client.post(answered.url("transfer"), {"to": erin.pk, "mode": "blind"})
    assert response.status_code == 200, response.content
    call = answered.call()
    assert call.transfer_state == "ringing"
    assert answered.dana_leg not in answered.conference()["participants"]  # Dana is free already
    assert presence.status_of([agent], answered.org.pk)[str(agent.pk)] == presence.AVAILABLE

    erin_leg = call.transfer_leg_sid
    twilio.answer_participant(ACME_SID, erin_leg)
    post("/webhooks/twilio/voice/status/", tw.call_status(
        account_sid=ACME_SID, call_sid=erin_leg, status="in-progress", from_=OUR_NUMBER,
        to="client:" + client_identity(erin)))
    call = answered.call()
    assert (call.agent, call.transferred_to, call.on_hold, call.agent_leg_sid) == (erin, erin, False, erin_leg)
    assert answered.conference()["participants"][answered.customer]["hold"] is False
    # Erin can put the caller on hold now: the call is hers.
    assert erin.client_for_test.post(answered.url("hold"), {"hold": "1"}).json()["held"] is True
    assert agent_client.post(answered.url("hold"), {"hold": "0"}).status_code == 403


def test_a_blind_transfer_nobody_takes_sends_the_caller_to_voicemail(answered, erin, agent_client, twilio):
    agent_client.post(answered.url("hold"), {"hold": "1"})
    answered.parent_follows()
    answered.joined(answered.customer)
    agent_client.post(answered.url("transfer"), {"to": erin.pk, "mode": "blind"})
    leg = answered.call().transfer_leg_sid

    post("/webhooks/twilio/voice/status/", tw.call_status(
        account_sid=ACME_SID, call_sid=leg, status="no-answer", from_=OUR_NUMBER, to="client:" + client_identity(erin)))
    call = answered.call()
    assert call.transfer_state == "" and "Erin Colleague did not take the transfer" in call.failure_reason
    customer = ET.fromstring(twilio.call(ACME_SID, answered.customer)["twiml"])
    assert customer.find("Record") is not None  # the number's voicemail
    assert customer.find("Record").get("action") == settings.PUBLIC_BASE_URL + "/webhooks/twilio/voice/voicemail/"


def test_a_warm_transfer_can_be_cancelled_and_the_agent_is_back_with_the_caller(answered, erin, agent_client, twilio):
    agent_client.post(answered.url("transfer"), {"to": erin.pk, "mode": "warm"})
    answered.parent_follows()
    answered.joined(answered.customer)
    leg = answered.call().transfer_leg_sid
    response = agent_client.post(answered.url("transfer/cancel"))
    assert response.status_code == 200
    call = answered.call()
    assert (call.transfer_state, call.on_hold, call.transfer_leg_sid) == ("", False, "")
    participants = answered.conference()["participants"]
    assert leg not in participants and participants[answered.customer]["hold"] is False
    # A late callback of Erin's dropped leg changes nothing.
    post("/webhooks/twilio/voice/status/", tw.call_status(
        account_sid=ACME_SID, call_sid=leg, status="completed", from_=OUR_NUMBER, to="client:" + client_identity(erin)))
    assert answered.call().status == "in-progress" and answered.call().failure_reason == ""


def test_transfers_refuse_a_colleague_who_cannot_take_it(org, answered, agent, erin, agent_client, other_org):
    presence.gone(org.pk, erin.pk)
    response = agent_client.post(answered.url("transfer"), {"to": erin.pk, "mode": "warm"})
    assert response.status_code == 409
    assert response.json()["error"] == "Erin Colleague is not available to take a call (away (softphone offline))."
    stranger = factories.make_agent(other_org, user=factories.make_user("zed"), name="Zed")
    response = agent_client.post(answered.url("transfer"), {"to": stranger.pk, "mode": "warm"})
    assert response.status_code == 400 and "colleague of this organization" in response.json()["error"]
    presence.heartbeat(org.pk, erin.pk)
    response = agent_client.post(answered.url("transfer"), {"to": erin.pk, "mode": "sideways"})
    assert response.status_code == 400 and "blind or a warm" in response.json()["error"]
    assert answered.call().transfer_state == ""


def test_only_the_agent_on_a_live_answered_call_controls_it(answered, erin, agent_client):
    response = erin.client_for_test.post(answered.url("hold"), {"hold": "1"})
    assert response.status_code == 403 and response.json()["error"] == "This call is not yours to control."
    assert agent_client.post(answered.url("hold"), {"hold": "maybe"}).status_code == 400
    post("/webhooks/twilio/voice/status/", tw.call_status(
        account_sid=ACME_SID, call_sid=answered.customer, status="completed", from_=CUSTOMER, to=OUR_NUMBER,
        sequence=3))
    response = agent_client.post(answered.url("hold"), {"hold": "1"})
    assert response.status_code == 409 and response.json()["error"] == "The call has ended."


def test_when_twilio_fails_the_agent_is_told_and_nothing_changes(answered, agent_client, twilio):
    twilio.fail_next(1, status=500, code=20500, message="Internal Server Error")
    response = agent_client.post(answered.url("hold"), {"hold": "1"})
    assert response.status_code == 502
    assert response.json()["error"].startswith("Twilio could not do that")
    call = answered.call()
    assert (call.on_hold, call.conference_name) == (False, "")


def test_the_dialer_finds_the_call_of_its_own_leg_and_nobody_elses(answered, agent_client, erin):
    found = agent_client.get("/o/acme/calls/live/", {"sid": answered.dana_leg})
    assert found.status_code == 200
    body = found.json()["call"]
    assert body["id"] == str(answered.call().pk) and body["contact_number"] == CUSTOMER
    assert erin.client_for_test.get("/o/acme/calls/live/", {"sid": answered.dana_leg}).status_code == 404
    assert agent_client.get("/o/acme/calls/live/", {"sid": "CA" + "9" * 32}).status_code == 404


def test_transfer_targets_list_colleagues_with_their_availability(answered, agent_client, erin, org):
    body = agent_client.get("/o/acme/calls/transfer-targets/").json()
    assert body["agents"] == [{"id": str(erin.pk), "name": "Erin Colleague", "status": "available",
                               "label": "Available"}]


def test_conference_callbacks_are_verified_before_anything_is_kept(answered, agent_client, twilio):
    agent_client.post(answered.url("hold"), {"hold": "1"})
    conference = answered.conference()
    with tenant_scope(answered.org):
        Call.objects.filter(pk=answered.call().pk).update(conference_sid="")  # as if Twilio had not said yet
    params = tw.conference_event(account_sid=ACME_SID, conference_sid=conference["sid"],
                                 name=conference["friendly_name"], event="participant-join", call_sid=answered.customer)
    forged = Client().post("/webhooks/twilio/voice/conference/", params, HTTP_X_TWILIO_SIGNATURE="forged")
    assert forged.status_code == 403
    unknown = dict(params, FriendlyName="call_" + "0" * 32)
    assert post("/webhooks/twilio/voice/conference/", unknown).status_code == 404
    assert answered.call().conference_sid == ""
    assert post("/webhooks/twilio/voice/conference/", params).status_code == 204
    assert answered.call().conference_sid == conference["sid"]


# A call placed for an agent: their softphone rings first, then the destination --------------------------


def place(org, agent, number, destination, capture):
    with tenant_scope(org), capture(execute=True):
        return live_calls.call_place_request(organization=org, agent=agent, from_id=number.pk, destination=destination)


def test_a_placed_call_rings_the_agents_softphone_then_dials_the_destination(
        org, agent, our_number, everyone_online, twilio, django_capture_on_commit_callbacks):
    call = place(org, agent, our_number, "(415) 555-0177", django_capture_on_commit_callbacks)
    with tenant_scope(org):
        call.refresh_from_db()
    [created] = twilio.calls(ACME_SID)
    assert created["to"] == "client:" + client_identity(agent) and created["from"] == OUR_NUMBER
    request = next(r for r in twilio.requests if r.path.endswith("/Calls.json"))
    base = settings.PUBLIC_BASE_URL
    assert request.form["Url"] == f"{base}/webhooks/twilio/voice/connect/?call={call.pk}"
    assert request.form["StatusCallback"] == f"{base}/webhooks/twilio/voice/status/?call={call.pk}"
    assert request.form["Timeout"] == "25"
    assert (call.provider_sid, call.status, call.to_number, call.direction) == (created["sid"], "queued", "+14155550177",
                                                                               "outbound")

    # Dana answers in her browser: Twilio asks what next, and we dial the customer from our number.
    connect = f"/webhooks/twilio/voice/connect/?call={call.pk}"
    params = {"CallSid": created["sid"], "AccountSid": ACME_SID, "From": OUR_NUMBER,
              "To": "client:" + client_identity(agent), "CallStatus": "in-progress", "Direction": "outbound-api"}
    root = ET.fromstring(post(connect, params).content)
    dial = root.find("Dial")
    assert dial.get("callerId") == OUR_NUMBER and dial.findtext("Number") == "+14155550177"
    assert presence.status_of([agent], org.pk)[str(agent.pk)] == presence.IN_CALL


def test_twilio_naming_the_placed_call_before_its_answer_arrived_finds_it_by_our_id(
        org, agent, our_number, everyone_online, twilio, django_capture_on_commit_callbacks):
    call = place(org, agent, our_number, "+14155550177", django_capture_on_commit_callbacks)
    with tenant_scope(org):
        Call.objects.filter(pk=call.pk).update(provider_sid="")
    sid = "CA" + "7" * 32
    status = f"/webhooks/twilio/voice/status/?call={call.pk}"
    response = post(status, tw.call_status(account_sid=ACME_SID, call_sid=sid, status="ringing", from_=OUR_NUMBER,
                                           to="client:" + client_identity(agent), sequence=1))
    assert response.status_code == 204
    with tenant_scope(org):
        call.refresh_from_db()
    assert (call.provider_sid, call.status) == (sid, "ringing"), call.failure_reason
    # Dana declines: the call did not happen.
    post(status, tw.call_status(account_sid=ACME_SID, call_sid=sid, status="busy", from_=OUR_NUMBER,
                                to="client:" + client_identity(agent), sequence=2))
    with tenant_scope(org):
        call.refresh_from_db()
    assert call.status == "busy"


def test_placing_a_call_refuses_with_reasons_and_says_when_twilio_failed(
        org, agent, erin, our_number, everyone_online, twilio, django_capture_on_commit_callbacks):
    with pytest.raises(ValidationError) as refused:
        place(org, agent, our_number, "+19005550100", django_capture_on_commit_callbacks)
    assert "premium" in str(refused.value).lower()
    with pytest.raises(ValidationError) as not_theirs:
        place(org, erin, our_number, "+14155550177", django_capture_on_commit_callbacks)
    assert "your numbers" in str(not_theirs.value)
    presence.gone(org.pk, agent.pk)
    with pytest.raises(CallConflict) as offline:
        place(org, agent, our_number, "+14155550177", django_capture_on_commit_callbacks)
    assert "softphone is not online" in str(offline.value)
    presence.heartbeat(org.pk, agent.pk)
    with tenant_scope(org):
        assert Call.objects.count() == 0

    twilio.fail_next(1, status=400, code=21212, message="Invalid From Number (caller ID)")
    call = place(org, agent, our_number, "+14155550177", django_capture_on_commit_callbacks)
    with tenant_scope(org):
        call.refresh_from_db()
    assert call.status == "failed" and call.failure_reason
    assert presence.status_of([agent], org.pk)[str(agent.pk)] == presence.AVAILABLE


def test_the_api_places_a_call_from_my_number_and_refuses_with_reasons(
        org, agent, our_number, everyone_online, twilio, agent_client, django_capture_on_commit_callbacks):
    def api_post(data):
        return agent_client.post("/api/acme/calls", json.dumps(data), content_type="application/json")

    with django_capture_on_commit_callbacks(execute=True):
        response = api_post({"fromNumberId": str(our_number.pk), "to": "+1 415 555 0177"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["direction"] == "outbound" and body["toNumber"] == "+14155550177"
    [created] = twilio.calls(ACME_SID)
    assert created["to"] == "client:" + client_identity(agent)

    refused = api_post({"fromNumberId": str(our_number.pk), "to": "+19005550100"})
    assert refused.status_code == 400 and "Premium-rate" in refused.json()["to"][0]
    presence.gone(org.pk, agent.pk)
    offline = api_post({"fromNumberId": str(our_number.pk), "to": "+14155550177"})
    assert offline.status_code == 409 and "softphone is not online" in offline.json()["detail"]


def test_a_call_is_not_transferred_to_a_colleague_limited_to_another_client(org, owner, answered, erin, agent_client):
    """Erin works only for Borealis: a call on Atlas's number cannot go to her (she could not see it)."""
    atlas, borealis = factories.make_client(org, "Atlas Outfitters"), factories.make_client(org, "Borealis Books")
    with tenant_scope(org):
        PhoneNumber.objects.filter(phone_number=OUR_NUMBER).update(client=atlas)
        membership = Membership.objects.get(user=erin.user)
        tenant_services.membership_set_clients(organization=org, actor=owner, membership=membership, limited=True,
                                               clients=[borealis])
    response = agent_client.post(answered.url("transfer"), {"to": erin.pk, "mode": "blind"})
    assert response.status_code == 400
    assert response.json()["error"] == "Erin Colleague does not work for this number's client."
    assert answered.call().transfer_state == ""
    with tenant_scope(org):
        tenant_services.membership_set_clients(organization=org, actor=owner, membership=membership, limited=True,
                                               clients=[atlas, borealis])
    response = agent_client.post(answered.url("transfer"), {"to": erin.pk, "mode": "blind"})
    assert response.status_code == 200, response.content
