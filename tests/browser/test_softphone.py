"""The softphone in a real browser, with the Twilio Voice SDK replaced in the page by a test double
(tests/browser/fake_twilio_voice.js, served where static/vendor/twilio.min.js would be: no network).

The token and presence endpoints are the real ones (the live server, Redis); the live-call endpoints
(call-live, call-hold, call-transfer...) are served by `page.route` stubs that follow the contract in
the brief and record what the page sent.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from crm import services as crm_services
from messaging.models import Conversation, Direction, Message, MessageStatus
from messaging.services import conversations
from telephony.models import PhoneNumber, Provider, VoiceStatus
from tenants import presence
from tenants.scoping import tenant_scope
from tests.browser.conftest import axe_violations, login
from tests.factories import PASSWORD
from tests.messaging.conftest import wait_for
from tests.vendor_fixtures import VOICE_APP_SID as APP_SID
from tests.vendor_fixtures import VOICE_KEY_SECRET as KEY_SECRET
from tests.vendor_fixtures import VOICE_KEY_SID as KEY_SID

FAKE_SDK = (Path(__file__).parent / "fake_twilio_voice.js").read_text()
CUSTOMER = "+14155550199"
CALL_ID = str(uuid.uuid4())


@pytest.fixture
def lines(org, voice_ready, agent):
    """Dana's two voice numbers."""
    with tenant_scope(org):
        support = PhoneNumber.objects.create(
            organization=org, provider_account=voice_ready, provider=Provider.TWILIO, phone_number="+14155550142",
            agent=agent, friendly_name="Support line", capabilities={"voice": True, "sms": True})
        sales = PhoneNumber.objects.create(
            organization=org, provider_account=voice_ready, provider=Provider.TWILIO, phone_number="+14155550143",
            agent=agent, friendly_name="Sales line", capabilities={"voice": True, "sms": True})
    return support, sales


@pytest.fixture
def maria(org, lines):
    """A customer who texted the support line: her contact and conversation."""
    support, _ = lines
    with tenant_scope(org):
        contact = crm_services.contact_for(organization=org, phone=CUSTOMER)
        contact.name = "Maria Lopez"
        contact.save()
        conversation = conversations.conversation_for(organization=org, contact=contact, channel="sms",
                                                      phone_number=support)
        Message.objects.create(organization=org, conversation=conversation, direction=Direction.INBOUND,
                               channel="sms", body="Can you call me?", status=MessageStatus.RECEIVED,
                               provider_sid="SM" + "7" * 32)
        Conversation.objects.filter(pk=conversation.pk).update(last_message_preview="Can you call me?")
    return contact, conversation


class LiveCalls:
    """The live-call endpoints under /o/acme/calls/, as the contract in the brief describes them."""

    def __init__(self, conversation_url: str = ""):
        self.requests: list[dict] = []
        self.conversation_url = conversation_url
        self.knows_calls = True  # live/ names a call for any leg (False: 404, as for a stranger's leg)
        self.agents = [
            {"id": str(uuid.uuid4()), "name": "Erin Colleague", "status": "available", "label": "Available"},
            {"id": str(uuid.uuid4()), "name": "Frank Busy", "status": "in_call", "label": "In a call"},
        ]

    def handle(self, route, request):
        url = urlparse(request.url)
        form = {k: v[0] for k, v in parse_qs(request.post_data or "").items()} if request.method == "POST" else {}
        self.requests.append({"method": request.method, "path": url.path, "query": parse_qs(url.query),
                              "form": form, "csrf": request.headers.get("x-csrftoken", "")})
        path = url.path.removeprefix("/o/acme/calls/")
        if path == "live/" and self.knows_calls:
            body = {"call": {"id": CALL_ID, "contact_name": "Maria Lopez", "contact_number": CUSTOMER,
                             "conversation_url": self.conversation_url, "direction": "outbound",
                             "status": "in-progress"}}
        elif path == "transfer-targets/":
            body = {"agents": self.agents}
        elif path.endswith("/hold/"):
            body = {"held": form.get("hold") == "1"}
        elif path.endswith("/transfer/"):
            to = next(a for a in self.agents if a["id"] == form["to"])
            state = "completed" if form["mode"] == "blind" else "ringing"
            body = {"transfer": {"state": state, "to_name": to["name"]}}
        elif path.endswith("/transfer/complete/"):
            body = {"transfer": {"state": "completed", "to_name": "Erin Colleague"}}
        elif path.endswith("/transfer/cancel/"):
            body = {"transfer": {"state": "canceled", "to_name": "Erin Colleague"}}
        else:
            route.fulfill(status=404, json={"error": "No such call."})
            return
        route.fulfill(status=200, json=body)

    def posts(self, suffix: str) -> list[dict]:
        return [r for r in self.requests if r["method"] == "POST" and r["path"].endswith(suffix)]


@pytest.fixture
def live_calls(maria, org, lines):
    contact, _ = maria
    url = reverse("messaging:conversation-with",
                  kwargs={"org_slug": org.slug, "contact_id": contact.pk, "phone_number_id": lines[0].pk})
    return LiveCalls(conversation_url=url)


def with_fake_sdk(page, live_calls=None):
    """For every tab of the page's browser context (a conversation opened in a new tab too)."""
    page.context.route(re.compile(r".*/static/vendor/twilio\.min\.js$"),
                       lambda route: route.fulfill(status=200, body=FAKE_SDK, content_type="application/javascript"))
    if live_calls is not None:
        page.context.route(re.compile(r".*/o/acme/calls/.*"), live_calls.handle)


@pytest.fixture
def phone(page, live_server, org, agent, lines, live_calls):
    """Dana, logged in, with the fake SDK in the page and the live-call stubs; her phone registered."""
    with_fake_sdk(page, live_calls)
    login(page, live_server, "dana", PASSWORD)
    page.live_calls = live_calls
    page.locator("#softphone-toggle").click()
    expect(page.locator("#softphone")).to_be_visible()
    expect(page.locator("#softphone-status")).to_have_text("Ready")
    yield page
    presence.gone(org.pk, agent.pk)


def digits_sent(page) -> str:
    return page.evaluate("window.__twilio.calls[window.__twilio.calls.length - 1].digits")


def test_a_call_dialled_on_the_keypad_from_a_chosen_number(phone, org, agent, lines):
    page = phone
    support, sales = lines
    # The heartbeat reached the server: Dana's browser can take calls, and the top bar says so.
    wait_for(lambda: str(agent.pk) in presence.reachable(org.pk, [agent.pk]), what="the first heartbeat")
    expect(page.locator("#voice-presence")).to_have_text("Available")
    assert page.evaluate("window.__twilio.devices.length") == 1  # one voice-ready account, one Device

    expect(page.locator("#dialer-from option")).to_have_text(
        ["Support line · +1 (415) 555-0142", "Sales line · +1 (415) 555-0143"])
    page.select_option("#dialer-from", label="Sales line · +1 (415) 555-0143")
    page.locator("#dialer-number").press_sequentially("+1")
    keypad = page.locator("#keypad")
    for key in "415555017":
        keypad.get_by_role("button", name=key, exact=True).click()
    expect(page.locator("#dialer-number")).to_have_value("+1 (415) 555-017")
    keypad.get_by_role("button", name="7", exact=True).click()
    expect(page.locator("#dialer-number")).to_have_value("+1 (415) 555-0177")

    page.locator("#dialer-call").click()
    expect(page.locator("#call-state")).to_have_text("Connecting…")
    assert page.evaluate("window.__twilio.connects") == [
        {"params": {"To": "+14155550177", "FromNumber": str(sales.pk)}}]
    expect(page.locator("#call-line")).to_have_text("from Sales line")
    expect(page.locator("#call-mute")).to_be_disabled()  # nothing to mute before the call is up

    page.evaluate("__twilioTest.ringing()")
    expect(page.locator("#call-state")).to_have_text("Ringing…")
    page.evaluate("__twilioTest.answered()")
    expect(page.locator("#call-state")).to_have_text("In call")
    expect(page.locator("#softphone-status")).to_have_text("In call")
    # The server told the page which of our calls this is: the contact's name and conversation.
    expect(page.locator("#call-name")).to_have_text("Maria Lopez")
    expect(page.locator("#call-conversation")).to_have_attribute("href", page.live_calls.conversation_url)
    [live] = [r for r in page.live_calls.requests if r["path"].endswith("/live/")]
    assert live["query"]["sid"] == ["CA" + "1".zfill(32)]
    expect(page.locator("#call-timer")).to_have_text(re.compile(r"^0:0[1-9]$"), timeout=5000)

    mute = page.locator("#call-mute")
    mute.click()
    expect(mute).to_have_attribute("aria-pressed", "true")
    expect(mute).to_have_text("Unmute")
    assert page.evaluate("__twilioTest.last().isMuted()") is True
    mute.click()
    expect(mute).to_have_attribute("aria-pressed", "false")
    assert page.evaluate("__twilioTest.last().isMuted()") is False

    hold = page.locator("#call-hold")
    hold.click()
    expect(hold).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#call-state")).to_have_text("On hold")
    hold.click()
    expect(hold).to_have_attribute("aria-pressed", "false")
    expect(page.locator("#call-state")).to_have_text("In call")
    holds = page.live_calls.posts(f"/{CALL_ID}/hold/")
    assert [h["form"] for h in holds] == [{"hold": "1"}, {"hold": "0"}]
    assert all(h["csrf"] for h in holds)

    # Keys during the call are tones: from the keypad, and typed on the keyboard.
    page.locator("#call-keys").click()
    expect(keypad).to_be_visible()
    for key in ("1", "2", "#"):
        keypad.get_by_role("button", name=key, exact=True).click()
    page.keyboard.press("9")
    assert digits_sent(page) == "12#9"
    expect(page.locator("#call-digits")).to_have_text("12#9")
    expect(page.locator("#dialer-number")).to_have_value("+1 (415) 555-0177")  # tones are not dialled

    page.locator("#call-hangup").click()
    expect(page.locator("#softphone-status")).to_have_text(re.compile(r"^Call ended · 0:\d\d$"))
    assert page.evaluate("__twilioTest.last().disconnected") is True
    expect(page.locator("#call-view")).to_be_hidden()
    expect(page.locator("#dialer-call")).to_be_enabled()


def test_an_incoming_call_names_the_contact_is_accepted_and_links_to_the_conversation(phone, org, maria, lines):
    page = phone
    contact, _ = maria
    url = page.live_calls.conversation_url
    page.keyboard.press("Escape")  # the panel closes: nobody is typing, so the notification takes the focus
    expect(page.locator("#softphone")).to_be_hidden()
    page.evaluate("""(custom) => __twilioTest.incoming(custom, "+14155550199")""",
                  {"call_id": CALL_ID, "contact_name": "Maria Lopez", "contact_number": CUSTOMER,
                   "number_label": "Support line", "conversation_url": url})
    note = page.get_by_role("alertdialog", name="Incoming call")
    expect(note).to_be_visible()
    expect(note).to_contain_text("Maria Lopez")
    expect(note).to_contain_text("+1 (415) 555-0199")
    expect(note).to_contain_text("Calling Support line")
    expect(note.get_by_role("link", name="Open the conversation")).to_have_attribute("href", url)
    expect(note.get_by_role("button", name="Accept")).to_be_focused()
    expect(page.locator("#softphone-announce")).to_have_text("Incoming call from Maria Lopez on Support line.")
    assert axe_violations(page) == []

    page.keyboard.press("Enter")  # accepted from the keyboard
    expect(note).to_be_hidden()
    expect(page.locator("#softphone")).to_be_visible()
    assert page.evaluate("__twilioTest.last().accepted") is True
    expect(page.locator("#call-state")).to_have_text("In call")
    expect(page.locator("#call-name")).to_have_text("Maria Lopez")
    expect(page.locator("#call-line")).to_have_text("on Support line")
    # Hold works on the call the server named (no lookup needed for an incoming call).
    page.locator("#call-hold").click()
    expect(page.locator("#call-state")).to_have_text("On hold")
    assert page.live_calls.posts(f"/{CALL_ID}/hold/")[0]["form"] == {"hold": "1"}
    assert not [r for r in page.live_calls.requests if r["path"].endswith("/live/")]
    assert axe_violations(page) == []

    # The conversation opens in a new tab (this one keeps the call).
    with page.context.expect_page() as opened:
        page.locator("#call-conversation").click()
    conversation_tab = opened.value
    expect(conversation_tab.locator("#thread-head h1")).to_have_text("Maria Lopez")
    expect(conversation_tab.locator("#messages")).to_contain_text("Can you call me?")
    conversation_tab.close()

    page.evaluate("__twilioTest.remoteHangup()")
    expect(page.locator("#softphone-status")).to_have_text(re.compile(r"^Call ended · 0:\d\d$"))


def test_an_incoming_call_rejected_or_given_up(phone, live_calls):
    page = phone
    page.evaluate("""() => __twilioTest.incoming({contact_name: "Maria Lopez", contact_number: "+14155550199",
                                                  number_label: "Support line", call_id: "x"})""")
    note = page.get_by_role("alertdialog", name="Incoming call")
    expect(note).to_be_visible()
    expect(page.locator("#softphone-toggle")).to_contain_text("incoming call")
    note.get_by_role("button", name="Reject").click()
    expect(note).to_be_hidden()
    assert page.evaluate("__twilioTest.last().rejected") is True
    expect(page.locator("#softphone-status")).to_have_text("Rejected call from Maria Lopez")

    # An unknown caller who hangs up before anyone answers: named by number (the server knows no call
    # of theirs to describe).
    live_calls.knows_calls = False
    page.evaluate("""() => __twilioTest.incoming({}, "+14155550111")""")
    expect(note).to_contain_text("+1 (415) 555-0111")
    expect(note.get_by_role("link")).to_be_hidden()  # no conversation to open
    page.evaluate("__twilioTest.callerGaveUp()")
    expect(note).to_be_hidden()
    expect(page.locator("#softphone-status")).to_have_text("Call from +1 (415) 555-0111 stopped ringing")


def test_click_to_call_from_the_contact_panel(page, live_server, org, agent, lines, maria, live_calls):
    support, _ = lines
    _, conversation = maria
    with_fake_sdk(page, live_calls)
    login(page, live_server, "dana", PASSWORD)
    page.goto(f"{live_server.url}/o/acme/inbox/?view=all&c={conversation.pk}")
    expect(page.locator("#thread-head h1")).to_have_text("Maria Lopez")
    call = page.locator("#contact-pane [data-softphone-dial]")
    expect(call).to_have_accessible_name("Call Maria Lopez")
    expect(page.locator("#softphone-status")).to_have_text("Ready")  # the panel is closed, its state is there
    call.click()
    expect(page.locator("#softphone")).to_be_visible()
    expect(page.locator("#call-state")).to_have_text("Connecting…")
    assert page.evaluate("window.__twilio.connects") == [
        {"params": {"To": CUSTOMER, "FromNumber": str(support.pk)}}]
    expect(page.locator("#call-name")).to_have_text("+1 (415) 555-0199")
    page.evaluate("__twilioTest.answered()")
    expect(page.locator("#call-name")).to_have_text("Maria Lopez")
    assert axe_violations(page) == []
    page.keyboard.press("Escape")  # the panel closes, the call goes on
    expect(page.locator("#softphone")).to_be_hidden()
    expect(page.locator("#softphone-toggle")).to_contain_text("in a call")
    expect(page.locator("#softphone-toggle")).to_be_focused()
    page.keyboard.press("Alt+p")
    expect(page.locator("#softphone")).to_be_visible()
    expect(page.locator("#call-hangup")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#softphone-status")).to_have_text(re.compile(r"^Call ended"))
    presence.gone(org.pk, agent.pk)


def test_blind_and_warm_transfer(phone):
    page = phone
    page.locator("#dialer-number").fill("4155550177")
    expect(page.locator("#dialer-number")).to_have_value("(415) 555-0177")
    page.locator("#dialer-number").press("Enter")
    page.evaluate("__twilioTest.answered()")
    expect(page.locator("#call-transfer")).to_be_enabled()

    page.locator("#call-transfer").click()
    targets = page.locator("#transfer-list li")
    expect(targets).to_have_count(2)
    expect(targets.nth(1)).to_contain_text("In a call")
    expect(targets.nth(1).get_by_role("button", name="Transfer the call to Frank Busy now")).to_be_disabled()
    # Warm: talk to Erin first, then hand the caller over.
    page.get_by_role("button", name="Talk first with Erin Colleague, then transfer").click()
    expect(page.locator("#transfer-state")).to_have_text("Calling Erin Colleague…")
    [warm] = page.live_calls.posts(f"/{CALL_ID}/transfer/")
    assert warm["form"] == {"to": page.live_calls.agents[0]["id"], "mode": "warm"} and warm["csrf"]
    page.get_by_role("button", name="Cancel the transfer").click()
    expect(page.locator("#transfer-state")).to_have_text("Transfer cancelled: you are back with the caller.")
    assert len(page.live_calls.posts(f"/{CALL_ID}/transfer/cancel/")) == 1
    page.get_by_role("button", name="Talk first with Erin Colleague, then transfer").click()
    page.get_by_role("button", name="Complete the transfer").click()
    expect(page.locator("#call-state")).to_have_text("Transferred to Erin Colleague")
    assert len(page.live_calls.posts(f"/{CALL_ID}/transfer/complete/")) == 1
    page.evaluate("__twilioTest.remoteHangup()")  # Twilio takes this leg out of the conference
    expect(page.locator("#softphone-status")).to_have_text(re.compile(r"^Transferred to Erin Colleague · "))

    # Blind: straight to Erin.
    page.locator("#dialer-number").fill("4155550178")
    page.locator("#dialer-call").click()
    page.evaluate("__twilioTest.answered()")
    page.locator("#call-transfer").click()
    page.get_by_role("button", name="Transfer the call to Erin Colleague now").click()
    expect(page.locator("#call-state")).to_have_text("Transferred to Erin Colleague")
    assert page.live_calls.posts(f"/{CALL_ID}/transfer/")[-1]["form"]["mode"] == "blind"


def test_the_token_is_renewed_and_the_tab_says_goodbye(phone, org, agent):
    page = phone
    wait_for(lambda: str(agent.pk) in presence.reachable(org.pk, [agent.pk]), what="the first heartbeat")
    with page.expect_response(re.compile(r"/o/acme/telephony/token$")):
        page.evaluate("__twilioTest.tokenWillExpire()")
    wait_for(lambda: page.evaluate("window.__twilio.tokens.length") == 1, what="updateToken")
    assert page.evaluate("window.__twilio.tokens[0].split('.').length") == 3  # a JWT
    page.goto("about:blank")  # the tab navigates away: its softphone is gone at once
    wait_for(lambda: str(agent.pk) not in presence.reachable(org.pk, [agent.pk]), what="the goodbye beacon")


def test_unregistering_stops_the_heartbeat_and_says_so(phone, org, agent):
    page = phone
    wait_for(lambda: str(agent.pk) in presence.reachable(org.pk, [agent.pk]), what="the first heartbeat")
    page.evaluate("__twilioTest.unregister()")
    expect(page.locator("#softphone-status")).to_have_text("Connecting to Twilio…")
    expect(page.locator("#voice-presence")).to_have_text("Away (softphone offline)")
    # The page says so at once; the server hears the goodbye a moment later (and no beat after it).
    wait_for(lambda: str(agent.pk) not in presence.reachable(org.pk, [agent.pk]), what="the goodbye")
    expect(page.locator("#dialer-call")).to_be_disabled()


def test_why_the_phone_is_unavailable_is_said_plainly(page, live_server, org, agent, twilio_account):
    """Voice not set up on the account; then no number to call from; then the microphone blocked."""
    with tenant_scope(org):  # connecting set voice up at the fake Twilio: as if it had been turned off since
        twilio_account.voice_status, twilio_account.twiml_app_sid, twilio_account.api_key_sid = VoiceStatus.OFF, "", ""
        twilio_account.save()
    with_fake_sdk(page)
    login(page, live_server, "dana", PASSWORD)
    page.locator("#softphone-toggle").click()
    problems = page.locator("#softphone-problems")
    expect(problems).to_contain_text("Voice is not set up for your organization's Twilio account yet")
    expect(page.locator("#softphone-status")).to_have_text("Unavailable")
    expect(page.locator("#dialer-call")).to_be_disabled()
    expect(page.locator("#softphone-toggle")).to_contain_text("unavailable")
    assert axe_violations(page) == []

    with tenant_scope(org):
        twilio_account.api_key_sid, twilio_account.api_key_secret = KEY_SID, KEY_SECRET
        twilio_account.twiml_app_sid, twilio_account.voice_status = APP_SID, VoiceStatus.READY
        twilio_account.save()
    page.reload()
    page.locator("#softphone-toggle").click()
    expect(problems).to_contain_text("You have no number to call from")
    expect(page.locator("#dialer-call")).to_be_disabled()

    with tenant_scope(org):
        number = PhoneNumber.objects.create(
            organization=org, provider_account=twilio_account, provider=Provider.TWILIO, phone_number="+14155550142",
            agent=agent, capabilities={"voice": True, "sms": True})
    page.reload()
    page.evaluate("window.__twilioMicDenied = true")
    page.locator("#softphone-toggle").click()
    expect(page.locator("#softphone-status")).to_have_text("Ready")
    expect(problems).to_be_hidden()
    expect(page.locator("#dialer-from")).to_be_disabled()  # one number: nothing to choose
    page.locator("#dialer-number").fill(CUSTOMER)
    page.locator("#dialer-call").click()
    expect(problems).to_contain_text("Your browser blocks the microphone for this site")
    assert page.evaluate("window.__twilio.connects") == [{"params": {"To": CUSTOMER, "FromNumber": str(number.pk)}}]
    presence.gone(org.pk, agent.pk)


def test_someone_who_is_no_agent_has_no_phone(page, live_server, org, admin, voice_ready):
    with_fake_sdk(page)
    login(page, live_server, "bob", PASSWORD)
    page.goto(f"{live_server.url}/o/acme/team/")
    expect(page.locator("h1")).to_have_text("Team & agents")
    expect(page.locator("#softphone-toggle")).to_have_count(0)
    expect(page.locator("#softphone")).to_have_count(0)
    assert page.evaluate("typeof window.__twilio") == "undefined"  # the SDK is not even loaded


def test_the_panel_passes_an_accessibility_audit_with_the_keypad_and_transfer_open(phone):
    page = phone
    assert axe_violations(page) == []
    page.locator("#dialer-number").fill(CUSTOMER)
    page.locator("#dialer-call").click()
    page.evaluate("__twilioTest.answered()")
    page.locator("#call-keys").click()
    page.locator("#call-transfer").click()
    expect(page.locator("#transfer-list li")).to_have_count(2)
    assert axe_violations(page) == []
    assert json.loads(page.evaluate("JSON.stringify(window.__twilio.options[0])"))["closeProtection"]
