"""Search by meaning in a real browser: the inbox's "Search by" finds a conversation that says the same
in other words, marked as such; beside a conversation, a suggested reply (what an agent answered to a
similar message) goes into the reply box with its number key, and nothing is sent until the agent sends."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from crm import services as crm_services
from messaging.models import Conversation, Message
from messaging.services import conversations, meaning
from tenants.scoping import tenant_scope
from tests.browser.conftest import axe_violations, login
from tests.factories import PASSWORD
from tests.messaging.conftest import our_number  # noqa: F401


def said(org, number, customer: str, name: str, *lines) -> Conversation:
    with tenant_scope(org):
        contact = crm_services.contact_for(organization=org, phone=customer)
        contact.name = name
        contact.save()
        conversation = conversations.conversation_for(organization=org, contact=contact, channel="sms",
                                                      phone_number=number)
        for direction, body in lines:
            Message.objects.create(organization=org, conversation=conversation, direction=direction, channel="sms",
                                   body=body, status="received" if direction == "inbound" else "delivered")
            conversations.conversation_touch(conversation=conversation, preview=body, inbound=direction == "inbound")
    return conversation


@pytest.fixture
def inbox(page, live_server, org, agent, our_number):  # noqa: F811
    said(org, our_number, "+14155550170", "Ann Past", ("inbound", "My parcel has not arrived yet"),
         ("outbound", "Sorry! I have asked the courier: you will get a tracking link today."))
    said(org, our_number, "+14155550171", "Ben Billing", ("inbound", "Can I pay with a credit card?"))
    now = said(org, our_number, "+14155550172", "Cleo Now", ("inbound", "where is my package? it never came"))
    with tenant_scope(org):
        meaning.messages_embed(organization=org)
    login(page, live_server, "dana", PASSWORD)
    page.goto(f"{live_server.url}/o/acme/inbox/?view=all")
    page.now = now
    return page


def test_search_by_meaning_and_a_suggested_reply(inbox, org):
    page = inbox
    page.get_by_label("Search by", exact=True).select_option("both")
    page.locator("#inbox-search").fill("lost parcel")
    page.locator("#inbox-search").press("Enter")
    expect(page.locator("#conversation-list .list-note").first).to_contain_text("by words and meaning, best first")
    row = page.locator("#conversation-list li.row-item", has_text="Ann Past")
    expect(row).to_be_visible()
    expect(row.locator(".by-meaning")).to_have_text("By meaning")  # none of these words was written there
    expect(page.locator("#conversation-list")).not_to_contain_text("Ben Billing")

    page.goto(f"{page.url.split('?')[0]}?view=all&c={page.now.pk}")
    expect(page.locator("#similar-conversations")).to_contain_text("Ann Past")
    suggestion = page.locator("#reply-suggestions button.suggestion").first
    expect(suggestion).to_contain_text("you will get a tracking link today")
    page.locator("body").press("1")
    expect(page.locator("#composer-body")).to_have_value(
        "Sorry! I have asked the courier: you will get a tracking link today.")
    expect(page.locator("#composer-body")).to_be_focused()
    with tenant_scope(org):
        assert not Message.objects.filter(conversation=page.now, direction="outbound").exists()  # not sent
    assert axe_violations(page) == []
