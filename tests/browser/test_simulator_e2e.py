"""End to end on the built-in simulated carrier, as a newcomer tries it after `make run`: the demo
seeded, real Celery workers, two browsers. A customer texts the demo's number from the customer's phone
page; the agent sees it appear live in the inbox, replies; the customer's phone shows the reply, and the
agent sees the delivered tick once the carrier's signed status callbacks arrive."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from tests.browser.conftest import VIEWPORT, login

pytestmark = [pytest.mark.worker]

CUSTOMER = "+14155550188"


@pytest.fixture
def worker_env(live_server):
    """The workers send through the simulated carrier and it calls back the live server."""
    return {"SIMULATOR": "true", "TWILIO_API_BASE_URL": f"{live_server.url}/simulator/twilio",
            "PUBLIC_BASE_URL": live_server.url}


@pytest.fixture
def demo(settings, live_server, worker_env, live_worker):
    settings.SIMULATOR_ENABLED = True
    settings.TWILIO_API_BASE_URL = worker_env["TWILIO_API_BASE_URL"]
    settings.PUBLIC_BASE_URL = live_server.url
    call_command("seed_demo")
    return live_server


def test_a_customer_texts_the_agent_replies_and_sees_it_delivered(page, browser, demo):
    # The customer's phone, in a browser of its own.
    phone_context = browser.new_context(viewport=VIEWPORT)
    phone_context.set_default_timeout(10_000)
    phone = phone_context.new_page()
    try:
        login(phone, demo, "owner", "demo-owner-pass")
        phone.goto(f"{demo.url}/simulator/phone/?me=%2B14155550188")
        expect(phone.get_by_label("To")).to_have_value("+14155550100")

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
    finally:
        phone_context.close()
