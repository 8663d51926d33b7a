"""README's walkthrough, step by step, as a newcomer follows it after `make run`: the demo seeded on the
built-in simulated carrier (Twilio, VAPI and WhatsApp), real Celery workers, two browsers (the team's
and the customer's phone). Each step quotes the README sentence it follows.

End to end: a customer texts the demo's number from the customer's phone page; the agent sees it appear
live in the inbox and replies; the customer's phone shows the reply, and the agent sees the delivered
tick once the carrier's signed status callbacks arrive. The same on WhatsApp. A call from the customer's
phone rings the agent's softphone, who accepts and hangs up, and the call shows in the log; the agent
calls back and the customer answers; the AI line is answered by VAPI, whose report reaches the call."""

from __future__ import annotations

import re
from contextlib import contextmanager

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from messaging.models import Message
from messaging.tasks import messages_embed_sweep
from tenants.models import Organization
from tenants.scoping import tenant_scope
from tests.browser.conftest import VIEWPORT, login
from tests.messaging.conftest import wait_for

pytestmark = [pytest.mark.worker]

CUSTOMER = "+14155550188"


@pytest.fixture
def worker_env(live_server):
    """The workers send through the simulated carrier and it calls back the live server."""
    return {"SIMULATOR": "true", "TWILIO_API_BASE_URL": f"{live_server.url}/simulator/twilio",
            "VAPI_API_BASE_URL": f"{live_server.url}/simulator/vapi",
            "WHATSAPP_GRAPH_BASE_URL": f"{live_server.url}/simulator/whatsapp", "PUBLIC_BASE_URL": live_server.url}


@pytest.fixture
def demo(settings, live_server, worker_env, live_worker):
    settings.SIMULATOR_ENABLED = True
    for name in ("TWILIO_API_BASE_URL", "VAPI_API_BASE_URL", "WHATSAPP_GRAPH_BASE_URL", "PUBLIC_BASE_URL"):
        setattr(settings, name, worker_env[name])
    call_command("seed_demo")
    return live_server


@contextmanager
def customer_phone(browser, demo, me: str):
    """The customer's phone page, in a browser of its own, on the customer's number `me` (URL-quoted)."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(10_000)
    phone = context.new_page()
    try:
        login(phone, demo, "owner", "demo-owner-pass")
        phone.goto(f"{demo.url}/simulator/phone/?me={me}")
        expect(phone.get_by_label("To")).to_have_value("+14155550100")
        yield phone
    finally:
        context.close()


def test_first_login_the_owners_home_page_and_the_numbers_left_to_import(page, demo):
    # "The demo agent lands in the Inbox; the owner (and admins) on the organization's home page."
    login(page, demo, "agent", "demo-agent-pass")
    expect(page).to_have_url(re.compile(r"/o/demo/inbox/$"))
    expect(page.locator("#conversation-list")).to_contain_text("Maria Lopez")
    page.context.clear_cookies()
    login(page, demo, "owner", "demo-owner-pass")
    expect(page).to_have_url(re.compile(r"/o/demo/$"))
    # "open conversations by status, how many customers wait for an answer and who has waited longest,
    # today's first-response time, missed calls, and messages and calls per day"
    expect(page.locator("#home-conversations")).to_contain_text("waiting for an answer")
    expect(page.locator("#home-conversations")).to_contain_text("first response today")
    expect(page.locator("#home-conversations .waiting li").first).to_contain_text("since")
    expect(page.get_by_role("heading", name="Messages per day")).to_be_visible()
    expect(page.get_by_role("heading", name="Calls per day")).to_be_visible()
    # "Play the customer on /simulator/phone/ (linked from the organization's home page)"
    expect(page.get_by_role("link", name="Text or call your numbers from a customer's phone")).to_be_visible()
    # "Numbers → Import numbers lists the account's seven other numbers."
    page.goto(f"{demo.url}/o/demo/numbers/import/")
    page.get_by_label("Account", exact=True).select_option(label="Twilio: Demo Twilio (simulated)")
    page.get_by_role("button", name="Show its numbers").click()
    expect(page.locator("input[name=numbers]")).to_have_count(7)
    expect(page.locator("table")).to_contain_text("+14155550178")


def test_a_customer_texts_the_agent_replies_and_sees_it_delivered(page, browser, demo):
    with customer_phone(browser, demo, "%2B14155550188") as phone:

        # The agent, on the inbox's All view.
        login(page, demo, "agent", "demo-agent-pass")
        expect(page).to_have_url(re.compile(r"/o/demo/inbox/$"))
        page.locator("label[for=view-all]").click()
        expect(page.locator("#view-all")).to_be_checked()

        phone.get_by_label("Message").fill("Hi, do you ship to Canada?")
        phone.get_by_role("button", name="Send text").click()
        expect(phone.locator(".phone-thread")).to_contain_text("Hi, do you ship to Canada?")

        row = page.locator("#conversation-list li.row-item", has_text="Hi, do you ship to Canada?")
        expect(row).to_be_visible(timeout=15_000)  # arrives live, without a reload
        row.locator("a").click()
        expect(page.locator("#messages")).to_contain_text("Hi, do you ship to Canada?")
        composer = page.locator("#composer-body")
        composer.fill("Yes! Delivery to Canada takes 4 days.")
        composer.press("Enter")
        bubble = page.locator("article.bubble.outbound", has_text="Yes! Delivery to Canada takes 4 days.")
        expect(bubble).to_be_visible()

        # The reply reaches the customer's phone, and the carrier's callbacks bring the tick.
        expect(phone.locator(".phone-thread")).to_contain_text("Yes! Delivery to Canada takes 4 days.",
                                                               timeout=15_000)
        expect(bubble.locator(".tick")).to_have_text("Delivered", timeout=15_000)

        # "The same page writes on WhatsApp to the demo's simulated sender ..., the reply shows under
        # WhatsApp on the phone, and Meta's signed status webhooks move its tick to Delivered."
        phone.get_by_label("To").select_option(label="WhatsApp +1 415-555-0199")
        phone.get_by_label("Message").fill("Hola, can I pay on delivery?")
        phone.get_by_role("button", name="Send text").click()
        expect(phone.locator(".phone-thread.whatsapp")).to_contain_text("Hola, can I pay on delivery?")
        row = page.locator("#conversation-list li.row-item", has_text="Hola, can I pay on delivery?")
        expect(row).to_be_visible(timeout=15_000)
        row.locator("a").click()
        expect(page.locator("#messages")).to_contain_text("Hola, can I pay on delivery?")
        composer.fill("Yes, cash or card on delivery.")
        composer.press("Enter")
        bubble = page.locator("article.bubble.outbound", has_text="Yes, cash or card on delivery.")
        expect(phone.locator(".phone-thread.whatsapp")).to_contain_text("Yes, cash or card on delivery.",
                                                                         timeout=15_000)
        expect(bubble.locator(".tick")).to_have_text("Delivered", timeout=15_000)


def test_a_customer_calls_the_agents_softphone_rings_and_the_call_is_logged(page, browser, demo):
    # The owner sets up the softphone on the demo's simulated account, as README says.
    login(page, demo, "owner", "demo-owner-pass")
    page.goto(f"{demo.url}/o/demo/numbers/accounts/")
    page.get_by_role("button", name="Set up the softphone").click()
    expect(page.locator(".messages")).to_contain_text("Setting up the softphone")
    for _ in range(40):  # a worker does it; the page shows it once reloaded
        if page.locator("[data-voice-status]").first.text_content().strip() == "Ready":
            break
        page.wait_for_timeout(500)
        page.reload()
    expect(page.locator("[data-voice-status]").first).to_have_text("Ready")
    page.context.clear_cookies()

    # The agent's browser: its softphone is the simulated device, registered with the simulated carrier.
    login(page, demo, "agent", "demo-agent-pass")
    expect(page).to_have_url(re.compile(r"/o/demo/inbox/$"))
    expect(page.locator("#voice-presence")).to_have_text("Available", timeout=15_000)

    with customer_phone(browser, demo, "%2B14155550123") as phone:
        phone.get_by_role("button", name="Call this number").click()
        expect(phone.locator(".phone-call")).to_contain_text("Calling +14155550100… ringing")

        # It rings in the agent's browser, with who is calling; the agent accepts.
        incoming = page.locator("#incoming-call")
        expect(incoming).to_be_visible(timeout=15_000)
        expect(incoming).to_contain_text("Maria Lopez")
        incoming.get_by_role("button", name="Accept").click()
        expect(page.locator("#call-state")).to_have_text("In call", timeout=10_000)
        expect(phone.locator(".phone-call")).to_contain_text("In a call with +14155550100", timeout=10_000)

        # The agent hangs up; the customer's phone and the call log say how it went.
        page.locator("#call-hangup").click()
        expect(page.locator("#softphone-status")).to_contain_text("Call ended", timeout=10_000)
        expect(phone.locator(".phone-call-log")).to_contain_text("Call to +14155550100: completed", timeout=10_000)
        page.goto(f"{demo.url}/o/demo/calls/")
        latest = page.locator("table.call-log tbody tr").first
        expect(latest).to_contain_text("Maria Lopez")
        expect(latest).to_contain_text("Adam Agent")

        # "The agent's panel can call Maria back: her phone page shows Incoming call with Answer and Decline."
        expect(page.locator("#softphone-status")).to_have_text("Ready", timeout=10_000)  # registered again
        latest.get_by_role("button", name=re.compile("Call back")).click()
        expect(phone.locator(".phone-call")).to_contain_text("Incoming call from +14155550100", timeout=10_000)
        phone.get_by_role("button", name="Answer").click()
        expect(page.locator("#call-state")).to_have_text("In call", timeout=10_000)
        phone.get_by_role("button", name="Hang up").click()
        expect(page.locator("#softphone-status")).to_contain_text("Call ended", timeout=10_000)

        # "Calling +14155550171 reaches Ava, the AI receptionist, through the simulated VAPI: the call shows
        # while it lasts, and when the customer hangs up ... VAPI's end-of-call report brings its
        # transcript, summary and cost to the call's page."
        phone.get_by_label("To").select_option("+14155550171")
        phone.get_by_role("button", name="Call this number").click()
        expect(phone.locator(".phone-call")).to_contain_text("Talking to the AI agent of +14155550171")
        phone.get_by_role("button", name="Hang up").click()
        expect(phone.locator(".phone-call-log")).to_contain_text("Call to +14155550171: completed")
        page.goto(f"{demo.url}/o/demo/calls/")
        ai = page.locator("table.call-log tbody tr", has_text="Ava, AI receptionist").first
        ai.get_by_role("link").first.click()
        expect(page.locator("body")).to_contain_text("The caller said")


def test_search_by_meaning_in_the_demo(page, demo, live_worker):
    # "Every message is embedded by a worker after it arrives": beat's sweep (run here) asks the bulk worker.
    messages_embed_sweep()
    organization = Organization.objects.get(slug="demo")

    def embedded() -> bool:
        with tenant_scope(organization):
            return not Message.objects.filter(embedding_model="").exclude(body="").exists()

    wait_for(embedded, 60, "the demo's messages embedded")
    login(page, demo, "agent", "demo-agent-pass")
    # 'in the demo, "I paid two times" finds "I was charged twice for the same order.", marked By meaning
    # (no word of it was typed), which Words alone does not find'
    page.locator("label[for=view-all]").click()
    page.locator("#inbox-search").fill("I paid two times")
    page.locator("#inbox-search").press("Enter")
    expect(page.locator("#conversation-list")).to_contain_text("No conversations here.")
    page.get_by_label("Search by", exact=True).select_option(label="Words and meaning")
    row = page.locator("#conversation-list li.row-item", has_text="I was charged twice for the same order.").first
    expect(row).to_be_visible()
    expect(row.locator(".by-meaning")).to_have_text("By meaning")
    # "Suggested replies offers what agents answered to similar messages": open it; its reply is offered
    # on another customer's conversation about the same thing.
    row.locator("a").click()
    expect(page.locator("#similar-conversations")).to_contain_text("I was charged twice for the same order.")
