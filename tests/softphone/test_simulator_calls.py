"""Calls on the simulated carrier (softphone.simulator.voice): a customer's phone calls the demo's numbers
and answers our calls; the browser softphone's simulated device (what static/js/simulated_voice.js asks)
rings, accepts, rejects and hangs up; VAPI answers the AI agent's line. Everything the product learns
comes from the simulated Twilio's and VAPI's signed webhooks to the live server, as it would from theirs."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from softphone.management.commands.seed_demo import DEMO_ACCOUNT_SID, DEMO_AI_NUMBER, DEMO_NUMBER
from softphone.simulator import voice
from softphone.simulator.state import simulated
from telephony.models import Call, ProviderAccount
from tenants import presence
from tenants.models import Agent, Organization
from tenants.scoping import tenant_scope

MARIA = "+14155550123"  # a customer of the demo
ME = "%2B14155550123"  # her number in a query string


class Clock:
    """The simulated carrier's time, moved by the test (a dial's timeout, a voicemail's end)."""

    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(voice, "_now", clock)
    return clock


@pytest.fixture
def demo(simulator_on, settings, django_capture_on_commit_callbacks):
    """The demo seeded on the simulated vendors, its softphone set up by the owner (through the simulated
    Twilio's API), and the demo agent's browser present."""
    settings.VAPI_API_BASE_URL = f"{simulator_on.url}/simulator/vapi"
    call_command("seed_demo")
    organization = Organization.objects.get(slug="demo")
    users = get_user_model().objects
    owner, agent = Client(), Client()
    owner.force_login(users.get(username="owner"))
    agent.force_login(users.get(username="agent"))
    with tenant_scope(organization):
        account = ProviderAccount.objects.get(account_sid=DEMO_ACCOUNT_SID)
        me = Agent.objects.get(user__username="agent")
    with django_capture_on_commit_callbacks(execute=True):
        owner.post(f"/o/demo/numbers/accounts/{account.pk}/voice/", {"enabled": "1"})
    token = agent.get("/o/demo/telephony/token").json()["devices"][0]["token"]
    presence.heartbeat(organization.pk, me.pk)
    yield organization, owner, agent, token, me
    presence.gone(organization.pk, me.pk)
    presence.in_call_clear(organization.pk, me.pk)


def _device(client: Client, token: str, path: str = "device/", **data):
    return client.post(f"/simulator/voice/{path}", data, HTTP_X_TWILIO_ACCESS_TOKEN=token)


def _news(token: str, *, register: bool = False) -> list[dict]:
    answer = _device(Client(), token, register="1" if register else "")
    assert answer.status_code == 200, answer.content
    return answer.json()["calls"]


def _call(organization) -> Call:
    with tenant_scope(organization):
        return Call.objects.select_related("agent", "contact").order_by("-created_at").first()


def _phone(owner: Client, **data):
    return owner.post("/simulator/phone/call/", {"me": MARIA, **data})


def test_a_customer_calls_the_agent_rings_accepts_and_hangs_up(demo, clock):
    organization, owner, agent, token, me = demo
    assert _news(token, register=True) == []
    assert _phone(owner, to=DEMO_NUMBER).status_code == 302
    [ringing] = _news(token)
    assert ringing["direction"] == "incoming" and ringing["status"] == "ringing" and ringing["from"] == MARIA
    assert ringing["custom"]["contact_name"] == "Maria Lopez"  # the product's <Parameter>s reach the device
    call = _call(organization)
    assert call.from_number == MARIA and call.status == "ringing"
    assert "Calling +14155550100… ringing" in owner.get(f"/simulator/phone/thread/?me={ME}").content.decode()

    clock.now += 5
    assert _device(Client(), token, f"calls/{ringing['sid']}/accept/").status_code == 200
    call = _call(organization)
    assert call.status == "in-progress" and call.agent == me  # the leg's "answered" callback said who
    assert "In a call with +14155550100" in owner.get(f"/simulator/phone/thread/?me={ME}").content.decode()

    clock.now += 65
    assert _device(Client(), token, f"calls/{ringing['sid']}/hangup/").status_code == 200
    call = _call(organization)
    assert call.status == "completed" and call.duration == 65
    with simulated("twilio") as fake:
        legs = {c["sid"]: c for c in fake.calls(DEMO_ACCOUNT_SID)}
    assert legs[call.provider_sid]["status"] == "completed" and legs[ringing["sid"]]["status"] == "completed"
    thread = owner.get(f"/simulator/phone/thread/?me={ME}").content.decode()
    assert "Call to +14155550100: completed" in thread
    # The call log shows it.
    assert "Maria Lopez" in agent.get("/o/demo/calls/").content.decode()


def test_nobody_answers_the_caller_leaves_a_voicemail_the_agent_can_play(demo, clock):
    organization, owner, agent, token, me = demo
    _news(token, register=True)
    _phone(owner, to=DEMO_NUMBER)
    [ringing] = _news(token)
    clock.now += 31  # past the number's ring timeout (the <Dial timeout>)
    assert _news(token)[0]["status"] == "no-answer"
    assert "Leaving a voicemail for +14155550100" in owner.get(f"/simulator/phone/thread/?me={ME}").content.decode()
    clock.now += voice.VOICEMAIL_SECONDS
    owner.get(f"/simulator/phone/thread/?me={ME}")  # the carrier moves on when asked
    call = _call(organization)
    assert call.voicemail and call.status == "no-answer" and call.answered_at is None  # missed, with a message
    assert call.recording_duration == voice.VOICEMAIL_SECONDS
    audio = agent.get(f"/o/demo/calls/{call.pk}/recording/")
    assert audio.status_code == 200 and audio["Content-Type"] == "audio/mpeg"
    assert b"".join(audio.streaming_content)[:2] == b"\xff\xfb"  # MPEG audio, fetched from the simulated Twilio


def test_the_agent_rejects_and_the_caller_hangs_up_during_the_voicemail(demo, clock):
    organization, owner, agent, token, me = demo
    _news(token, register=True)
    _phone(owner, to=DEMO_NUMBER)
    [ringing] = _news(token)
    _device(Client(), token, f"calls/{ringing['sid']}/reject/")
    page = owner.get(f"/simulator/phone/thread/?me={ME}").content.decode()
    assert "Leaving a voicemail" in page
    clock.now += 2
    parent = _call(organization).provider_sid
    assert _phone(owner, sid=parent, action="hangup").status_code == 302
    call = _call(organization)
    assert call.voicemail and call.recording_duration == 2 and call.status == "no-answer"


def test_the_caller_gives_up_while_it_rings(demo, clock):
    organization, owner, agent, token, me = demo
    _news(token, register=True)
    _phone(owner, to=DEMO_NUMBER)
    [ringing] = _news(token)
    clock.now += 3
    _phone(owner, sid=_call(organization).provider_sid, action="hangup")
    assert _news(token)[0]["status"] == "canceled"  # the device's call emits "cancel"
    call = _call(organization)
    assert call.status == "no-answer" and call.answered_at is None  # a missed call
    assert not call.voicemail


def test_the_agent_calls_the_customer_who_answers_then_hangs_up(demo, clock):
    organization, owner, agent, token, me = demo
    _news(token, register=True)
    placed = _device(Client(), token, "connect/", To=MARIA)
    assert placed.status_code == 200, placed.content
    sid = placed.json()["sid"]
    [mine] = _news(token)
    assert mine == {"sid": sid, "direction": "outgoing", "status": "ringing", "from": f"client:{mine['from'][7:]}",
                    "to": MARIA, "custom": {}}
    thread = owner.get(f"/simulator/phone/thread/?me={ME}").content.decode()
    assert "Incoming call from +14155550100" in thread  # the demo agent's number is the caller id
    with simulated("voice") as network:
        [leg] = [leg for leg in network.legs.values() if leg["parent"] == sid]
    clock.now += 4
    assert _phone(owner, sid=leg["sid"], action="answer").status_code == 302
    assert _news(token)[0]["status"] == "answered"
    call = _call(organization)
    assert call.direction == "outbound" and call.to_number == MARIA and call.status == "in-progress"
    clock.now += 30
    _phone(owner, sid=leg["sid"], action="hangup")
    assert _news(token)[0]["status"] == "ended"
    call = _call(organization)
    assert call.status == "completed" and call.duration == 30


def test_the_ai_line_is_answered_by_vapi_which_reports_the_call(demo, clock):
    organization, owner, agent, token, me = demo
    assert _phone(owner, to=DEMO_AI_NUMBER).status_code == 302
    assert "Talking to the AI agent of +14155550171" in owner.get(f"/simulator/phone/thread/?me={ME}").content.decode()
    with tenant_scope(organization):
        live = Call.objects.filter(to_number=DEMO_AI_NUMBER).order_by("-created_at").first()
    assert live is not None and live.status == "in-progress"  # VAPI's status-update
    clock.now += voice.AI_TALK_SECONDS
    owner.get(f"/simulator/phone/thread/?me={ME}")
    with tenant_scope(organization):
        reported = Call.objects.select_related("agent").get(pk=live.pk)
    assert reported.status == "completed" and reported.agent.name == "Ava, AI receptionist"
    assert "Ava, AI receptionist" in reported.transcript and reported.summary.startswith("The caller said")


def test_forged_or_foreign_tokens_are_refused_and_nothing_rings_them(demo, clock):
    organization, owner, agent, token, me = demo
    assert _device(Client(), "not-a-token").status_code == 401
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    refused = _device(Client(), forged)
    assert refused.status_code == 401 and refused.json()["code"] == 20101
    _phone(owner, to=DEMO_NUMBER)
    [ringing] = _news(token)
    assert _device(Client(), forged, f"calls/{ringing['sid']}/accept/").status_code == 401
    assert _call(organization).status == "ringing"
    assert _device(Client(), token, "calls/CA0123/explode/").status_code == 404
