"""The browser softphone's token and heartbeat: the JWT's claims decoded and checked, and presence
as others see it."""

from __future__ import annotations

import re
import time

import jwt
import pytest
from django.test import Client

from core import stamps
from telephony.models import PhoneNumber, Provider
from tenants import presence
from tenants.scoping import tenant_scope
from tests import factories
from tests.vendor_fixtures import ACME_SID, ACME_TOKEN
from tests.vendor_fixtures import VOICE_APP_SID as APP_SID
from tests.vendor_fixtures import VOICE_KEY_SECRET as KEY_SECRET
from tests.vendor_fixtures import VOICE_KEY_SID as KEY_SID

pytestmark = pytest.mark.django_db



@pytest.fixture
def numbers(org, voice_ready, agent):
    with tenant_scope(org):
        mine = PhoneNumber.objects.create(
            organization=org, provider_account=voice_ready, provider=Provider.TWILIO, phone_number="+14155550142",
            agent=agent, friendly_name="Support line", capabilities={"voice": True, "sms": True})
        texts_only = PhoneNumber.objects.create(
            organization=org, provider_account=voice_ready, provider=Provider.TWILIO, phone_number="+14155550143",
            agent=agent, capabilities={"voice": False, "sms": True})
        someone_elses = PhoneNumber.objects.create(
            organization=org, provider_account=voice_ready, provider=Provider.TWILIO, phone_number="+14155550144",
            capabilities={"voice": True, "sms": True})
    return mine, texts_only, someone_elses


def test_the_token_is_a_voice_grant_signed_with_the_api_key_for_an_identity_without_personal_data(
        org, agent, agent_user, agent_client, numbers):
    before = int(time.time())
    response = agent_client.get("/o/acme/telephony/token")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"] or "no-cache" in response["Cache-Control"]
    body = response.json()
    identity = body["identity"]
    assert re.fullmatch(r"[A-Za-z0-9_]{1,121}", identity)
    for personal in (agent_user.username, agent_user.first_name, agent_user.email, agent.name, "Dana"):
        assert personal and personal.lower() not in identity.lower()
    [device] = body["devices"]
    token = device["token"]
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "HS256" and header.get("cty") == "twilio-fpa;v=1"
    claims = jwt.decode(token, KEY_SECRET, algorithms=["HS256"])  # signed with the API key secret
    assert claims["iss"] == KEY_SID and claims["sub"] == ACME_SID
    assert claims["grants"]["identity"] == identity
    voice = claims["grants"]["voice"]
    assert voice["outgoing"]["application_sid"] == APP_SID
    assert voice["incoming"]["allow"] is True
    assert 0 < claims["exp"] - before <= 3600 + 5
    with pytest.raises(jwt.InvalidSignatureError):  # never the auth token
        jwt.decode(token, ACME_TOKEN, algorithms=["HS256"])
    assert KEY_SECRET not in response.content.decode() and ACME_TOKEN not in response.content.decode()
    # Only my voice numbers are offered to call from.
    assert [n["number"] for n in body["numbers"]] == ["+14155550142"]
    assert body["numbers"][0]["label"] == "Support line"


def test_the_identity_is_the_same_every_time_and_differs_between_people(org, agent_client, numbers):
    other_user = factories.make_user("erin")
    factories.add_member(org, other_user)
    factories.make_agent(org, user=other_user, name="Erin")
    erin = Client()
    erin.force_login(other_user)
    first, again = agent_client.get("/o/acme/telephony/token").json(), agent_client.get("/o/acme/telephony/token").json()
    assert first["identity"] == again["identity"]
    assert erin.get("/o/acme/telephony/token").json()["identity"] != first["identity"]


def test_an_account_without_voice_set_up_gives_no_token(org, agent, agent_client, twilio_account):
    body = agent_client.get("/o/acme/telephony/token").json()
    assert body["devices"] == [] and body["numbers"] == []


def test_a_ready_account_that_lost_its_key_says_so_instead_of_a_token(org, agent, agent_client, voice_ready):
    with tenant_scope(org):
        voice_ready.api_key_secret = None
        voice_ready.save()
    body = agent_client.get("/o/acme/telephony/token").json()
    assert body["devices"] == []
    assert body["problems"] and "not set up" in body["problems"][0]


def test_someone_who_is_no_agent_gets_a_clear_404(org, admin, admin_client, voice_ready):
    response = admin_client.get("/o/acme/telephony/token")
    assert response.status_code == 404
    assert "not an agent" in response.json()["error"]


def test_heartbeats_make_an_agent_reachable_and_silence_makes_them_unavailable_within_a_minute(
        org, agent, agent_client, settings):
    try:
        response = agent_client.post("/o/acme/telephony/presence", {"state": "registered"})
        assert response.status_code == 200 and response.json()["status"] == "available"
        assert presence.can_ring(agent, org.pk)
        # The tab goes silent: its last heartbeat ages past the TTL.
        key = f"{settings.REDIS_KEY_PREFIX}softphone:presence:seen:{org.pk}"
        stamps.redis_client().zadd(key, {str(agent.pk): time.time() - presence.PRESENCE_TTL - 1})
        assert presence.PRESENCE_TTL < 60
        assert not presence.can_ring(agent, org.pk)
        assert presence.status_of([agent], org.pk)[str(agent.pk)] == presence.OFFLINE
        agent_client.post("/o/acme/telephony/presence", {"state": "registered"})
        assert presence.can_ring(agent, org.pk)
        response = agent_client.post("/o/acme/telephony/presence", {"state": "gone"})
        assert response.json()["status"] == "offline"
        assert not presence.can_ring(agent, org.pk)
    finally:
        presence.gone(org.pk, agent.pk)


def test_a_heartbeat_with_an_unknown_state_is_a_400(org, agent, agent_client):
    response = agent_client.post("/o/acme/telephony/presence", {"state": "dancing"})
    assert response.status_code == 400 and "registered" in response.json()["error"]
