"""POST /webhooks/vapi/: VAPI's end-of-call report of an AI agent's call becomes a Call in the
contact's conversation; only with the secret of the organization whose number it names.

The requests are the ones the VAPI fake would send to the number's `server` (its URL and headers
as we configured them when the number was attached), delivered to our webhook."""

from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.urls import resolve

from crm.models import Contact
from crm.services import contact_for
from messaging.models import Channel, Conversation
from messaging.services.conversations import conversation_for
from softphone.simulator.vapi import ServerRequest
from telephony import webhooks_vapi
from telephony.models import Call, PhoneNumber, Provider, ProviderAccount
from telephony.services import accounts, adding, assignment, platform
from telephony.services.webhook_contract import VAPI_PATH
from telephony.signals import call_changed
from tenants.scoping import tenant_scope
from tests.vendor_fixtures import ACME_SID, ACME_TOKEN, VAPI_KEY

NUMBER = "+14155550142"
CUSTOMER = "+14155550123"


@pytest.fixture
def number(org, owner, twilio, twilio_account, vapi, vapi_account, ai_agent, run_on_commit):
    """An Acme number answered by its AI agent on VAPI."""
    twilio.add_incoming_number(ACME_SID, NUMBER)
    with tenant_scope(org):
        added = run_on_commit(adding.phone_number_add, organization=org, actor=owner, provider="twilio",
                              phone_number=NUMBER, account_sid=ACME_SID, auth_token=ACME_TOKEN)
        run_on_commit(assignment.phone_number_assign, organization=org, actor=owner, number=added, agent=ai_agent)
        return PhoneNumber.objects.get(pk=added.pk)


def deliver(client, sent: ServerRequest, **header_overrides):
    """POST what VAPI would send to our webhook (its path under PUBLIC_BASE_URL)."""
    headers = {name: value for name, value in {**sent.headers, **header_overrides}.items()
               if name.lower() != "content-type" and value is not None}
    return client.post(urlsplit(sent.url).path, data=sent.body, content_type="application/json", headers=headers)


def calls_of(org):
    with tenant_scope(org):
        return list(Call.objects.select_related("contact", "agent", "phone_number"))


def contacts_of(org):
    with tenant_scope(org):
        return list(Contact.objects.values_list("phone_number", flat=True))


def secret_of(org):
    with tenant_scope(org):
        return ProviderAccount.objects.get(organization=org, provider=Provider.VAPI).webhook_secret


@pytest.mark.django_db
def test_a_number_on_vapi_reports_to_a_route_we_serve_with_its_organizations_secret(org, number, vapi):
    [on_vapi] = vapi.phone_numbers()
    secret = secret_of(org)
    assert len(secret) >= 32
    assert on_vapi["server"] == {"url": settings.PUBLIC_BASE_URL + VAPI_PATH, "headers": {"X-Vapi-Secret": secret}}
    assert resolve(VAPI_PATH).func is webhooks_vapi.report


@pytest.mark.django_db
def test_the_end_of_call_report_becomes_a_call_of_the_ai_agent_in_the_contacts_conversation(
        client, owner_client, org, number, vapi, ai_agent, django_capture_on_commit_callbacks):
    # The customer texted this number before: their conversation exists.
    with tenant_scope(org):
        texter = contact_for(organization=org, phone="+1 (415) 555-0123")
        existing = conversation_for(organization=org, contact=texter, channel=Channel.SMS, phone_number=number)
    told = []
    call_changed.connect(lambda sender, call, created, **_: told.append((call.provider_sid, created)),
                         weak=False, dispatch_uid="test-vapi-report")
    try:
        sent = vapi.end_of_call_report(number.platform_id, call_id="vapi-call-1", customer=CUSTOMER)
        with django_capture_on_commit_callbacks() as after_commit:
            response = deliver(client, sent)
        with tenant_scope(org):  # the view's transaction commits inside its tenant scope
            for callback in after_commit:
                callback()
    finally:
        call_changed.disconnect(dispatch_uid="test-vapi-report")

    assert response.status_code == 200, response.content
    [call] = calls_of(org)
    assert (call.provider, call.provider_sid, call.direction, call.status) == (
        "vapi", "vapi-call-1", "inbound", "completed")
    assert (call.from_number, call.to_number) == (CUSTOMER, NUMBER)
    assert (call.phone_number, call.agent, call.contact) == (number, ai_agent, texter)
    assert call.transcript == "AI: Hello, how can I help?\nUser: Where is my order?"
    assert call.summary == "The customer asked where their order is."
    assert call.cost == Decimal("0.1234")
    assert call.ended_reason == "customer-ended-call"
    assert call.recording_url == "https://storage.vapi.ai/recording-1.wav"
    assert call.recording_sid == ""  # VAPI's link, kept as a link
    assert call.duration == 90
    assert call.answered_at is not None and not call.missed
    assert told == [("vapi-call-1", True)]
    # The call's conversation is the one the customer already has on this number.
    opened = owner_client.get(f"/o/acme/inbox/with/{call.contact_id}/{call.phone_number_id}/")
    assert opened.status_code == 302 and opened["Location"].endswith(f"?c={existing.pk}")
    with tenant_scope(org):
        assert Conversation.objects.count() == 1


@pytest.mark.django_db
def test_a_repeated_report_is_stored_once(client, org, number, vapi):
    sent = vapi.end_of_call_report(number.platform_id, call_id="vapi-call-2")

    assert deliver(client, sent).status_code == 200
    assert deliver(client, sent).status_code == 200

    assert [c.provider_sid for c in calls_of(org)] == ["vapi-call-2"]
    assert contacts_of(org) == [CUSTOMER]


@pytest.mark.django_db
@pytest.mark.parametrize("secret, status", [(None, 401), ("", 401), ("a-guess", 403)])
def test_a_report_without_the_right_secret_stores_nothing(client, org, number, vapi, secret, status):
    sent = vapi.end_of_call_report(number.platform_id)

    response = deliver(client, sent, **{"X-Vapi-Secret": secret})

    assert response.status_code == status
    assert calls_of(org) == []
    assert contacts_of(org) == []
    assert secret_of(org) not in response.content.decode()


@pytest.mark.django_db
def test_another_organizations_secret_is_refused(client, org, number, vapi, other_org, outsider):
    with tenant_scope(other_org):
        theirs = accounts.provider_account_connect(organization=other_org, actor=outsider, provider=Provider.VAPI,
                                                   api_key=VAPI_KEY)
    assert theirs.webhook_secret and theirs.webhook_secret != secret_of(org)
    sent = vapi.end_of_call_report(number.platform_id)

    response = deliver(client, sent, **{"X-Vapi-Secret": theirs.webhook_secret})

    assert response.status_code == 403
    assert calls_of(org) == [] and calls_of(other_org) == []
    assert contacts_of(org) == [] and contacts_of(other_org) == []


@pytest.mark.django_db
def test_a_report_about_a_number_we_do_not_have_is_404(client, org, number, vapi):
    sent = vapi.end_of_call_report(number.platform_id)
    body = sent.body.replace(number.platform_id.encode(), b"00000000-0000-4000-8000-000000000000")

    response = client.post(urlsplit(sent.url).path, data=body, content_type="application/json",
                           headers={"X-Vapi-Secret": secret_of(org)})

    assert response.status_code == 404
    assert calls_of(org) == []


@pytest.mark.django_db
@pytest.mark.parametrize("body, says", [
    (b"{not json", "not JSON"),
    (b'{"type": "end-of-call-report"}', "no `message` object"),
    (b'{"message": {"type": "end-of-call-report", "call": {"phoneNumberId": "x"}}}', "names no call"),
    (b'{"message": {"type": "end-of-call-report", "call": {"id": "c1"}}}', "names no phone number"),
    (b'{"message": {"type": "end-of-call-report", "call": {"id": "c1", "phoneNumberId": "x"}, "cost": "free"}}',
     "`cost` must be a number"),
    (b'{"message": {"type": "end-of-call-report", "call": {"id": "c1", "phoneNumberId": "x"}, '
     b'"startedAt": "yesterday"}}', "`startedAt` is not an ISO 8601 date-time"),
    (b'{"message": {"type": "end-of-call-report", "call": {"id": "c1", "phoneNumberId": "x"}, "cost": NaN}}',
     "`cost` must be a number"),
    (b'{"message": {"type": "end-of-call-report", "call": {"id": "c1", "phoneNumberId": "x"}, '
     b'"artifact": {"transcript": 42}}}', "`artifact.transcript` must be a string"),
    (b'{"message": ' * 5000 + b'{}' + b'}' * 5000, "nested too deeply"),
])
def test_a_report_we_cannot_read_is_a_400_that_says_why(client, org, number, body, says):
    response = client.post(VAPI_PATH, data=body, content_type="application/json",
                           headers={"X-Vapi-Secret": secret_of(org)})

    assert response.status_code == 400
    assert says in response.content.decode()
    assert calls_of(org) == [] and contacts_of(org) == []


@pytest.mark.django_db
def test_messages_we_do_not_keep_are_answered_and_ignored(client, org, number, vapi):
    for kind in ("transcript", "speech-update", "conversation-update", "hang"):
        response = client.post(VAPI_PATH, data={"message": {"type": kind, "call": {"id": "c1"}}},
                               content_type="application/json", headers={"X-Vapi-Secret": secret_of(org)})
        assert (response.status_code, response.json()) == (200, {"ignored": kind})
    assert calls_of(org) == []


@pytest.mark.django_db
def test_status_updates_show_the_call_while_it_lasts_and_only_move_forward(client, org, number, vapi, ai_agent):
    assert deliver(client, vapi.status_update(number.platform_id, "ringing", call_id="live-1")).status_code == 200
    [call] = calls_of(org)
    assert (call.status, call.agent, call.direction) == ("ringing", ai_agent, "inbound")

    deliver(client, vapi.status_update(number.platform_id, "in-progress", call_id="live-1"))
    deliver(client, vapi.status_update(number.platform_id, "ringing", call_id="live-1"))  # late
    [call] = calls_of(org)
    assert call.status == "in-progress" and call.answered_at is not None

    deliver(client, vapi.end_of_call_report(number.platform_id, call_id="live-1"))
    deliver(client, vapi.status_update(number.platform_id, "in-progress", call_id="live-1"))  # after the end
    [call] = calls_of(org)
    assert (call.status, call.summary) == ("completed", "The customer asked where their order is.")


@pytest.mark.django_db
@pytest.mark.parametrize("reason, status", [
    ("customer-ended-call", "completed"),
    ("assistant-ended-call", "completed"),
    ("silence-timed-out", "completed"),
    ("customer-busy", "busy"),
    ("customer-did-not-answer", "no-answer"),
    ("manually-canceled", "canceled"),
    ("pipeline-error-openai-llm-failed", "failed"),
    ("call.start.error-vapifault-get-org", "failed"),
    ("twilio-failed-to-connect-call", "failed"),
    ("assistant-not-found", "failed"),
])
def test_how_the_call_ended_decides_its_status(client, org, number, vapi, reason, status):
    deliver(client, vapi.end_of_call_report(number.platform_id, ended_reason=reason))

    [call] = calls_of(org)
    assert (call.status, call.ended_reason) == (status, reason)


@pytest.mark.django_db
def test_an_outbound_ai_call_goes_from_our_number_to_the_customer(client, org, number, vapi):
    deliver(client, vapi.end_of_call_report(number.platform_id, direction="outbound", customer="+14155550188"))

    [call] = calls_of(org)
    assert (call.direction, call.from_number, call.to_number, call.contact.phone_number) == (
        "outbound", NUMBER, "+14155550188", "+14155550188")


@pytest.mark.django_db
def test_an_anonymous_caller_makes_a_call_without_a_contact(client, org, number, vapi):
    deliver(client, vapi.end_of_call_report(number.platform_id, customer=None, cost=None))

    [call] = calls_of(org)
    assert (call.from_number, call.contact, call.cost) == ("anonymous", None, None)
    assert contacts_of(org) == []


@pytest.mark.django_db
def test_a_nul_in_what_was_said_is_kept_as_a_replacement_character(client, org, number, vapi):
    deliver(client, vapi.end_of_call_report(number.platform_id, transcript="User: a\x00b", summary="s\x00"))

    [call] = calls_of(org)
    assert (call.transcript, call.summary) == ("User: a\ufffdb", "s\ufffd")


@pytest.mark.django_db
def test_the_recording_link_is_stored_and_not_fetched(client, org, number, vapi):
    asked_before = len(vapi.requests)

    deliver(client, vapi.end_of_call_report(number.platform_id, recording_url="https://storage.vapi.ai/r.wav"))

    assert calls_of(org)[0].recording_url == "https://storage.vapi.ai/r.wav"
    assert len(vapi.requests) == asked_before


@pytest.mark.django_db
def test_a_number_attached_before_reports_existed_reports_to_us_after_a_sync(org, owner, number, vapi,
                                                                            run_on_commit):
    # As VAPI had it before: no server on the number, and an account without a secret.
    vapi._numbers[number.platform_id].pop("server")
    with tenant_scope(org):
        ProviderAccount.objects.filter(provider=Provider.VAPI).update(webhook_secret=None)
        run_on_commit(platform.platform_sync_request, organization=org, actor=owner, number=number)

    secret = secret_of(org)
    assert secret
    assert vapi.phone_numbers()[0]["server"] == {"url": settings.PUBLIC_BASE_URL + VAPI_PATH,
                                                 "headers": {"X-Vapi-Secret": secret}}
    assert vapi.requests[-1].method == "PATCH"


def admin_form_values(page: str) -> dict:
    """What the admin's change form would post back as it is shown (inputs, checked boxes, selects)."""
    import html
    import re

    values = {}
    for tag in re.findall(r"<input[^>]*>", page):
        name, kind = re.search(r'name="([^"]+)"', tag), re.search(r'type="([^"]+)"', tag)
        if not name or (kind and kind.group(1) in ("submit", "button", "file")):
            continue
        if kind and kind.group(1) == "checkbox":
            if " checked" in tag:
                values[name.group(1)] = "on"
            continue
        value = re.search(r'value="([^"]*)"', tag)
        values[name.group(1)] = html.unescape(value.group(1)) if value else ""
    for name, body in re.findall(r'<select name="([^"]+)"[^>]*>(.*?)</select>', page, re.S):
        chosen = re.search(r'<option value="([^"]*)"[^>]*selected', body)
        values[name] = html.unescape(chosen.group(1)) if chosen else ""
    for name, body in re.findall(r'<textarea name="([^"]+)"[^>]*>(.*?)</textarea>', page, re.S):
        values[name] = html.unescape(body.strip())
    return values


@pytest.mark.django_db
def test_a_new_secret_typed_in_the_admin_reaches_vapi_and_the_old_one_stops_working(
        client, org, number, vapi, staff_user, django_capture_on_commit_callbacks):
    old = secret_of(org)
    with tenant_scope(org):
        account = ProviderAccount.objects.get(organization=org, provider=Provider.VAPI)
    client.force_login(staff_user)
    url = f"/admin/telephony/provideraccount/{account.pk}/change/"
    form = {**admin_form_values(client.get(url).content.decode()), "webhook_secret": "n" * 40}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, form, follow=True)
    assert "The new webhook secret is being sent to VAPI for 1 number." in response.content.decode()
    [on_vapi] = vapi.phone_numbers()
    assert on_vapi["server"]["headers"] == {"X-Vapi-Secret": "n" * 40}
    client.logout()
    assert deliver(client, vapi.end_of_call_report(number.platform_id, call_id="after")).status_code == 200
    stale = deliver(client, vapi.end_of_call_report(number.platform_id, call_id="stale"), **{"X-Vapi-Secret": old})
    assert stale.status_code == 403
    assert [c.provider_sid for c in calls_of(org)] == ["after"]
