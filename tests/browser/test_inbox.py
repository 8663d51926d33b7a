"""The inbox in a real browser: an agent logs in, opens a conversation, replies, sees the delivered
tick after Twilio's status callback, sees a customer's new message arrive live, and stored markup
stays text. The server is the live server; Twilio is the HTTP-level fake the other tests use."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from crm import services as crm_services
from messaging.models import Conversation, Direction, Message, MessageStatus
from messaging.services import conversations
from tenants.scoping import tenant_scope
from tests.browser.conftest import axe_violations, login
from tests.factories import PASSWORD
from tests.messaging.conftest import CUSTOMER, TwilioPoster, our_number  # noqa: F401
from tests.vendor_fixtures import ACME_SID, ACME_TOKEN

XSS = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">'


@pytest.fixture
def conversation(org, our_number, agent):  # noqa: F811
    with tenant_scope(org):
        contact = crm_services.contact_for(organization=org, phone=CUSTOMER)
        contact.name = "Maria Lopez"
        contact.save()
        conversation = conversations.conversation_for(organization=org, contact=contact, channel="sms",
                                                      phone_number=our_number)
        Message.objects.create(organization=org, conversation=conversation, direction=Direction.INBOUND,
                               channel="sms", body="Where is my order 1042?", status=MessageStatus.RECEIVED,
                               provider_sid="SM" + "1" * 32)
        Conversation.objects.filter(pk=conversation.pk).update(
            last_message_at=timezone.now(), last_inbound_at=timezone.now(),
            last_message_preview="Where is my order 1042?", unread_count=1, assignee=agent)
    return conversation


@pytest.fixture
def inbox(page, live_server, agent, conversation):
    """Dana, logged in, on her inbox."""
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    login(page, live_server, "dana", PASSWORD)
    page.goto(f"{live_server.url}/o/acme/inbox/")
    page.dialogs = dialogs
    return page


def test_an_agent_opens_a_conversation_replies_and_sees_it_delivered(inbox, org, conversation, twilio):
    page = inbox
    row = page.locator(f"#row-{conversation.pk}")
    expect(row).to_contain_text("Maria Lopez")
    expect(row.locator(".unread-badge")).to_have_text("1")
    expect(page.locator("#unread-total")).to_have_text("1")

    row.locator("a").click()
    expect(page.locator("#thread-head h1")).to_have_text("Maria Lopez")
    expect(page.locator("#messages")).to_contain_text("Where is my order 1042?")
    expect(page.locator("#contact-pane")).to_contain_text(CUSTOMER)
    expect(row.locator(".unread-badge")).to_have_count(0)  # opened: read for the team
    expect(page).to_have_url(re.compile(rf"c={conversation.pk}"))

    composer = page.locator("#composer-body")
    composer.fill("It ships today,")
    composer.press("Shift+Enter")  # a new line, not a send
    composer.type("tracking follows.")
    expect(page.locator("#segments")).to_contain_text("1 SMS segment (GSM-7)")
    composer.press("Enter")

    bubble = page.locator("article.bubble.outbound")
    expect(bubble).to_contain_text("It ships today,")
    expect(composer).to_have_value("")
    sent = twilio.messages(ACME_SID)
    assert [m["body"] for m in sent] == ["It ships today,\ntracking follows."]

    # Twilio reports delivery: the tick changes without a reload.
    TwilioPoster().status(ACME_TOKEN, message_sid=sent[0]["sid"], status="delivered")
    expect(bubble.locator(".tick")).to_have_text("Delivered", timeout=5000)
    assert page.dialogs == []


def test_a_new_inbound_message_appears_live(inbox, org, conversation):
    page = inbox
    page.locator(f"#row-{conversation.pk} a").click()
    expect(page.locator("#messages")).to_contain_text("Where is my order 1042?")

    response, _ = TwilioPoster().inbound(ACME_TOKEN, body="Hello? Any news?", message_sid="SM" + "2" * 32)
    assert response.status_code == 200
    expect(page.locator("#messages")).to_contain_text("Hello? Any news?", timeout=5000)
    expect(page.locator(f"#row-{conversation.pk} .row-preview")).to_have_text("Hello? Any news?")

    # A second customer writes: a new row appears at the top of the All list, unread (the number has
    # no agent, so the conversation is unassigned and not in Dana's Mine view).
    page.locator("label[for=view-all]").click()
    expect(page.locator("#view-all")).to_be_checked()
    expect(page).to_have_url(re.compile(r"view=all"))
    TwilioPoster().inbound(ACME_TOKEN, body="New customer here", message_sid="SM" + "3" * 32,
                           from_="+14155550177")
    first = page.locator("#conversation-list li.row-item").first
    expect(first).to_contain_text("New customer here", timeout=5000)
    expect(first.locator(".unread-badge")).to_have_text("1")


def test_stored_markup_shows_as_text(inbox, org, conversation):
    page = inbox
    with tenant_scope(org):
        conversation.contact.name = XSS
        conversation.contact.save()
        Message.objects.create(organization=org, conversation=conversation, direction=Direction.INBOUND,
                               channel="sms", body=XSS, status=MessageStatus.RECEIVED, provider_sid="SM" + "4" * 32)
        Conversation.objects.filter(pk=conversation.pk).update(last_message_preview=XSS)
    page.reload()
    page.locator(f"#row-{conversation.pk} a").click()
    expect(page.locator("#thread-head h1")).to_have_text(XSS)
    expect(page.locator("#messages article.bubble").last).to_contain_text("<script>window.pwned=1</script>")
    assert page.evaluate("window.pwned === undefined")
    assert page.dialogs == []


def test_keyboard_and_the_refusal_shown_before_typing(inbox, org, conversation, our_number):  # noqa: F811
    page = inbox
    with tenant_scope(org):
        crm_services.contact_set_opt_out(contact=conversation.contact, channel="sms", opted_out=True,
                                          source="STOP")
    # As on a busy machine: htmx wires up swapped content only when it settles, a moment after it
    # shows; a shortcut pressed as soon as the thread shows must still act (it once did nothing).
    page.evaluate("htmx.config.defaultSettleDelay = 1500")
    page.keyboard.press("j")  # opens the first conversation
    expect(page.locator("#thread-head h1")).to_have_text("Maria Lopez")
    expect(page.locator("#verdict")).to_contain_text("opted out of SMS")
    page.keyboard.press("e")  # done, before the thread has settled
    expect(page.locator("#thread-head .status-text")).to_contain_text("Done")
    page.keyboard.press("/")
    expect(page.locator("#inbox-search")).to_be_focused()


def test_the_inbox_passes_an_accessibility_audit(inbox, conversation):
    page = inbox
    page.locator(f"#row-{conversation.pk} a").click()
    expect(page.locator("#thread-head h1")).to_have_text("Maria Lopez")
    assert axe_violations(page) == []


def test_an_attachment_over_the_limit_is_refused_before_it_is_uploaded(inbox, org, conversation, twilio, settings,
                                                                       tmp_path):
    settings.ATTACHMENT_MAX_BYTES = 1024 * 1024
    settings.MEDIA_ROOT = tmp_path
    page = inbox
    page.locator(f"#row-{conversation.pk} a").click()
    expect(page.locator("#thread-head h1")).to_have_text("Maria Lopez")
    page.locator("#composer-file").set_input_files(
        files=[{"name": "big.png", "mimeType": "image/png", "buffer": b"0" * (1024 * 1024 + 1)}])
    expect(page.locator("#composer-error")).to_have_text(
        "Attachments can be at most 1 MB (the carriers' limit for MMS).")
    assert page.locator("#composer-file").input_value() == ""
    page.locator("#composer button[type=submit]").click()  # nothing left to send
    expect(page.locator("#composer-error")).not_to_have_text("")
    assert list(tmp_path.rglob("*.png")) == []
    assert twilio.messages(ACME_SID) == []


def test_an_agent_takes_an_order_in_the_conversation_and_moves_it(inbox, org, conversation, twilio):
    """The contact panel: a new order with two lines, told to the customer; then confirmed; "#1001"
    in a later message leads to it; the page stays accessible."""
    page = inbox
    page.goto(f"{page.url.split('/o/')[0]}/o/acme/inbox/?c={conversation.pk}")
    orders = page.locator("#contact-orders")
    expect(orders).to_contain_text("No orders yet.")
    orders.locator("summary", has_text="New order").click()
    orders.get_by_label("Item 1 name").fill("Coffee beans")
    orders.get_by_label("Item 1 quantity").fill("3")
    orders.get_by_label("Item 1 unit price").fill("0.10")
    orders.get_by_label("Item 2 name").fill("Mug")
    orders.get_by_label("Item 2 unit price").fill("12")
    orders.locator("form", has_text="Create order").get_by_label("Tell the customer").check()
    orders.get_by_role("button", name="Create order").click()

    expect(orders).to_contain_text("Order #1001 created. The customer was told in the conversation.")
    order = orders.locator("#order-1001")
    expect(order).to_contain_text("USD 12.30")
    expect(order).to_contain_text("3 × Coffee beans")
    assert [m["body"] for m in twilio.messages(ACME_SID)] == [
        "Thank you! We have your order #1001: 3 x Coffee beans, 1 x Mug. Total USD 12.30."]

    order.get_by_role("button", name="Mark confirmed").click()
    expect(orders).to_contain_text("Order #1001 is now confirmed.")
    expect(orders.locator("#order-1001 .chip")).to_have_text("Confirmed")
    expect(orders.locator("#order-1001")).to_contain_text("Mark processing")
    assert axe_violations(page) == []

    page.reload()
    link = page.locator("#messages a.order-ref", has_text="#1001")
    expect(link).to_have_count(1)  # the outbound "We have your order #1001" message
    link.click()
    expect(page.locator("h1")).to_contain_text("Order #1001")
    expect(page.locator("body")).to_contain_text("Pending → Confirmed by Dana Agent")
