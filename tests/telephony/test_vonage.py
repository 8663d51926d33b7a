"""Vonage end to end, through the real adapters against the Vonage fake (contracts/vonage): connect,
import twice, buy, assign, receive, reply, delivery receipts out of order, forged webhooks refused,
removal giving the number its old inbound URL back. Vonage's webhooks reach the product through the
test client (tests.vendor_fixtures.DjangoTransport), signed as Vonage signs them."""

from __future__ import annotations

import json
import time

import pytest
from django.db.models import F

from messaging.models import Conversation, InboundEvent, Message
from messaging.services import events
from softphone.simulator.vonage import vonage_signature
from telephony.models import NumberStatus, PhoneNumber, ProviderAccount
from telephony.services import accounts, sync
from telephony.services.routing import voice_numbers
from tenants.models import AuditEvent
from tenants.scoping import tenant_scope
from tests.telephony.carriers import api, messages_of, numbers_of
from tests.vendor_fixtures import (
    GLOBEX_VONAGE_KEY,
    GLOBEX_VONAGE_SECRET,
    GLOBEX_VONAGE_SIGNATURE_SECRET,
    VONAGE_KEY,
    VONAGE_SECRET,
    VONAGE_SIGNATURE_SECRET,
)

OURS = "+14155550160"
OTHER = "+14155550161"
CUSTOMER = "+14155550199"
INBOUND_PATH = "/webhooks/vonage/messages/"
STATUS_PATH = "/webhooks/vonage/messages/status/"


@pytest.fixture
def imported(owner_client, org, vonage, vonage_account, settings, django_capture_on_commit_callbacks):
    """Acme's Vonage number, imported over the API: its inbound URL pointed at us by the import."""
    vonage.add_number(VONAGE_KEY, OURS, mo_http_url="https://old.example.com/sms")
    with django_capture_on_commit_callbacks(execute=True):
        response = api(owner_client, "post", "phone-numbers/import",
                       {"providerAccountId": str(vonage_account.pk), "numbers": "all"})
    assert response.status_code == 202, response.json()
    return numbers_of(org)[OURS]


@pytest.mark.django_db
def test_connecting_checks_the_credentials_with_vonage_and_keeps_every_secret_out_of_the_answer(
        owner_client, org, vonage):
    bad = api(owner_client, "post", "provider-accounts", {
        "provider": "vonage", "apiKey": VONAGE_KEY, "apiSecret": "wrong", "signatureSecret": "s"})
    assert bad.status_code == 400
    assert "Vonage rejected the credentials" in json.dumps(bad.json())
    unsigned = api(owner_client, "post", "provider-accounts", {
        "provider": "vonage", "apiKey": VONAGE_KEY, "apiSecret": VONAGE_SECRET})
    assert unsigned.status_code == 400
    assert "signature secret" in json.dumps(unsigned.json())
    with tenant_scope(org):
        assert not ProviderAccount.objects.exists()

    good = api(owner_client, "post", "provider-accounts", {
        "provider": "vonage", "apiKey": VONAGE_KEY, "apiSecret": VONAGE_SECRET,
        "signatureSecret": VONAGE_SIGNATURE_SECRET, "signatureMethod": "md5hash"})
    assert good.status_code == 201, good.json()
    text = json.dumps(good.json())
    assert VONAGE_SECRET not in text and VONAGE_SIGNATURE_SECRET not in text
    assert (good.json()["provider"], good.json()["accountSid"], good.json()["status"]) == ("vonage", VONAGE_KEY,
                                                                                           "active")
    balance_checks = [r for r in vonage.requests if r.path == "/account/get-balance"]
    assert len(balance_checks) == 2  # the refused secret, then the good one (the unsigned one never left)
    with tenant_scope(org):
        account = ProviderAccount.objects.get()
    assert (account.auth_token, account.webhook_secret, account.signature_method) == (
        VONAGE_SECRET, VONAGE_SIGNATURE_SECRET, "md5hash")
    again = api(owner_client, "post", "provider-accounts", {
        "provider": "vonage", "apiKey": VONAGE_KEY, "apiSecret": VONAGE_SECRET,
        "signatureSecret": VONAGE_SIGNATURE_SECRET})
    assert again.status_code == 400
    assert again.json()["apiKey"] == ["This Vonage account is already connected."]


@pytest.mark.django_db
def test_the_accounts_page_connects_vonage_and_marks_it_messaging_only(owner_client, org, vonage):
    page = owner_client.get("/o/acme/numbers/accounts/")
    assert b"Connect a Vonage account" in page.content
    response = owner_client.post("/o/acme/numbers/accounts/connect/vonage/", {
        "api_key": VONAGE_KEY, "api_secret": VONAGE_SECRET, "signature_secret": VONAGE_SIGNATURE_SECRET,
        "signature_method": "md5hash"}, follow=True)
    assert response.status_code == 200
    assert b"is connected" in response.content
    assert b"Messaging only" in response.content
    assert VONAGE_SECRET.encode() not in response.content
    assert owner_client.post("/o/acme/numbers/accounts/connect/nonesuch/", {}).status_code == 404


@pytest.mark.django_db
def test_importing_twice_points_each_number_at_us_once_and_creates_no_duplicates(
        owner_client, org, vonage, vonage_account, settings, django_capture_on_commit_callbacks):
    for i in range(105):  # two pages of Vonage's largest (100)
        vonage.add_number(VONAGE_KEY, f"+1415555{i:04d}", mo_http_url="https://old.example.com/sms")
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            response = api(owner_client, "post", "phone-numbers/import",
                           {"providerAccountId": str(vonage_account.pk), "numbers": "all"})
        job = owner_client.get(f"/api/acme/jobs/{response.json()['id']}").json()
        assert (job["status"], job["done"], job["total"], job["errors"]) == ("done", 105, 105, [])
    stored = numbers_of(org)
    assert len(stored) == 105
    ours = settings.PUBLIC_BASE_URL + INBOUND_PATH
    one = stored["+14155550007"]
    assert (one.provider, one.provider_sid, one.sms_url, one.previous_sms_url, one.voice_url) == (
        "vonage", "14155550007", ours, "https://old.example.com/sms", "")
    assert one.capabilities == {"voice": False, "sms": True, "mms": False, "fax": False}
    assert one.metadata["messaging_only"] is True and one.metadata["carrier_features"] == ["SMS", "VOICE"]
    assert all(n["moHttpUrl"] == ours for n in vonage.accounts[VONAGE_KEY].numbers.values())
    updates = [r for r in vonage.requests if r.path == "/number/update"]
    assert len(updates) == 105  # the second import found every number configured
    # Vonage took the URL only after it answered its GET with 200 (our route serves it).
    assert set(vonage.probes) == {ours}


@pytest.mark.django_db
def test_searching_and_buying_a_vonage_number(owner_client, org, vonage, vonage_account, settings):
    vonage.offer(VONAGE_KEY, OTHER)
    vonage.offer(VONAGE_KEY, "+447700900123", country="GB")
    found = api(owner_client, "post", "phone-numbers/vonage/available",
                {"providerAccountId": str(vonage_account.pk), "country": "US", "capabilities": ["sms"]})
    assert found.status_code == 200, found.json()
    assert [(n["phoneNumber"], n["isoCountry"], n["capabilities"]["sms"]) for n in found.json()] == [
        (OTHER, "US", True)]
    # With credentials given once, nothing saved.
    once = api(owner_client, "post", "phone-numbers/vonage/available",
               {"apiKey": VONAGE_KEY, "apiSecret": VONAGE_SECRET, "country": "GB"})
    assert [n["phoneNumber"] for n in once.json()] == ["+447700900123"]
    wrong_kind = api(owner_client, "post", "phone-numbers/twilio/available",
                     {"providerAccountId": str(vonage_account.pk)})
    assert wrong_kind.status_code == 400
    assert "Vonage account, not Twilio" in json.dumps(wrong_kind.json())
    assert api(owner_client, "post", "phone-numbers/nonesuch/available",
               {"providerAccountId": str(vonage_account.pk)}).status_code == 404

    bought = api(owner_client, "post", "phone-numbers/buy",
                 {"providerAccountId": str(vonage_account.pk), "phoneNumber": OTHER})
    assert bought.status_code == 201, bought.json()
    assert (bought.json()["provider"], bought.json()["source"], bought.json()["webhookConfigured"]) == (
        "vonage", "bought", True)
    assert vonage.number(VONAGE_KEY, OTHER)["moHttpUrl"] == settings.PUBLIC_BASE_URL + INBOUND_PATH
    gone = api(owner_client, "post", "phone-numbers/buy",
               {"providerAccountId": str(vonage_account.pk), "phoneNumber": OTHER})
    assert gone.status_code == 400  # bought already: Vonage refuses, in words


@pytest.mark.django_db
def test_adding_one_vonage_number_by_the_seed_route(owner_client, org, vonage, settings,
                                                    django_capture_on_commit_callbacks):
    vonage.add_number(VONAGE_KEY, OURS)
    with django_capture_on_commit_callbacks(execute=True):
        response = api(owner_client, "post", "phone-numbers", {
            "provider": "vonage", "phoneNumber": OURS, "apiKey": VONAGE_KEY, "apiSecret": VONAGE_SECRET,
            "signatureSecret": VONAGE_SIGNATURE_SECRET, "friendlyName": "UK desk"})
    assert response.status_code == 201, response.json()
    assert (response.json()["provider"], response.json()["friendlyName"]) == ("vonage", "UK desk")
    assert vonage.number(VONAGE_KEY, OURS)["moHttpUrl"] == settings.PUBLIC_BASE_URL + INBOUND_PATH
    missing = api(owner_client, "post", "phone-numbers", {
        "provider": "vonage", "phoneNumber": OTHER, "apiKey": VONAGE_KEY, "apiSecret": VONAGE_SECRET,
        "signatureSecret": VONAGE_SIGNATURE_SECRET})
    assert missing.status_code == 400
    assert missing.json()["phoneNumber"] == [f"{OTHER} is not a number of this Vonage account."]
    wrong = api(owner_client, "post", "phone-numbers", {
        "provider": "vonage", "phoneNumber": OTHER, "apiKey": VONAGE_KEY, "apiSecret": "not-it"})
    assert wrong.status_code == 400
    assert "not the secret this account was connected with" in json.dumps(wrong.json())


@pytest.mark.django_db
@pytest.mark.parametrize("as_json", [False, True], ids=["form", "json"])
def test_a_text_in_a_reply_out_and_receipts_out_of_order(owner_client, org, agent, vonage, imported, as_json,
                                                         django_capture_on_commit_callbacks):
    assert api(owner_client, "patch", f"phone-numbers/{imported.pk}", {"agentId": str(agent.pk)}).status_code == 200
    assert vonage.inbound_sms(VONAGE_KEY, OURS, CUSTOMER, "¿Dónde está mi pedido? & = fine",
                              as_json=as_json) == 200
    assert messages_of(org) == [("inbound", "¿Dónde está mi pedido? & = fine", "received")]
    with tenant_scope(org):
        conversation = Conversation.objects.select_related("contact").get()
    assert (conversation.contact.phone_number, conversation.phone_number_id) == (CUSTOMER, imported.pk)

    with django_capture_on_commit_callbacks(execute=True):
        reply = api(owner_client, "post", f"conversations/{conversation.pk}/messages", {"body": "En camino 🚚"})
    assert reply.status_code == 202, reply.json()
    sent = vonage.sent[-1]
    assert (sent["from"], sent["to"], sent["text"], sent["type"]) == ("14155550160", "14155550199", "En camino 🚚",
                                                                      "unicode")
    assert sent["callback"].endswith(STATUS_PATH)
    assert messages_of(org)[-1] == ("outbound", "En camino 🚚", "sent")

    # Delivered first, then a late "accepted": the status only moves forward.
    assert vonage.delivery_receipt(sent["message-id"], "delivered", as_json=as_json) == 200
    assert vonage.delivery_receipt(sent["message-id"], "accepted", as_json=as_json) == 200
    assert messages_of(org)[-1] == ("outbound", "En camino 🚚", "delivered")
    # The same text delivered twice is stored once.
    first = vonage.inbound_sms(VONAGE_KEY, OURS, CUSTOMER, "thanks", message_id="0B000000ABCDEF12")
    again = vonage.inbound_sms(VONAGE_KEY, OURS, CUSTOMER, "thanks", message_id="0B000000ABCDEF12")
    assert (first, again) == (200, 200)
    assert [m for m in messages_of(org) if m[1] == "thanks"] == [("inbound", "thanks", "received")]


@pytest.mark.django_db
def test_a_failed_receipt_says_why_in_words(owner_client, org, vonage, imported, django_capture_on_commit_callbacks):
    vonage.inbound_sms(VONAGE_KEY, OURS, CUSTOMER, "hello")
    with tenant_scope(org):
        conversation = Conversation.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        api(owner_client, "post", f"conversations/{conversation.pk}/messages", {"body": "hi"})
    vonage.delivery_receipt(vonage.sent[-1]["message-id"], "failed", err_code="6")
    with tenant_scope(org):
        failed = Message.objects.get(direction="outbound")
    assert (failed.status, failed.error_code, failed.error_message) == (
        "failed", "6", "The carrier rejected the message as spam.")


@pytest.mark.django_db
def test_vonage_throttling_is_waited_out_and_a_refusal_is_in_words(owner_client, org, vonage, imported,
                                                                   django_capture_on_commit_callbacks):
    vonage.inbound_sms(VONAGE_KEY, OURS, CUSTOMER, "hello")
    with tenant_scope(org):
        conversation = Conversation.objects.get()
    vonage.throttle_sends = 1
    with django_capture_on_commit_callbacks(execute=True):
        api(owner_client, "post", f"conversations/{conversation.pk}/messages", {"body": "one"})
    assert messages_of(org)[-1] == ("outbound", "one", "sent")
    vonage.accounts[VONAGE_KEY].numbers.pop("14155550160")  # gone at Vonage behind our back
    with django_capture_on_commit_callbacks(execute=True):
        api(owner_client, "post", f"conversations/{conversation.pk}/messages", {"body": "two"})
    with tenant_scope(org):
        failed = Message.objects.get(body="two")
    assert (failed.status, failed.error_message) == (
        "failed", "This Vonage number may not send to that country (a local number is needed).")


@pytest.mark.django_db
def test_attachments_are_refused_before_anything_is_sent(owner_client, org, vonage, imported):
    vonage.inbound_sms(VONAGE_KEY, OURS, CUSTOMER, "hello")
    with tenant_scope(org):
        conversation = Conversation.objects.get()
    response = api(owner_client, "post", f"conversations/{conversation.pk}/messages",
                   {"body": "see", "mediaUrls": ["https://example.com/a.jpg"]})
    assert response.status_code == 400
    assert "cannot send MMS" in json.dumps(response.json())
    assert vonage.sent == []


def _signed(params: dict, secret: str = VONAGE_SIGNATURE_SECRET, method: str = "md5hash", **changes) -> dict:
    params = {**params, "timestamp": str(int(time.time())), "nonce": "n-1", **changes}
    params["sig"] = vonage_signature({k: v for k, v in params.items() if k != "sig"}, secret, method)
    return params


def _inbound(**changes) -> dict:
    return {"msisdn": CUSTOMER[1:], "to": OURS[1:], "messageId": "0A0000001234ABCD", "text": "hi", "type": "text",
            "keyword": "HI", "api-key": VONAGE_KEY, "message-timestamp": "2026-12-04 10:00:00", **changes}


@pytest.mark.django_db
@pytest.mark.parametrize("case", ["unsigned", "forged", "other_tenants_secret", "old", "tampered", "wrong_method"])
def test_forged_webhooks_are_refused_and_store_nothing(client, org, vonage, imported, other_org, case):
    if case == "unsigned":
        params = {**_inbound(), "timestamp": str(int(time.time()))}
    elif case == "forged":
        params = {**_signed(_inbound()), "sig": "0" * 32}
    elif case == "other_tenants_secret":
        params = _signed(_inbound(), secret=GLOBEX_VONAGE_SIGNATURE_SECRET)
    elif case == "old":
        params = _signed(_inbound(), timestamp=str(int(time.time()) - 3600))
        params["sig"] = vonage_signature({k: v for k, v in params.items() if k != "sig"}, VONAGE_SIGNATURE_SECRET,
                                         "md5hash")
    elif case == "tampered":
        params = {**_signed(_inbound()), "text": "send me the refund"}
    else:
        params = _signed(_inbound(), method="sha256")
    response = client.post(INBOUND_PATH, params)
    assert response.status_code == 403
    assert messages_of(org) == []


@pytest.mark.django_db
def test_odd_webhooks_get_clear_answers(client, org, vonage, imported):
    assert client.get(INBOUND_PATH).status_code == 200  # Vonage's check of the address: nothing stored
    assert client.get(STATUS_PATH).status_code == 200
    nobody = client.post(INBOUND_PATH, _signed(_inbound(to="14155550999")))
    assert nobody.status_code == 404
    no_id = client.post(INBOUND_PATH, _signed(_inbound(messageId="")))
    assert (no_id.status_code, no_id.content) == (400, b"messageId is missing.")
    bad_json = client.post(INBOUND_PATH, b"{not json", content_type="application/json")
    assert bad_json.status_code == 400
    nested = client.post(INBOUND_PATH, json.dumps({"msisdn": {"a": 1}}), content_type="application/json")
    assert nested.status_code == 400
    assert messages_of(org) == []
    assert client.post("/webhooks/nonesuch/messages/", _signed(_inbound())).status_code == 404


@pytest.mark.django_db
def test_a_nul_in_a_text_is_kept_as_a_replacement_character(client, org, vonage, imported,
                                                             django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(INBOUND_PATH, _signed(_inbound(text="a\x00b")))
    assert response.status_code == 200
    assert messages_of(org) == [("inbound", "a\ufffdb", "received")]


@pytest.mark.django_db
def test_removing_a_number_gives_it_back_its_old_inbound_url(owner_client, org, vonage, imported,
                                                            django_capture_on_commit_callbacks):
    ours = vonage.transport
    vonage.transport = lambda method, url, body, headers: (
        200 if url == "https://old.example.com/sms" else ours(method, url, body, headers))
    with django_capture_on_commit_callbacks(execute=True):
        response = api(owner_client, "delete", f"phone-numbers/{imported.pk}")
    assert response.status_code == 202
    assert numbers_of(org) == {}
    assert vonage.number(VONAGE_KEY, OURS)["moHttpUrl"] == "https://old.example.com/sms"
    # Texts to it are nobody's now.
    assert vonage.inbound_sms(VONAGE_KEY, OURS, CUSTOMER, "hello?", url="http://127.0.0.1:8000" + INBOUND_PATH) == 404


@pytest.mark.django_db
def test_an_old_url_vonage_no_longer_takes_is_cleared_and_the_history_says_why(
        owner_client, org, vonage, imported, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        api(owner_client, "delete", f"phone-numbers/{imported.pk}")
    assert numbers_of(org) == {}
    assert vonage.number(VONAGE_KEY, OURS)["moHttpUrl"] == ""  # not us any more, and not a dead address
    with tenant_scope(org):
        entry = AuditEvent.objects.get(verb="phone_number.removed")
    assert entry.data["previous_urls_not_restored"]["sms_url"] == "https://old.example.com/sms"
    assert "Vonage refused the change" in entry.data["previous_urls_not_restored"]["reason"]


@pytest.mark.django_db
def test_the_hourly_sync_finds_drift_and_numbers_released_at_vonage(owner_client, org, vonage, vonage_account,
                                                                  imported, settings):
    vonage.add_number(VONAGE_KEY, OTHER)
    with tenant_scope(org):
        api(owner_client, "post", "phone-numbers/buy", {"providerAccountId": str(vonage_account.pk),
                                                        "phoneNumber": OTHER})
    vonage.number(VONAGE_KEY, OURS)["moHttpUrl"] = "https://someone-else.example.com/in"
    with tenant_scope(org):
        counts = sync.provider_account_sync(organization=org, account=vonage_account)
    assert counts["drifted"] == 1
    drifted = numbers_of(org)[OURS]
    assert drifted.webhook_drift == "SMS URL is https://someone-else.example.com/in"
    repaired = api(owner_client, "post", f"phone-numbers/{drifted.pk}/repair-webhooks")
    assert repaired.status_code == 200
    assert repaired.json()["webhookDrift"] == ""
    assert vonage.number(VONAGE_KEY, OURS)["moHttpUrl"] == settings.PUBLIC_BASE_URL + INBOUND_PATH

    vonage.accounts[VONAGE_KEY].numbers.pop(OURS[1:])
    with tenant_scope(org):
        sync.provider_account_sync(organization=org, account=vonage_account)
    released = numbers_of(org)[OURS]
    assert (released.status, released.status_reason) == (NumberStatus.INACTIVE,
                                                         "Released in Vonage (no longer in the account).")


@pytest.mark.django_db
def test_a_vonage_number_is_never_a_caller_id_nor_an_ai_agents_line(owner_client, org, agent, vonage, imported):
    with tenant_scope(org):
        PhoneNumber.objects.filter(pk=imported.pk).update(agent=agent)
        assert voice_numbers(organization=org, agent=agent) == []


@pytest.mark.django_db
def test_globex_cannot_reach_acmes_vonage_line(client, org, other_org, outsider, vonage, imported):
    """Globex's own Vonage key, signed with its own secret, naming Acme's number: nobody's line."""
    with tenant_scope(other_org):
        accounts.provider_account_connect(organization=other_org, actor=outsider, provider="vonage",
                                          api_key=GLOBEX_VONAGE_KEY, api_secret=GLOBEX_VONAGE_SECRET,
                                          signature_secret=GLOBEX_VONAGE_SIGNATURE_SECRET, signature_method="sha256")
    params = _signed(_inbound(**{"api-key": GLOBEX_VONAGE_KEY}), secret=GLOBEX_VONAGE_SIGNATURE_SECRET,
                     method="sha256")
    assert client.post(INBOUND_PATH, params).status_code == 404
    assert messages_of(org) == []


@pytest.mark.django_db
def test_releasing_a_number_gives_it_back_to_vonage(owner_client, org, vonage, imported,
                                                   django_capture_on_commit_callbacks):
    assert api(owner_client, "delete", f"phone-numbers/{imported.pk}?release=maybe").status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        response = api(owner_client, "delete", f"phone-numbers/{imported.pk}?release=true")
    assert (response.status_code, response.json()["statusReason"]) == (202, "Being released")
    assert numbers_of(org) == {}
    assert vonage.number(VONAGE_KEY, OURS) is None
    assert [r.params["msisdn"] for r in vonage.requests if r.path == "/number/cancel"] == [OURS[1:]]
    with tenant_scope(org):
        assert AuditEvent.objects.filter(verb="phone_number.released").count() == 1


@pytest.mark.django_db
def test_the_number_page_releases_only_once_the_number_is_typed(owner_client, org, vonage, imported,
                                                               django_capture_on_commit_callbacks):
    page = owner_client.get(f"/o/acme/numbers/{imported.pk}/")
    assert b"Release to Vonage" in page.content
    refused = owner_client.post(f"/o/acme/numbers/{imported.pk}/remove/", {"release": "1", "confirm": "yes"},
                                follow=True)
    assert b"to confirm" in refused.content
    assert numbers_of(org)[OURS].status == NumberStatus.ACTIVE
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(f"/o/acme/numbers/{imported.pk}/remove/", {"release": "1", "confirm": OURS})
    assert numbers_of(org) == {} and vonage.number(VONAGE_KEY, OURS) is None


LONG = ("My order 4417 arrived with the lid cracked and the box soaked, so I would like a replacement sent "
        "before Friday, or a refund to the card I paid with; the courier left it in the rain by the gate. "
        "Can you also check the second parcel, which says delivered but never came?")


@pytest.mark.django_db
def test_a_long_text_in_parts_is_one_message_whatever_order_the_parts_come_in(org, vonage, imported):
    parts = vonage.long_sms_parts(VONAGE_KEY, OURS, CUSTOMER, LONG)
    assert len(parts) == 2
    assert vonage.post_part(VONAGE_KEY, parts[1]) == 200  # the second part first
    assert messages_of(org) == []  # waiting for the first
    assert vonage.post_part(VONAGE_KEY, parts[1]) == 200  # and again (Vonage retries): harmless
    assert vonage.post_part(VONAGE_KEY, parts[0]) == 200
    assert messages_of(org) == [("inbound", LONG, "received")]
    with tenant_scope(org):
        assert Conversation.objects.get().unread_count == 1
        assert Message.objects.get().provider_sid == parts[0]["messageId"]


@pytest.mark.django_db
def test_a_part_that_never_comes_is_marked_where_it_goes(org, vonage, imported, django_capture_on_commit_callbacks):
    parts = vonage.long_sms_parts(VONAGE_KEY, OURS, CUSTOMER, LONG)
    assert vonage.post_part(VONAGE_KEY, parts[0]) == 200
    assert messages_of(org) == []
    with tenant_scope(org):
        InboundEvent.objects.update(received_at=F("received_at") - events.PART_WAIT, next_attempt_at=None)
        with django_capture_on_commit_callbacks(execute=True):
            events.inbound_events_drain(organization=org)
    assert messages_of(org) == [("inbound", LONG[:153] + "[…]", "received")]


@pytest.mark.django_db
def test_the_numbers_pages_import_search_and_buy_on_vonage(owner_client, org, vonage, vonage_account):
    vonage.add_number(VONAGE_KEY, OURS, mo_http_url="https://old.example.com/sms")
    vonage.offer(VONAGE_KEY, OTHER)
    assert b"Import numbers" in owner_client.get("/o/acme/numbers/").content
    listed = owner_client.get(f"/o/acme/numbers/import/?account={vonage_account.pk}").content.decode()
    assert f'value="{OURS}"' in listed and "https://old.example.com/sms" in listed
    found = owner_client.get(f"/o/acme/numbers/search/?account={vonage_account.pk}&country=US&number_type=local")
    assert found.status_code == 200, found.content.decode()[-3000:]
    assert OTHER in found.content.decode()
    confirm = owner_client.get(f"/o/acme/numbers/buy/?account={vonage_account.pk}&phone_number={OTHER}")
    assert b"Vonage account" in confirm.content and b"inbound-message URL will point at Softphone" in confirm.content
    assert b"calls on it do not reach the softphone" in confirm.content


@pytest.mark.django_db
def test_a_rotated_signature_secret_takes_effect_at_once(owner_client, client, org, vonage, vonage_account, imported,
                                                         django_capture_on_commit_callbacks):
    assert client.post(INBOUND_PATH, _signed(_inbound(messageId="A1"))).status_code == 200  # cached line, old secret
    with django_capture_on_commit_callbacks(execute=True):  # the stamp moves once the change commits
        rotated = api(owner_client, "patch", f"provider-accounts/{vonage_account.pk}",
                      {"signatureSecret": "the-new-signature-secret", "signatureMethod": "sha256"})
    assert rotated.status_code == 200, rotated.json()
    assert "the-new-signature-secret" not in json.dumps(rotated.json())
    assert client.post(INBOUND_PATH, _signed(_inbound(messageId="A2"))).status_code == 403
    signed_new = _signed(_inbound(messageId="A3"), secret="the-new-signature-secret", method="sha256")
    assert client.post(INBOUND_PATH, signed_new).status_code == 200
    refused = api(owner_client, "patch", f"provider-accounts/{vonage_account.pk}", {"apiSecret": "wrong-secret"})
    assert refused.status_code == 400 and "Vonage rejected the credentials" in json.dumps(refused.json())
    other = api(owner_client, "patch", f"provider-accounts/{vonage_account.pk}", {"apiKey": "zzzz9999"})
    assert other.status_code == 400 and "cannot be changed" in json.dumps(other.json())
    with tenant_scope(org):
        assert ProviderAccount.objects.get().auth_token == VONAGE_SECRET


@pytest.mark.django_db
def test_the_daily_check_marks_an_account_whose_secret_was_revoked(org, vonage, vonage_account, imported):
    vonage.accounts[VONAGE_KEY].api_secret = "revoked-and-replaced"
    with tenant_scope(org):
        assert accounts.provider_account_verify(organization=org, account=vonage_account) is False
        account = ProviderAccount.objects.get()
        number = PhoneNumber.objects.get()
    assert (account.status, account.last_error) == (
        "error", "Vonage rejected the credentials (check the API key and secret).")
    assert number.status == NumberStatus.ERROR
    assert "Vonage rejected the credentials" in number.status_reason


@pytest.mark.django_db
def test_a_vonage_numbers_page_shows_what_it_carries(owner_client, org, vonage, imported, settings):
    page = owner_client.get(f"/o/acme/numbers/{imported.pk}/").content.decode()
    assert "Messaging only" in page and "Calls and voicemail" not in page
    assert settings.PUBLIC_BASE_URL + INBOUND_PATH in page and "https://old.example.com/sms" in page
    assert "<h2>History</h2>" in page
