"""Where the softphone shows on the pages: the top bar's availability, the dialer for agents only,
the team page's availability of each agent, and the Content-Security-Policy that lets the Voice SDK
reach Twilio (and nothing else)."""

from __future__ import annotations

import re

import pytest

from tenants import presence
from tenants.models import Agent
from tenants.scoping import tenant_scope
from tests import factories
from tests.messaging.conftest import CUSTOMER, our_number  # noqa: F401
from tests.messaging.test_inbox import make_conversation

pytestmark = pytest.mark.django_db


@pytest.fixture
def fresh_presence(org):
    yield
    with tenant_scope(org):
        ids = list(Agent.objects.filter(organization=org).values_list("pk", flat=True))
    for agent_id in ids:
        presence.gone(org.pk, agent_id)
        presence.in_call_clear(org.pk, agent_id)


def presence_label(html: str) -> str:
    match = re.search(r'<span id="voice-presence" class="presence presence-(\w+)"[^>]*>([^<]*)</span>', html)
    assert match, "no presence in the top bar"
    return f"{match.group(1)}: {match.group(2)}"


def test_an_agent_sees_the_phone_and_what_colleagues_see_of_them_on_every_page(org, agent, agent_client,
                                                                                 fresh_presence):
    for path in ("/o/acme/", "/o/acme/team/", "/o/acme/inbox/"):
        html = agent_client.get(path).content.decode()
        assert presence_label(html) == "offline: Away (softphone offline)"  # no heartbeat yet
        assert html.count('id="availability-select"') == 1  # the inbox no longer has its own
        assert 'id="softphone-toggle"' in html and 'aria-controls="softphone"' in html
        assert 'data-token-url="/o/acme/telephony/token"' in html
        assert 'data-calls-url="/o/acme/calls/"' in html
        assert "vendor/twilio.min.js" in html and "js/dialer.js" in html
    presence.heartbeat(org.pk, agent.pk)
    assert presence_label(agent_client.get("/o/acme/").content.decode()) == "available: Available"
    presence.in_call_set(org.pk, agent.pk, "call-1")
    assert presence_label(agent_client.get("/o/acme/").content.decode()) == "in_call: In a call"


def test_choosing_away_in_the_top_bar_answers_with_what_colleagues_now_see(org, agent, agent_client,
                                                                           fresh_presence):
    presence.heartbeat(org.pk, agent.pk)
    response = agent_client.post("/o/acme/inbox/availability/", {"availability": "away"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert presence_label(response.content.decode()) == "away: Away"
    response = agent_client.post("/o/acme/inbox/availability/", {"availability": "available"},
                                 HTTP_HX_REQUEST="true")
    assert presence_label(response.content.decode()) == "available: Available"


def test_someone_who_is_no_agent_gets_no_phone(org, admin, admin_client_org, our_number):  # noqa: F811
    html = admin_client_org.get("/o/acme/").content.decode()
    assert "softphone-toggle" not in html and 'id="softphone"' not in html
    assert "twilio.min.js" not in html and "voice-presence" not in html
    conversation = make_conversation(org, our_number, CUSTOMER, name="Maria Lopez")
    html = admin_client_org.get(f"/o/acme/inbox/?view=all&c={conversation.pk}").content.decode()
    assert "Maria Lopez" in html and "data-softphone-dial" not in html  # nothing to call with


def test_the_contact_pane_calls_the_contact_from_the_conversations_number(org, agent, agent_client,
                                                                           our_number):  # noqa: F811
    conversation = make_conversation(org, our_number, CUSTOMER, name="Maria Lopez")
    html = agent_client.get(f"/o/acme/inbox/?view=all&c={conversation.pk}").content.decode()
    assert (f'<button type="button" class="call-link" data-softphone-dial data-number="{CUSTOMER}" '
            f'data-from="{our_number.pk}">Call<span class="visually-hidden"> Maria Lopez</span></button>') in html


def test_the_team_page_shows_each_agents_availability(org, agent, admin_client_org, fresh_presence):
    erin = factories.make_agent(org, user=factories.make_user("erin"), name="Erin")
    frank = factories.make_agent(org, user=factories.make_user("frank"), name="Frank")
    gina = factories.make_agent(org, user=factories.make_user("gina"), name="Gina")
    bot = factories.make_agent(org, name="Night bot", kind="ai", assistant_id="asst_1")
    for person in (erin, frank, gina):
        presence.heartbeat(org.pk, person.pk)
    presence.in_call_set(org.pk, frank.pk, "call-1")
    with tenant_scope(org):
        Agent.objects.filter(pk=gina.pk).update(availability="away")
    html = admin_client_org.get("/o/acme/team/").content.decode()
    shown = {}
    for row_agent in (agent, erin, frank, gina, bot):
        row = re.search(rf'<tr id="agent-{row_agent.pk}">(.*?)</tr>', html, re.S).group(1)
        shown[row_agent.name] = re.search(r'class="presence presence-\w+">([^<]*)<', row).group(1)
    assert shown == {"Dana Agent": "Away (softphone offline)", "Erin": "Available", "Frank": "In a call",
                     "Gina": "Away", "Night bot": "Available"}


def test_the_policy_lets_the_voice_sdk_reach_twilio_and_nothing_else_loosens(agent_client, agent):
    policy = agent_client.get("/o/acme/")["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'"  # the SDK is served by us, from npm
    assert directives["connect-src"].split() == [
        "'self'", "wss://voice-js.roaming.twilio.com", "https://eventgw.twilio.com", "https://sdk.twilio.com",
        "https://media.twiliocdn.com"]
    assert directives["media-src"].split() == [
        "'self'", "mediastream:", "https://sdk.twilio.com", "https://media.twiliocdn.com"]
    assert directives["default-src"] == "'self'" and directives["style-src"] == "'self'"
    assert "unsafe" not in policy and "*" not in policy
