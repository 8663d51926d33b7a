"""Bandwidth end to end, through the real adapters against the Bandwidth fake: connect (OAuth 2.0
client credentials; the messaging application pointed at us with callback credentials we make),
import twice, buy into the application's location, assign, receive (JSON arrays, at least once),
reply with text and pictures, statuses out of order, forged callbacks refused, drift found and
repaired, release, and disconnection giving the application back what it called before."""

from __future__ import annotations

import base64
import json

import pytest
from django.test import Client

from core.vendors import ProviderError
from messaging.models import Conversation, Message
from messaging.providers import for_conversation
from telephony.models import NumberStatus, PhoneNumber, ProviderAccount
from telephony.services import accounts, sync
from telephony.services.routing import voice_numbers
from tenants.scoping import tenant_scope
from tests.telephony.carriers import api, messages_of, numbers_of
from tests.vendor_fixtures import (
    BANDWIDTH_ACCOUNT,
    BANDWIDTH_APP,
    BANDWIDTH_CLIENT,
    BANDWIDTH_SECRET,
    GLOBEX_BANDWIDTH_ACCOUNT,
    GLOBEX_BANDWIDTH_APP,
    GLOBEX_BANDWIDTH_CLIENT,
    GLOBEX_BANDWIDTH_SECRET,
)

OURS = "+19195550160"
OTHER = "+19195550161"
CUSTOMER = "+19195550199"
INBOUND_PATH = "/webhooks/bandwidth/messages/"
STATUS_PATH = "/webhooks/bandwidth/messages/status/"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def imported(owner_client, org, bandwidth, bandwidth_account, django_capture_on_commit_callbacks):
    bandwidth.add_numbers(BANDWIDTH_ACCOUNT, OURS)
    with django_capture_on_commit_callbacks(execute=True):
        response = api(owner_client, "post", "phone-numbers/import",
                       {"providerAccountId": str(bandwidth_account.pk), "numbers": "all"})
    assert response.status_code == 202, response.json()
    return numbers_of(org)[OURS]


@pytest.fixture
def conversation(org, bandwidth, imported):
    assert bandwidth.inbound(BANDWIDTH_ACCOUNT, OURS, CUSTOMER, "hello") == 200
    with tenant_scope(org):
        return Conversation.objects.get()


@pytest.mark.django_db
def test_connecting_checks_the_credential_and_points_the_application_at_us(
        owner_client, org, bandwidth, settings, django_capture_on_commit_callbacks):
    bad = api(owner_client, "post", "provider-accounts", {
        "provider": "bandwidth", "accountId": BANDWIDTH_ACCOUNT, "apiClientId": BANDWIDTH_CLIENT,
        "apiClientSecret": "wrong", "applicationId": BANDWIDTH_APP})
    assert bad.status_code == 400
    assert "Bandwidth rejected the API credential" in json.dumps(bad.json())
    no_app = api(owner_client, "post", "provider-accounts", {
        "provider": "bandwidth", "accountId": BANDWIDTH_ACCOUNT, "apiClientId": BANDWIDTH_CLIENT,
        "apiClientSecret": BANDWIDTH_SECRET, "applicationId": GLOBEX_BANDWIDTH_APP})
    assert no_app.status_code == 400
    assert "Bandwidth has no such resource" in json.dumps(no_app.json())
    with tenant_scope(org):
        assert not ProviderAccount.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        good = api(owner_client, "post", "provider-accounts", {
            "provider": "bandwidth", "accountId": BANDWIDTH_ACCOUNT, "apiClientId": BANDWIDTH_CLIENT,
            "apiClientSecret": BANDWIDTH_SECRET, "applicationId": BANDWIDTH_APP})
    assert good.status_code == 201, good.json()
    assert BANDWIDTH_SECRET not in json.dumps(good.json())
    with tenant_scope(org):
        account = ProviderAccount.objects.get()
    assert (account.api_username, account.auth_token, account.application_id) == (
        BANDWIDTH_CLIENT, BANDWIDTH_SECRET, BANDWIDTH_APP)
    assert len(account.webhook_secret) >= 40  # the callback password we made
    assert account.webhook_secret not in json.dumps(good.json())
    app = bandwidth.application(BANDWIDTH_ACCOUNT, BANDWIDTH_APP)
    assert (app["InboundCallbackUrl"], app["OutboundCallbackUrl"]) == (
        settings.PUBLIC_BASE_URL + INBOUND_PATH, settings.PUBLIC_BASE_URL + STATUS_PATH)
    assert app["InboundCallbackCreds"] == {"UserId": BANDWIDTH_ACCOUNT, "Password": account.webhook_secret}
    assert (account.webhooks_configured, account.previous_webhooks) == (True, {
        "inbound_url": "https://old.example.com/bandwidth", "status_url": "https://old.example.com/bandwidth",
        "username": "old-user"})
    # Every API call carried a bearer token; only the token endpoint saw the client secret.
    assert {r.auth for r in bandwidth.requests if r.path != "/oauth2/token"} == {"bearer"}
    page = owner_client.get("/o/acme/numbers/accounts/")
    assert b"Webhooks set" in page.content and b"Messaging only" in page.content
    assert BANDWIDTH_SECRET.encode() not in page.content and account.webhook_secret.encode() not in page.content


@pytest.mark.django_db
def test_importing_twice_pages_through_every_number_and_creates_no_duplicates(
        owner_client, org, bandwidth, bandwidth_account, django_capture_on_commit_callbacks):
    bandwidth.add_numbers(BANDWIDTH_ACCOUNT, *[f"+1919555{i:04d}" for i in range(520)])
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            response = api(owner_client, "post", "phone-numbers/import",
                           {"providerAccountId": str(bandwidth_account.pk), "numbers": "all"})
        job = owner_client.get(f"/api/acme/jobs/{response.json()['id']}").json()
        assert (job["status"], job["done"], job["total"], job["errors"]) == ("done", 520, 520, [])
    stored = numbers_of(org)
    assert len(stored) == 520
    one = stored["+19195550007"]
    assert (one.provider, one.provider_sid, one.webhook_configured, one.sms_url) == (
        "bandwidth", "9195550007", True, "")
    assert one.capabilities == {"voice": False, "sms": True, "mms": True, "fax": False}
    pages = [r for r in bandwidth.requests if r.path == f"/accounts/{BANDWIDTH_ACCOUNT}/inserviceNumbers"]
    assert [r.query["page"] for r in pages[:2]] == ["1", "2"]


@pytest.mark.django_db
def test_searching_and_buying_orders_into_the_applications_location(owner_client, org, bandwidth,
                                                                     bandwidth_account):
    bandwidth.offer(BANDWIDTH_ACCOUNT, OTHER, "+12125550100")
    found = api(owner_client, "post", "phone-numbers/bandwidth/available",
                {"providerAccountId": str(bandwidth_account.pk), "areaCode": "919"})
    assert found.status_code == 200, found.json()
    assert [n["phoneNumber"] for n in found.json()] == [OTHER]
    nowhere = api(owner_client, "post", "phone-numbers/bandwidth/available",
                  {"providerAccountId": str(bandwidth_account.pk), "country": "GB", "areaCode": "20"})
    assert nowhere.status_code == 400
    assert "United States only" in json.dumps(nowhere.json())
    bought = api(owner_client, "post", "phone-numbers/buy",
                 {"providerAccountId": str(bandwidth_account.pk), "phoneNumber": OTHER})
    assert bought.status_code == 201, bought.json()
    assert (bought.json()["provider"], bought.json()["source"]) == ("bandwidth", "bought")
    order = next(r for r in bandwidth.requests if r.path == f"/accounts/{BANDWIDTH_ACCOUNT}/orders"
                 and r.method == "POST")
    assert b"<SiteId>11</SiteId>" in order.body and b"<PeerId>21</PeerId>" in order.body
    assert "9195550161" in bandwidth.accounts[BANDWIDTH_ACCOUNT].numbers
    again = api(owner_client, "post", "phone-numbers/buy",
                {"providerAccountId": str(bandwidth_account.pk), "phoneNumber": OTHER})
    assert again.status_code == 400
    assert "Bandwidth could not complete the order" in json.dumps(again.json())


@pytest.mark.django_db
def test_a_text_and_a_picture_in_replies_out_and_statuses_out_of_order(
        owner_client, org, agent, bandwidth, imported, settings, django_capture_on_commit_callbacks):
    assert api(owner_client, "patch", f"phone-numbers/{imported.pk}", {"agentId": str(agent.pk)}).status_code == 200
    assert bandwidth.inbound(BANDWIDTH_ACCOUNT, OURS, CUSTOMER, "Here is the receipt",
                             media=[(JPEG, "image/jpeg")]) == 200
    with tenant_scope(org):
        conversation = Conversation.objects.select_related("contact").get()
        inbound = Message.objects.get()
    assert (conversation.contact.phone_number, inbound.body, inbound.direction) == (
        CUSTOMER, "Here is the receipt", "inbound")
    assert inbound.media[0]["url"].startswith(settings.BANDWIDTH_MESSAGING_BASE_URL + f"/users/{BANDWIDTH_ACCOUNT}/media/")
    # The picture comes through the adapter with the account's token, from Bandwidth's host only.
    with tenant_scope(org):
        fetched = for_conversation(conversation).media_fetch(inbound.media[0])
    try:
        assert (fetched.file.read(), fetched.content_type) == (JPEG, "image/jpeg")
    finally:
        fetched.close()

    with django_capture_on_commit_callbacks(execute=True):
        reply = api(owner_client, "post", f"conversations/{conversation.pk}/messages",
                    {"body": "Thanks, refund on the way", "mediaUrls": []})
    assert reply.status_code == 202, reply.json()
    sent = bandwidth.sent[-1]
    assert (sent["from"], sent["to"], sent["text"], sent["applicationId"]) == (
        OURS, [CUSTOMER], "Thanks, refund on the way", BANDWIDTH_APP)
    delivered = bandwidth.status_event(sent["id"], "message-delivered")
    sending = bandwidth.status_event(sent["id"], "message-sending")
    assert bandwidth.deliver_status(BANDWIDTH_ACCOUNT, delivered) == 200
    assert bandwidth.deliver_status(BANDWIDTH_ACCOUNT, sending) == 200  # late: changes nothing
    assert messages_of(org)[-1] == ("outbound", "Thanks, refund on the way", "delivered")


@pytest.mark.django_db
def test_a_failed_message_says_why_in_words(owner_client, org, bandwidth, conversation,
                                            django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        api(owner_client, "post", f"conversations/{conversation.pk}/messages", {"body": "hi"})
    failed_event = bandwidth.status_event(bandwidth.sent[-1]["id"], "message-failed", error_code=4770,
                                          description="carrier-rejected-spam")
    assert bandwidth.deliver_status(BANDWIDTH_ACCOUNT, failed_event) == 200
    with tenant_scope(org):
        failed = Message.objects.get(direction="outbound")
    assert (failed.status, failed.error_code, failed.error_message) == (
        "failed", "4770", "The recipient's carrier rejected the message as spam.")


@pytest.mark.django_db
def test_rate_limits_and_expired_tokens_are_waited_out(owner_client, org, bandwidth, conversation,
                                                      django_capture_on_commit_callbacks):
    bandwidth.rate_limit_next = 1
    bandwidth.tokens.clear()  # every token Bandwidth gave is now unknown to it: one new one is asked for
    with django_capture_on_commit_callbacks(execute=True):
        api(owner_client, "post", f"conversations/{conversation.pk}/messages", {"body": "patience"})
    assert messages_of(org)[-1] == ("outbound", "patience", "queued")
    assert bandwidth.sent[-1]["text"] == "patience"


@pytest.mark.django_db
def test_a_batch_is_stored_once_each_and_an_odd_event_fails_alone(client, org, bandwidth, bandwidth_account,
                                                                 imported, django_capture_on_commit_callbacks):
    first = bandwidth.inbound_event(BANDWIDTH_ACCOUNT, OURS, CUSTOMER, "one", message_id="m-1")
    second = bandwidth.inbound_event(BANDWIDTH_ACCOUNT, OURS, CUSTOMER, "two", message_id="m-2")
    nobodys = bandwidth.inbound_event(BANDWIDTH_ACCOUNT, "+19195550999", CUSTOMER, "lost", message_id="m-3")
    no_id = {**bandwidth.inbound_event(BANDWIDTH_ACCOUNT, OURS, CUSTOMER, "odd"), "message": {"to": [OURS]}}
    assert bandwidth.deliver_inbound(BANDWIDTH_ACCOUNT, first, nobodys, no_id, second) == 200
    assert bandwidth.deliver_inbound(BANDWIDTH_ACCOUNT, first, second) == 200  # at least once: again
    assert sorted(m[1] for m in messages_of(org)) == ["one", "two"]


@pytest.mark.django_db
@pytest.mark.parametrize("case", ["none", "wrong_password", "not_basic", "globex_credentials"])
def test_forged_callbacks_are_refused_and_store_nothing(client, org, other_org, outsider, bandwidth, imported,
                                                       case):
    event = bandwidth.inbound_event(BANDWIDTH_ACCOUNT, OURS, CUSTOMER, "give me a refund")
    headers = {"none": {}, "wrong_password": {"HTTP_AUTHORIZATION": basic(BANDWIDTH_ACCOUNT, "guess")},
               "not_basic": {"HTTP_AUTHORIZATION": "Bearer abc"}}
    if case == "globex_credentials":
        with tenant_scope(other_org):
            globex = accounts.provider_account_connect(
                organization=other_org, actor=outsider, provider="bandwidth", account_id=GLOBEX_BANDWIDTH_ACCOUNT,
                api_client_id=GLOBEX_BANDWIDTH_CLIENT, api_client_secret=GLOBEX_BANDWIDTH_SECRET,
                application_id=GLOBEX_BANDWIDTH_APP)
        headers[case] = {"HTTP_AUTHORIZATION": basic(GLOBEX_BANDWIDTH_ACCOUNT, globex.webhook_secret)}
    response = client.post(INBOUND_PATH, json.dumps([event]), content_type="application/json", **headers[case])
    # No credentials: asked for, as HTTP Basic does. Globex's own name Globex's account, where Acme's
    # number is nobody's.
    expected = {"none": 401, "not_basic": 401, "wrong_password": 403, "globex_credentials": 404}[case]
    assert response.status_code == expected
    if expected == 401:
        assert response["WWW-Authenticate"] == 'Basic realm="Softphone webhooks"'

    assert messages_of(org) == []


@pytest.mark.django_db
def test_bodies_that_are_not_bandwidths_get_clear_answers(client, org, bandwidth, bandwidth_account, imported):
    auth = {"HTTP_AUTHORIZATION": basic(BANDWIDTH_ACCOUNT, bandwidth_account.webhook_secret)}
    for body, reason in ((b"{not json", b"not JSON"), (b"[]", b"not a list of events"), (b"[1, 2]", b"not an object"),
                         (json.dumps([{}] * 101).encode(), b"not a list of events")):
        response = client.post(INBOUND_PATH, body, content_type="application/json", **auth)
        assert response.status_code == 400 and reason in response.content
    assert client.get(INBOUND_PATH).status_code == 405  # Bandwidth checks no address with a GET
    assert messages_of(org) == []


@pytest.mark.django_db
def test_drift_of_the_application_is_found_and_repaired_in_one_click(owner_client, org, bandwidth,
                                                                     bandwidth_account, settings):
    bandwidth.application(BANDWIDTH_ACCOUNT, BANDWIDTH_APP)["InboundCallbackUrl"] = "https://elsewhere.example/in"
    with tenant_scope(org):
        counts = sync.provider_account_sync(organization=org, account=bandwidth_account)
        account = ProviderAccount.objects.get()
    assert counts["drifted"] == 1
    assert account.webhooks_drift == "inbound URL is https://elsewhere.example/in"
    page = owner_client.get("/o/acme/numbers/accounts/")
    assert b"Messaging application: inbound URL is https://elsewhere.example/in" in page.content
    response = owner_client.post(f"/o/acme/numbers/accounts/{account.pk}/repair-webhooks/", follow=True)
    assert b"calls Softphone again" in response.content
    assert bandwidth.application(BANDWIDTH_ACCOUNT, BANDWIDTH_APP)["InboundCallbackUrl"] == (
        settings.PUBLIC_BASE_URL + INBOUND_PATH)
    repaired = api(owner_client, "post", f"provider-accounts/{account.pk}/repair-webhooks")
    assert (repaired.status_code, repaired.json()["webhooksDrift"]) == (200, "")


@pytest.mark.django_db
def test_releasing_gives_the_number_back_and_disconnecting_gives_the_application_back(
        owner_client, org, bandwidth, bandwidth_account, imported, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api(owner_client, "delete", f"phone-numbers/{imported.pk}?release=true")
    assert response.status_code == 202
    assert numbers_of(org) == {}
    assert "9195550160" not in bandwidth.accounts[BANDWIDTH_ACCOUNT].numbers
    disconnected = api(owner_client, "delete", f"provider-accounts/{bandwidth_account.pk}")
    assert disconnected.status_code == 204
    app = bandwidth.application(BANDWIDTH_ACCOUNT, BANDWIDTH_APP)
    assert (app["InboundCallbackUrl"], app["OutboundCallbackUrl"]) == ("https://old.example.com/bandwidth",
                                                                      "https://old.example.com/bandwidth")
    assert app["InboundCallbackCreds"] == ""  # its old password was never ours to know: none now


@pytest.mark.django_db
def test_a_bandwidth_number_is_never_a_caller_id(org, agent, bandwidth, imported):
    with tenant_scope(org):
        PhoneNumber.objects.filter(pk=imported.pk).update(agent=agent)
        assert voice_numbers(organization=org, agent=agent) == []
    assert imported.status == NumberStatus.ACTIVE


@pytest.mark.django_db
def test_media_urls_outside_the_accounts_media_are_refused(org, bandwidth, conversation):
    with tenant_scope(org):
        adapter = for_conversation(conversation)
    for url in ("https://evil.example.com/users/9900001/media/x", bandwidth.base_url + "/api/v2/users/9900002/media/x",
                bandwidth.base_url + "/api/v2/users/9900001/media/../../../api/v1/accounts/9900001"):
        with pytest.raises(ProviderError, match="not one of the account's media"):
            adapter.media_fetch({"url": url})


@pytest.mark.django_db
def test_adding_one_bandwidth_number_by_the_seed_route(owner_client, org, bandwidth,
                                                      django_capture_on_commit_callbacks):
    bandwidth.add_numbers(BANDWIDTH_ACCOUNT, OURS)
    with django_capture_on_commit_callbacks(execute=True):
        response = api(owner_client, "post", "phone-numbers", {
            "provider": "bandwidth", "phoneNumber": OURS, "accountId": BANDWIDTH_ACCOUNT,
            "apiClientId": BANDWIDTH_CLIENT, "apiClientSecret": BANDWIDTH_SECRET, "applicationId": BANDWIDTH_APP})
    assert response.status_code == 201, response.json()
    assert response.json()["provider"] == "bandwidth"
    assert numbers_of(org)[OURS].webhook_configured  # by the worker, after the answer
    assert bandwidth.application(BANDWIDTH_ACCOUNT, BANDWIDTH_APP)["InboundCallbackUrl"].endswith(INBOUND_PATH)
    missing = api(owner_client, "post", "phone-numbers", {
        "provider": "bandwidth", "phoneNumber": OTHER, "accountId": BANDWIDTH_ACCOUNT,
        "apiClientId": BANDWIDTH_CLIENT, "apiClientSecret": BANDWIDTH_SECRET, "applicationId": BANDWIDTH_APP})
    assert missing.status_code == 400
    assert missing.json()["phoneNumber"] == [f"{OTHER} is not a number of this Bandwidth account."]


@pytest.mark.django_db
def test_a_rotated_client_secret_is_checked_and_used(owner_client, org, bandwidth, bandwidth_account, conversation,
                                                    django_capture_on_commit_callbacks):
    bandwidth.accounts[BANDWIDTH_ACCOUNT].client_secret = "rotated-in-bandwidth"
    refused = api(owner_client, "patch", f"provider-accounts/{bandwidth_account.pk}",
                  {"apiClientSecret": "not-the-new-one"})
    assert refused.status_code == 400
    assert "Bandwidth rejected the API credential" in json.dumps(refused.json())
    assert api(owner_client, "patch", f"provider-accounts/{bandwidth_account.pk}",
               {"apiClientSecret": "rotated-in-bandwidth"}).status_code == 200
    bandwidth.tokens.clear()
    with django_capture_on_commit_callbacks(execute=True):
        api(owner_client, "post", f"conversations/{conversation.pk}/messages", {"body": "after rotation"})
    assert bandwidth.sent[-1]["text"] == "after rotation"


@pytest.mark.django_db
def test_a_status_event_without_a_message_id_touches_no_message(owner_client, org, bandwidth, bandwidth_account,
                                                                conversation, settings):
    with tenant_scope(org):
        waiting = Message.objects.create(organization=org, conversation=conversation, direction="outbound",
                                         body="not sent yet", status="queued", provider_sid="")
    event = {"type": "message-failed", "time": "2026-12-04T10:00:00Z", "description": "x", "to": CUSTOMER,
             "errorCode": 4470, "message": {"from": OURS, "to": [CUSTOMER]}}
    auth = {"HTTP_AUTHORIZATION": basic(BANDWIDTH_ACCOUNT, bandwidth_account.webhook_secret)}
    response = Client().post(STATUS_PATH, json.dumps([event]), content_type="application/json", **auth)
    assert response.status_code == 200
    with tenant_scope(org):
        waiting.refresh_from_db()
    assert (waiting.status, waiting.error_code) == ("queued", "")
