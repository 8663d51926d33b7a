"""A WhatsApp template in a real browser: the customer last wrote 30 hours ago, so the thread says the
window closed and opens "Send a template"; the agent chooses one, the preview follows what they type,
a missing value is asked for before anything is sent, and the template reaches Meta (the Cloud API fake)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from crm import services as crm_services
from messaging.models import Conversation, Direction, Message, MessageStatus, WhatsAppSender
from messaging.services import conversations
from messaging.services import templates as template_services
from softphone.simulator.whatsapp import FakeWhatsApp
from tenants.scoping import tenant_scope
from tests.browser.conftest import login
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser

PHONE_NUMBER_ID = "106540352242922"
WABA = "102290129340398"
TOKEN = "acme-wa-access-token"
CUSTOMER = "+16505551234"


@pytest.fixture
def graph(settings):
    fake = FakeWhatsApp(access_token=TOKEN)
    settings.WHATSAPP_GRAPH_BASE_URL = fake.start()
    fake.add_phone_number(PHONE_NUMBER_ID, "+14155550123")
    fake.attach_to_business_account(PHONE_NUMBER_ID, WABA)
    fake.add_template(WABA, name="order_update", body="Hello {{1}}, your order {{2}} is on its way.")
    fake.add_template(WABA, name="spring_sale", body="Sale!", status="PAUSED")
    yield fake
    fake.stop()


@pytest.fixture
def conversation(org, agent, graph):
    with tenant_scope(org):
        sender = WhatsAppSender.objects.create(
            organization=org, name="Acme WhatsApp", display_phone_number="+14155550123",
            phone_number_id=PHONE_NUMBER_ID, business_account_id=WABA, access_token=TOKEN, app_secret="s",
            verify_token="acme-verify")
        template_services.templates_sync(organization=org, sender=sender)
        contact = crm_services.contact_for(organization=org, phone=CUSTOMER)
        contact.name = "Ana Ruiz"
        contact.save()
        found = conversations.conversation_for(organization=org, contact=contact, channel="whatsapp",
                                               whatsapp_sender=sender)
        Message.objects.create(organization=org, conversation=found, direction=Direction.INBOUND, channel="whatsapp",
                               body="Is my order ready?", status=MessageStatus.RECEIVED, provider_sid="wamid.1")
        earlier = timezone.now() - timedelta(hours=30)
        Conversation.objects.filter(pk=found.pk).update(last_message_at=earlier, last_inbound_at=earlier,
                                                        assignee=agent)
    return found


def test_an_agent_sends_a_template_after_the_window_closed(page, live_server, org, conversation, graph):
    login(page, live_server, "dana", PASSWORD)
    page.goto(f"{live_server.url}/o/acme/inbox/?c={conversation.pk}")
    expect(page.locator("#thread-head")).to_contain_text("WhatsApp window closed")
    expect(page.locator("#verdict")).to_contain_text("only an approved template can be sent now")
    picker = page.locator("#template-picker")
    expect(picker).to_have_attribute("open", "")
    expect(picker).to_contain_text("Not offered: spring_sale (en_US), paused")

    picker.locator("#template-choice").select_option(label="order_update (en_US)")
    first = page.locator("#tv-1")
    expect(first).to_be_visible()
    # Typed only once htmx has wired the swapped-in form (under load that can come after it is visible).
    page.wait_for_function("() => (document.getElementById('tv-1') || {})['htmx-internal-data']?.initHash")
    first.fill("Ana")
    expect(page.locator("#template-preview")).to_contain_text("Hello Ana, your order {{2}} is on its way.")
    page.locator("#template-send button[type=submit]").click()  # {{2}} empty: the browser asks for it first
    assert page.evaluate("document.getElementById('tv-2').validity.valueMissing") is True
    assert graph.sent() == []

    page.locator("#tv-2").fill("#1042")
    expect(page.locator("#template-preview")).to_contain_text("Hello Ana, your order #1042 is on its way.")
    page.locator("#template-send button[type=submit]").click()
    expect(page.locator("article.bubble.outbound")).to_contain_text("Hello Ana, your order #1042 is on its way.")
    expect(page.locator("#template-form")).to_be_empty()
    [sent] = graph.sent()
    assert sent["template"]["name"] == "order_update"
    assert sent["template"]["components"][0]["parameters"] == [{"type": "text", "text": "Ana"},
                                                                {"type": "text", "text": "#1042"}]
