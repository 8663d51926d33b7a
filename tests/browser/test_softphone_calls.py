"""An incoming call end to end in a real browser: Twilio's signed webhooks (sent by the test, as
Twilio would) reach the live server, the page's Voice SDK is the test double, and everything else is
real: the routing, the hold button against the Twilio fake, the call log page."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from softphone.simulator import twilio_webhooks as tw
from telephony.identity import client_identity
from telephony.models import Call
from tenants import presence
from tenants.scoping import tenant_scope
from tests.browser.conftest import login
from tests.browser.test_softphone import CUSTOMER, lines, maria, with_fake_sdk  # noqa: F401
from tests.factories import PASSWORD
from tests.messaging.conftest import wait_for
from tests.vendor_fixtures import ACME_SID, ACME_TOKEN

SUPPORT = "+14155550142"


def signed(path: str, params: dict):
    url = settings.PUBLIC_BASE_URL + path
    return Client().post(path, params, HTTP_X_TWILIO_SIGNATURE=tw.signature(url, params, ACME_TOKEN))


@pytest.mark.django_db(transaction=True)
def test_an_incoming_call_rings_the_browser_is_accepted_held_and_shown_in_the_log(
        page, live_server, org, agent, lines, maria, twilio):  # noqa: F811
    with_fake_sdk(page)
    login(page, live_server, "dana", PASSWORD)
    page.locator("#softphone-toggle").click()
    expect(page.locator("#softphone-status")).to_have_text("Ready")
    wait_for(lambda: presence.can_ring(agent, org.pk), what="Dana's softphone to be reachable")
    page.keyboard.press("Escape")

    # Maria calls the support line: Twilio asks us what to do and we ring Dana's browser.
    params = tw.incoming_call(account_sid=ACME_SID, to=SUPPORT, from_=CUSTOMER)
    twilio.add_call(ACME_SID, sid=params["CallSid"], sender=CUSTOMER, to=SUPPORT)
    answer = signed("/webhooks/twilio/voice/inbound/", params)
    client = ET.fromstring(answer.content).find("Dial/Client")
    assert client.findtext("Identity") == client_identity(agent)
    custom = {p.get("name"): p.get("value") for p in client.findall("Parameter")}
    page.evaluate("(custom) => __twilioTest.incoming(custom, '+14155550199')", custom)
    note = page.get_by_role("alertdialog", name="Incoming call")
    expect(note).to_contain_text("Maria Lopez")
    expect(note).to_contain_text("Calling Support line")
    note.get_by_role("button", name="Accept").click()
    expect(page.locator("#call-state")).to_have_text("In call")

    # Twilio reports Dana's leg answered.
    leg = twilio.add_call(ACME_SID, sender=SUPPORT, to="client:" + client_identity(agent),
                          direction="outbound-dial", parent_call_sid=params["CallSid"])
    signed("/webhooks/twilio/voice/status/", tw.call_status(
        account_sid=ACME_SID, call_sid=leg, parent_call_sid=params["CallSid"], status="in-progress", from_=CUSTOMER,
        to="client:" + client_identity(agent)))

    # Hold, for real: the call moves into its conference at the Twilio fake.
    page.locator("#call-hold").click()
    expect(page.locator("#call-state")).to_have_text("On hold")
    with tenant_scope(org):
        call = Call.objects.get(provider_sid=params["CallSid"])
    assert call.on_hold and call.conference_name == "call_" + call.pk.hex
    assert "<Conference" in twilio.call(ACME_SID, leg)["twiml"]

    # Maria hangs up; the call log shows the call, answered by Dana.
    signed("/webhooks/twilio/voice/status/", tw.call_status(
        account_sid=ACME_SID, call_sid=params["CallSid"], status="completed", from_=CUSTOMER, to=SUPPORT, sequence=4,
        duration=95))
    page.evaluate("__twilioTest.remoteHangup()")
    page.goto(live_server.url + "/o/acme/calls/")
    row = page.locator(f"#call-{call.pk}")
    expect(row).to_contain_text("Maria Lopez")
    expect(row).to_contain_text("Dana Agent")
    expect(row).to_contain_text(re.compile(r"Completed.*1:35"))
    presence.gone(org.pk, agent.pk)
