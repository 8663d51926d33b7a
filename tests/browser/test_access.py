"""Access per client in a real browser: the owner limits Dana to one client on the Team page; Dana's
live inbox then shows that client's customers as they write, and never the other client's."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from telephony.models import PhoneNumber, Provider
from tenants.scoping import tenant_scope
from tests import factories
from tests.browser.conftest import login
from tests.factories import PASSWORD
from tests.messaging.conftest import OUR_NUMBER, TwilioPoster, our_number  # noqa: F401
from tests.vendor_fixtures import ACME_SID, ACME_TOKEN

OTHER_NUMBER = "+14155550166"


@pytest.fixture
def two_clients(org, our_number, twilio, twilio_account):  # noqa: F811
    remote = twilio.add_incoming_number(ACME_SID, OTHER_NUMBER)
    atlas, borealis = factories.make_client(org, "Atlas Outfitters"), factories.make_client(org, "Borealis Books")
    with tenant_scope(org):
        PhoneNumber.objects.filter(pk=our_number.pk).update(client=atlas)
        PhoneNumber.objects.create(
            organization=org, client=borealis, provider_account=twilio_account, provider=Provider.TWILIO,
            phone_number=OTHER_NUMBER, provider_sid=remote["sid"],
            capabilities={"voice": True, "sms": True, "mms": True, "fax": False})
    return atlas, borealis


def test_an_owner_limits_an_agent_to_a_client_and_her_live_inbox_shows_only_it(page, live_server, org, agent,
                                                                                 two_clients):
    post = TwilioPoster()
    post.inbound(ACME_TOKEN, from_="+14155550171", to=OUR_NUMBER, body="Where is my tent order?")
    post.inbound(ACME_TOKEN, from_="+14155550172", to=OTHER_NUMBER, body="Is the novel in stock?")

    login(page, live_server, "alice", PASSWORD)
    page.goto(f"{live_server.url}/o/acme/team/")
    dana = page.locator("tr", has_text="dana@example.com")
    expect(dana.locator(".member-sees")).to_contain_text("Every client")
    dana.get_by_role("link", name="Change what Dana Agent sees").click()
    page.get_by_label("Only the clients ticked below").check()
    page.get_by_label("Atlas Outfitters").check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("Dana Agent now sees only Atlas Outfitters")
    expect(page.locator("tr", has_text="dana@example.com").locator(".member-sees")).to_contain_text(
        "Only Atlas Outfitters")

    page.context.clear_cookies()
    login(page, live_server, "dana", PASSWORD)
    page.goto(f"{live_server.url}/o/acme/inbox/?view=all")
    rows = page.locator("#conversation-list")
    expect(rows).to_contain_text("Where is my tent order?")
    expect(rows).not_to_contain_text("Is the novel in stock?")

    # Both customers write again: Atlas's message arrives live; Borealis's, sent first, never shows.
    post.inbound(ACME_TOKEN, from_="+14155550172", to=OTHER_NUMBER, body="Hello again from Borealis")
    post.inbound(ACME_TOKEN, from_="+14155550171", to=OUR_NUMBER, body="Any news on the tent?")
    expect(rows).to_contain_text("Any news on the tent?", timeout=5000)
    expect(rows).not_to_contain_text("Hello again from Borealis")
    expect(rows).not_to_contain_text("Is the novel in stock?")
    expect(page.locator("#filter-line")).not_to_contain_text("Borealis")
