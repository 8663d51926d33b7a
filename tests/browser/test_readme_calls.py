"""README's "Calls" walkthrough, step by step, in a real browser on the demo organization of
`seed_demo`, with a Twilio fake holding the demo's account (AC…01, demo-token) standing for Twilio."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from softphone.management.commands.seed_demo import DEMO_ACCOUNT_SID, DEMO_TOKEN
from softphone.simulator.twilio import FakeTwilio
from telephony.models import ProviderAccount
from tenants.models import Organization
from tenants.scoping import tenant_scope
from tests.browser.conftest import login


@pytest.fixture
def simulated_twilio(settings):
    fake = FakeTwilio()
    settings.TWILIO_API_BASE_URL = fake.start()
    fake.add_account(DEMO_ACCOUNT_SID, DEMO_TOKEN, friendly_name="Demo account")
    yield fake
    fake.stop()


@pytest.mark.django_db(transaction=True)
def test_the_readme_calls_walkthrough(page, live_server, simulated_twilio):
    call_command("seed_demo")
    demo = Organization.objects.get(slug="demo")

    # "As the demo owner, open Numbers → Accounts and press Set up the softphone."
    login(page, live_server, "owner", "demo-owner-pass")
    page.goto(live_server.url + "/o/demo/numbers/accounts/")
    page.get_by_role("button", name="Set up the softphone").click()
    expect(page.locator("[data-voice-status]")).to_have_text("Ready")
    [app] = simulated_twilio.applications(DEMO_ACCOUNT_SID)
    assert app["voice_url"].endswith("/webhooks/twilio/voice/outbound/")
    assert len(simulated_twilio.keys(DEMO_ACCOUNT_SID)) == 1
    with tenant_scope(demo):
        account = ProviderAccount.objects.get(account_sid=DEMO_ACCOUNT_SID)
    assert account.api_key_secret and account.api_key_secret not in page.content()

    # "Numbers → Calling rules decides whether premium-rate and emergency numbers may be called."
    page.goto(live_server.url + "/o/demo/numbers/")
    page.get_by_role("link", name="Calling rules").click()
    expect(page.get_by_label("Allow premium-rate numbers")).not_to_be_checked()

    # "The demo agent's Calls page lists the demo's calls ..., a badge counts missed calls."
    page.context.clear_cookies()
    login(page, live_server, "agent", "demo-agent-pass")
    expect(page.locator(".missed-badge")).to_have_text("1 missed call")
    page.goto(live_server.url + "/o/demo/calls/")
    log = page.locator("table.call-log")
    expect(log).to_contain_text("Maria Lopez")
    expect(log).to_contain_text("Kenji Watanabe")
    expect(log).to_contain_text("Aisha Bello")
    maria = log.locator("tr", has_text="Maria Lopez")
    expect(maria).to_contain_text(re.compile(r"4:12"))
    expect(maria.get_by_role("button", name=re.compile("Call back"))).to_be_visible()
    page.reload()
    expect(page.locator(".missed-badge")).to_have_count(0)  # the log was looked at

    # "... the calls also appear in the customer's conversation between the messages (Maria Lopez's)."
    page.goto(live_server.url + "/o/demo/inbox/")
    page.locator("#conversation-list").get_by_text("Maria Lopez").first.click()
    expect(page.locator("#messages")).to_contain_text("Where is my order #1042?")
    expect(page.locator("#messages article.call")).to_contain_text("4:12")

    # "Contacts and orders": '"#1042" in a message links to that order: Maria Lopez asks where hers is,
    # and the link opens order #1042, shipped, with its two lines and its history.'
    page.locator("#messages a.order-ref", has_text="#1042").click()
    expect(page.locator("h1")).to_contain_text("Order #1042")
    expect(page.locator("h1 .chip")).to_have_text("Shipped")
    expect(page.locator("table.call-log tbody tr")).to_have_count(2)
    expect(page.locator("body")).to_contain_text("Processing → Shipped")
    # "The contact panel lists the customer's orders" (back in Maria's conversation).
    page.go_back()
    expect(page.locator("#contact-orders #order-1042")).to_contain_text("Shipped")
    expect(page.locator("#contact-orders #order-1042").get_by_role("button", name="Mark delivered")).to_be_visible()
