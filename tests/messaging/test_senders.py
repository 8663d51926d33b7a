"""WhatsApp Cloud API senders connected by owners (issue 17): checked with Meta (the Graph API fake,
over HTTP) before anything is saved, secrets write-only, the webhook's URL, verify token and
handshake on the sender's page, the daily check, and sending refused while a sender is not active."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone

from crm.models import Contact
from messaging.models import Conversation, SenderStatus, WhatsAppSender
from messaging.services import senders
from messaging.services.policy import may_send
from messaging.tasks import whatsapp_senders_check_all
from softphone.simulator import whatsapp_webhooks as meta
from softphone.simulator.whatsapp import FakeWhatsApp
from tenants import services as tenant_services
from tenants.models import AuditEvent
from tenants.scoping import tenant_scope
from tests import factories

TOKEN = "EAAJB-acme-system-user-token-7d1f"
APP_SECRET = "acme-meta-app-secret-93c2"
PNID = "106540352242922"
WABA = "102290129340398"
DISPLAY = "+1 555-078-3881"
OTHER_PNID = "106540352242999"


@pytest.fixture
def graph(settings):
    fake = FakeWhatsApp(access_token=TOKEN)
    settings.WHATSAPP_GRAPH_BASE_URL = fake.start()
    fake.add_phone_number(PNID, DISPLAY, business_account_id=WABA, verified_name="Acme Support")
    yield fake
    fake.stop()


def form(**changes) -> dict:
    return {"name": "Support WhatsApp", "phone_number_id": PNID, "business_account_id": WABA,
            "access_token": TOKEN, "app_secret": APP_SECRET, **changes}


def api_body(**changes) -> dict:
    return {"name": "Support WhatsApp", "phoneNumberId": PNID, "businessAccountId": WABA, "accessToken": TOKEN,
            "appSecret": APP_SECRET, **changes}


def senders_of(org) -> list[WhatsAppSender]:
    with tenant_scope(org):
        return list(WhatsAppSender.objects.order_by("pk"))


def sender_of(org, pk) -> WhatsAppSender:
    with tenant_scope(org):
        return WhatsAppSender.objects.get(pk=pk)


def connect(org, owner, **changes) -> WhatsAppSender:
    with tenant_scope(org):
        return senders.whatsapp_sender_connect(organization=org, actor=owner, **form(**changes))


def text(response) -> str:
    return response.content.decode()


# Connecting -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_owner_connects_a_sender_checked_with_meta(owner_client, org, graph, caplog):
    caplog.set_level(logging.DEBUG)

    response = owner_client.post("/o/acme/whatsapp/senders/connect/", form())

    [sender] = senders_of(org)
    assert response.status_code == 302
    assert response["Location"] == f"/o/acme/whatsapp/senders/{sender.pk}/"
    # What Meta said is stored; the secrets are stored encrypted.
    assert (sender.name, sender.phone_number_id, sender.business_account_id) == ("Support WhatsApp", PNID, WABA)
    assert (sender.display_phone_number, sender.verified_name, sender.status) == (DISPLAY, "Acme Support", "active")
    assert (sender.access_token, sender.app_secret) == (TOKEN, APP_SECRET)
    assert sender.last_checked_at is not None and sender.is_active
    with tenant_scope(org), connection.cursor() as cursor:
        cursor.execute("select access_token, app_secret from messaging_whatsappsender")
        assert all(bytes(value).startswith(b"gAAAA") for value in cursor.fetchone())
    # Meta was asked about the number with the token, and about the business account's numbers.
    assert [(r.method, r.path, r.token) for r in graph.requests] == [
        ("GET", f"/{settings.WHATSAPP_GRAPH_VERSION}/{PNID}", TOKEN),
        ("GET", f"/{settings.WHATSAPP_GRAPH_VERSION}/{WABA}/phone_numbers", TOKEN)]
    assert graph.requests[0].query["fields"] == ("display_phone_number,verified_name,quality_rating,"
                                                 "code_verification_status")

    page = owner_client.get(response["Location"])
    html = text(page)
    assert page.status_code == 200
    assert "Support WhatsApp" in html and DISPLAY in html and "Active" in html
    # What to paste into Meta's console: the route we serve, on our public address, and the verify token.
    assert f"<code data-webhook-url>{settings.PUBLIC_BASE_URL}/webhooks/whatsapp/</code>" in html
    assert Client().get("/webhooks/whatsapp/", {"hub.mode": "subscribe", "hub.verify_token": "x"}).status_code == 403
    assert f"<code data-verify-token>{sender.verify_token}</code>" in html
    assert len(sender.verify_token) >= 40
    assert "Not yet: Meta checks the verify token" in html
    # Secrets never come back: not in the page, the history or the logs.
    for secret in (TOKEN, APP_SECRET):
        assert secret not in html
        assert secret not in caplog.text
    with tenant_scope(org):
        event = AuditEvent.objects.get(verb="whatsapp_sender.connected")
    assert TOKEN not in str(event.data) and APP_SECRET not in str(event.data)
    # The list shows it, with its status, and not its verify token.
    listing = text(owner_client.get("/o/acme/whatsapp/senders/"))
    assert "Support WhatsApp" in listing and "Active" in listing and "Not verified by Meta yet" in listing
    assert sender.verify_token not in listing and TOKEN not in listing


@pytest.mark.django_db
def test_a_wrong_token_is_a_clear_400_and_nothing_is_saved(owner_client, org, graph):
    response = owner_client.post("/o/acme/whatsapp/senders/connect/", form(access_token="EAAJB-mistyped"))

    assert response.status_code == 400
    assert "Meta refused the access token: it has expired, was revoked or was not copied whole." in text(response)
    assert "EAAJB-mistyped" not in text(response) and APP_SECRET not in text(response)
    assert senders_of(org) == []

    api = owner_client.post("/api/acme/whatsapp-senders", api_body(accessToken="EAAJB-mistyped"),
                            content_type="application/json")
    assert api.status_code == 400
    assert api.json()["accessToken"][0].startswith("Meta refused the access token")
    assert "EAAJB-mistyped" not in text(api)
    assert senders_of(org) == []


@pytest.mark.django_db
def test_an_expired_token_is_refused_too(owner_client, org, graph):
    graph.expire_token(TOKEN)

    response = owner_client.post("/api/acme/whatsapp-senders", api_body(), content_type="application/json")

    assert response.status_code == 400
    assert response.json()["accessToken"][0].startswith("Meta refused the access token")
    assert senders_of(org) == []


@pytest.mark.django_db
@pytest.mark.parametrize("changes, field, message", [
    ({"phoneNumberId": "106540300000000"}, "credentials",
     "Meta has no phone number id 106540300000000 that this access token can read: check the id."),
    ({"businessAccountId": "999999999999999"}, "credentials",
     "Meta has no WhatsApp Business Account 999999999999999 that this access token can read: check the id."),
])
def test_ids_meta_does_not_know_are_a_clear_400(owner_client, org, graph, changes, field, message):
    response = owner_client.post("/api/acme/whatsapp-senders", api_body(**changes), content_type="application/json")

    assert response.status_code == 400
    assert response.json()[field] == [message]
    assert senders_of(org) == []


@pytest.mark.django_db
def test_a_number_of_another_business_account_is_refused(owner_client, org, graph):
    graph.add_business_account("555555555555555")

    response = owner_client.post("/api/acme/whatsapp-senders", api_body(businessAccountId="555555555555555"),
                                 content_type="application/json")

    assert response.status_code == 400
    assert response.json()["businessAccountId"] == [
        f"Phone number id {PNID} is not a number of WhatsApp Business Account 555555555555555."]
    assert senders_of(org) == []


@pytest.mark.django_db
@pytest.mark.parametrize("changes, field", [
    ({"phoneNumberId": "../../me"}, "phoneNumberId"),
    ({"businessAccountId": "102290129340398/phone_numbers?x="}, "businessAccountId"),
    ({"accessToken": "two words"}, "accessToken"),
    ({"name": "Support\u202eevil"}, "name"),
    ({"appSecret": ""}, "appSecret"),
])
def test_malformed_input_is_400_before_meta_is_asked(owner_client, org, graph, changes, field):
    response = owner_client.post("/api/acme/whatsapp-senders", api_body(**changes), content_type="application/json")

    assert response.status_code == 400
    assert field in response.json()
    assert graph.requests == []
    assert senders_of(org) == []


@pytest.mark.django_db
def test_a_number_connected_in_another_organization_is_refused_without_naming_it(
        owner_client, org, owner, other_org, outsider, graph):
    theirs = connect(other_org, outsider, name="Globex secret line")

    response = owner_client.post("/o/acme/whatsapp/senders/connect/", form())

    assert response.status_code == 400
    assert senders.TAKEN in text(response)
    assert "Globex" not in text(response) and theirs.verify_token not in text(response)
    api = owner_client.post("/api/acme/whatsapp-senders", api_body(), content_type="application/json")
    assert api.status_code == 400
    assert api.json() == {"phoneNumberId": [senders.TAKEN]}
    assert senders_of(org) == []
    assert [s.name for s in senders_of(other_org)] == ["Globex secret line"]


@pytest.mark.django_db
def test_a_number_connected_here_already_is_named(owner_client, org, owner, graph):
    connect(org, owner, name="Front desk")

    response = owner_client.post("/api/acme/whatsapp-senders", api_body(), content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {"phoneNumberId": ["This number is already connected here, as “Front desk”."]}
    assert len(senders_of(org)) == 1


@pytest.mark.django_db
def test_a_number_meta_has_not_verified_is_saved_as_not_verified_and_cannot_send(owner_client, org, owner, graph):
    graph.set_code_verification_status(PNID, "NOT_VERIFIED")

    sender = connect(org, owner)

    assert sender.status == SenderStatus.NOT_VERIFIED
    page = text(owner_client.get(f"/o/acme/whatsapp/senders/{sender.pk}/"))
    assert "Not verified" in page
    assert "Meta reports its code verification status as NOT_VERIFIED" in page


# Editing, switching, removing ------------------------------------------------------------------------


@pytest.mark.django_db
def test_editing_keeps_the_secrets_left_empty(owner_client, org, owner, graph):
    sender = connect(org, owner)
    asked = len(graph.requests)

    response = owner_client.post(f"/o/acme/whatsapp/senders/{sender.pk}/",
                                 {"name": "Sales WhatsApp", "business_account_id": WABA, "access_token": "",
                                  "app_secret": ""})

    assert response.status_code == 302
    saved = sender_of(org, sender.pk)
    assert (saved.name, saved.access_token, saved.app_secret) == ("Sales WhatsApp", TOKEN, APP_SECRET)
    assert len(graph.requests) == asked  # nothing new to check with Meta
    # The edit form never shows a secret back.
    page = text(owner_client.get(f"/o/acme/whatsapp/senders/{sender.pk}/"))
    assert TOKEN not in page and APP_SECRET not in page
    assert re.search(r'<input type="password" name="access_token"[^>]*>', page).group(0).count("value=") == 0

    # A new app secret replaces the old one; the token stays.
    owner_client.post(f"/o/acme/whatsapp/senders/{sender.pk}/",
                      {"name": "Sales WhatsApp", "business_account_id": WABA, "app_secret": "rotated-app-secret"})
    saved = sender_of(org, sender.pk)
    assert (saved.access_token, saved.app_secret) == (TOKEN, "rotated-app-secret")
    with tenant_scope(org):
        updates = list(AuditEvent.objects.filter(verb="whatsapp_sender.updated").order_by("created_at")
                       .values_list("data", flat=True))
    assert updates == [{"fields": ["name"]}, {"fields": ["app_secret"]}]


@pytest.mark.django_db
def test_a_new_token_meta_refuses_changes_nothing(owner_client, org, owner, graph):
    sender = connect(org, owner)

    response = owner_client.post(f"/o/acme/whatsapp/senders/{sender.pk}/",
                                 {"name": "Renamed", "business_account_id": WABA, "access_token": "EAAJB-wrong"})

    assert response.status_code == 400
    assert "Meta refused the access token" in text(response)
    assert "EAAJB-wrong" not in text(response)
    saved = sender_of(org, sender.pk)
    assert (saved.name, saved.access_token) == ("Support WhatsApp", TOKEN)


@pytest.mark.django_db
def test_a_new_token_brings_an_expired_sender_back(owner_client, org, owner, graph):
    sender = connect(org, owner, access_token=TOKEN)
    with tenant_scope(org):
        WhatsAppSender.objects.filter(pk=sender.pk).update(status=SenderStatus.TOKEN_EXPIRED, last_error="expired")

    response = owner_client.patch(f"/api/acme/whatsapp-senders/{sender.pk}", {"accessToken": TOKEN},
                                  content_type="application/json")

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["lastError"], body["hasAccessToken"]) == ("active", "", True)
    assert TOKEN not in text(response) and APP_SECRET not in text(response)


@pytest.mark.django_db
def test_switching_off_and_on_and_sending_refused_meanwhile(owner_client, org, owner, graph):
    sender = connect(org, owner)
    with tenant_scope(org):
        contact = Contact.objects.create(organization=org, phone_number="+16505551234")
        conversation = Conversation.objects.create(organization=org, contact=contact, channel="whatsapp",
                                                   whatsapp_sender=sender, last_inbound_at=timezone.now())

    owner_client.post(f"/o/acme/whatsapp/senders/{sender.pk}/switch/", {"active": "0"})

    assert sender_of(org, sender.pk).is_active is False
    page = text(owner_client.get(f"/o/acme/whatsapp/senders/{sender.pk}/"))
    assert "Switched off" in page and "This WhatsApp sender is switched off." in page
    refused = owner_client.post(f"/api/acme/conversations/{conversation.pk}/messages", {"body": "Hello"},
                                content_type="application/json")
    assert refused.status_code == 400
    assert refused.json()["body"] == ["This WhatsApp sender is switched off."]

    owner_client.post(f"/o/acme/whatsapp/senders/{sender.pk}/switch/", {"active": "1"})
    assert sender_of(org, sender.pk).is_active is True
    with tenant_scope(org):
        assert may_send(Conversation.objects.select_related("contact", "whatsapp_sender").get(pk=conversation.pk))


@pytest.mark.django_db
def test_a_sender_with_conversations_cannot_be_removed_one_without_can(owner_client, org, owner, graph):
    sender = connect(org, owner)
    with tenant_scope(org):
        contact = Contact.objects.create(organization=org, phone_number="+16505551234")
        conversation = Conversation.objects.create(organization=org, contact=contact, channel="whatsapp",
                                                   whatsapp_sender=sender)

    response = owner_client.post(f"/o/acme/whatsapp/senders/{sender.pk}/delete/", follow=True)
    assert "has 1 conversation(s): removing it would delete them. Switch it off instead." in text(response)
    assert len(senders_of(org)) == 1

    with tenant_scope(org):
        conversation.delete()
    response = owner_client.delete(f"/api/acme/whatsapp-senders/{sender.pk}")
    assert response.status_code == 204
    assert senders_of(org) == []


# The webhook: the handshake and signed POSTs ----------------------------------------------------------


@pytest.mark.django_db
def test_the_handshake_and_the_last_signed_post_are_recorded_and_shown(owner_client, org, owner, graph):
    sender = connect(org, owner)
    handshake = {"hub.mode": "subscribe", "hub.verify_token": sender.verify_token, "hub.challenge": "1158201444"}

    answer = Client().get("/webhooks/whatsapp/", handshake)

    assert (answer.status_code, answer.content) == (200, b"1158201444")
    first = sender_of(org, sender.pk).webhook_verified_at
    assert first is not None
    Client().get("/webhooks/whatsapp/", handshake)  # Meta checks again when the webhook is edited
    assert sender_of(org, sender.pk).webhook_verified_at == first  # the first one is kept
    page = text(owner_client.get(f"/o/acme/whatsapp/senders/{sender.pk}/"))
    assert f"Yes, on {timezone.localtime(first):%Y-%m-%d %H:%M:%S}" in page
    assert "None received yet" in page

    payload = meta.status_update(phone_number_id=PNID, display_phone_number=DISPLAY, wamid="wamid.none",
                                 status="delivered", recipient_id="16505551234")
    raw = meta.encode(payload)
    forged = Client().post("/webhooks/whatsapp/", raw, content_type="application/json",
                           HTTP_X_HUB_SIGNATURE_256=meta.sign(raw, "not-the-app-secret"))
    assert forged.status_code == 403
    assert sender_of(org, sender.pk).last_webhook_at is None
    signed = Client().post("/webhooks/whatsapp/", raw, content_type="application/json",
                           HTTP_X_HUB_SIGNATURE_256=meta.sign(raw, APP_SECRET))
    assert signed.status_code == 200
    seen = sender_of(org, sender.pk).last_webhook_at
    assert seen is not None
    page = text(owner_client.get(f"/o/acme/whatsapp/senders/{sender.pk}/"))
    assert f'<dd data-last-webhook>{timezone.localtime(seen):%Y-%m-%d %H:%M:%S}</dd>' in page
    listing = text(owner_client.get("/o/acme/whatsapp/senders/"))
    assert "Verified by Meta" in listing


@pytest.mark.django_db
def test_a_signed_post_is_recorded_at_most_once_a_minute(org, owner, graph):
    sender = connect(org, owner)
    earlier = timezone.now() - timedelta(seconds=20)
    with tenant_scope(org):
        WhatsAppSender.objects.filter(pk=sender.pk).update(last_webhook_at=earlier)
    raw = meta.encode(meta.status_update(phone_number_id=PNID, display_phone_number=DISPLAY, wamid="wamid.x",
                                         status="read", recipient_id="16505551234"))

    Client().post("/webhooks/whatsapp/", raw, content_type="application/json",
                  HTTP_X_HUB_SIGNATURE_256=meta.sign(raw, APP_SECRET))
    assert sender_of(org, sender.pk).last_webhook_at == earlier

    with tenant_scope(org):
        WhatsAppSender.objects.filter(pk=sender.pk).update(last_webhook_at=earlier - timedelta(minutes=5))
    Client().post("/webhooks/whatsapp/", raw, content_type="application/json",
                  HTTP_X_HUB_SIGNATURE_256=meta.sign(raw, APP_SECRET))
    assert sender_of(org, sender.pk).last_webhook_at > earlier


# The daily check ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_daily_check_records_each_senders_status_and_one_failure_stops_nobody(
        owner_client, org, owner, other_org, outsider, graph, caplog):
    numbers = {name: f"1065403522429{n:02d}" for n, name in enumerate(["flaky", "expired", "unverified", "fine"])}
    for pnid in numbers.values():
        graph.add_phone_number(pnid, f"+1 555-010-00{pnid[-2:]}", business_account_id=WABA)
    made = {name: connect(org, owner, name=name, phone_number_id=pnid) for name, pnid in numbers.items()}
    globex = connect(other_org, outsider, name="globex", phone_number_id=PNID)
    with tenant_scope(org):
        WhatsAppSender.objects.filter(pk=made["expired"].pk).update(access_token="EAAJB-old-token")
    graph.expire_token("EAAJB-old-token")
    graph.set_code_verification_status(numbers["unverified"], "EXPIRED")
    graph.set_code_verification_status(PNID, "NOT_VERIFIED")  # Globex's number, checked in its own tenant
    # Meta fails the first sender's check (a worker tries it again later; run inline, the retry is raised).
    graph.fail_next(status=503)

    whatsapp_senders_check_all.apply(throw=True)

    state = {s.name: (s.status, s.last_error) for s in senders_of(org)}
    assert state["flaky"] == ("active", "")  # a failure to ask is not Meta's answer: nothing recorded
    assert sender_of(org, made["flaky"].pk).last_checked_at == made["flaky"].last_checked_at
    assert state["expired"][0] == "token_expired"
    assert state["expired"][1].startswith("Meta refused the access token: it has expired")
    assert state["unverified"] == ("not_verified", "Meta reports its code verification status as EXPIRED; finish "
                                                   "registering the number in WhatsApp Manager.")
    assert state["fine"] == ("active", "")
    assert sender_of(org, made["fine"].pk).last_checked_at > made["fine"].last_checked_at
    assert sender_of(other_org, globex.pk).status == "not_verified"
    assert "WhatsApp sender" in caplog.text and TOKEN not in caplog.text and "EAAJB-old-token" not in caplog.text

    # Each shows why on its page, and sending through it is refused with that reason.
    page = text(owner_client.get(f"/o/acme/whatsapp/senders/{made['expired'].pk}/"))
    assert "Token expired" in page
    assert "access token has expired or was revoked: an owner or admin must enter a new one" in page
    with tenant_scope(org):
        contact = Contact.objects.create(organization=org, phone_number="+16505551234")
        for name, code, reason in (
                ("expired", "sender_token_expired", "This WhatsApp sender's access token has expired or was revoked"),
                ("unverified", "sender_not_verified", "This WhatsApp sender's number is not verified by Meta yet. "
                                                      "Meta reports its code verification status as EXPIRED")):
            created = Conversation.objects.create(organization=org, contact=contact, channel="whatsapp",
                                                  whatsapp_sender_id=made[name].pk, last_inbound_at=timezone.now())
            verdict = may_send(Conversation.objects.select_related("contact", "whatsapp_sender").get(pk=created.pk))
            assert (verdict.allowed, verdict.code) == (False, code)
            assert verdict.reason.startswith(reason)
    with tenant_scope(org):
        changes = list(AuditEvent.objects.filter(verb="whatsapp_sender.status_changed")
                       .values_list("target_repr", "data"))
    assert len(changes) == 2 and all(TOKEN not in str(data) for _, data in changes)


@pytest.mark.django_db
def test_check_now_from_the_page_and_the_api(owner_client, org, owner, graph):
    sender = connect(org, owner)
    graph.set_code_verification_status(PNID, "NOT_VERIFIED")

    response = owner_client.post(f"/o/acme/whatsapp/senders/{sender.pk}/check/", follow=True)
    assert "Checked with Meta: not verified." in text(response)
    assert sender_of(org, sender.pk).status == "not_verified"

    graph.set_code_verification_status(PNID, "VERIFIED")
    api = owner_client.post(f"/api/acme/whatsapp-senders/{sender.pk}/check", content_type="application/json")
    assert api.status_code == 200
    assert (api.json()["status"], api.json()["verifyToken"]) == ("active", sender.verify_token)
    assert api.json()["webhookUrl"] == f"{settings.PUBLIC_BASE_URL}/webhooks/whatsapp/"

    graph.fail_next(status=503)
    unreachable = owner_client.post(f"/api/acme/whatsapp-senders/{sender.pk}/check", content_type="application/json")
    assert unreachable.status_code == 400
    assert unreachable.json() == {"detail": ["Meta could not be reached; try again shortly."]}
    assert sender_of(org, sender.pk).status == "active"


# Who may -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_agents_cannot_reach_the_pages_or_the_api_and_outsiders_see_nothing(
        agent_client, admin_client_org, outsider_client, org, owner, graph):
    sender = connect(org, owner)
    for path in ("/o/acme/whatsapp/senders/", f"/o/acme/whatsapp/senders/{sender.pk}/"):
        assert agent_client.get(path).status_code == 403
        assert admin_client_org.get(path).status_code == 200
        assert outsider_client.get(path).status_code == 404
    assert agent_client.post("/o/acme/whatsapp/senders/connect/", form()).status_code == 403
    assert agent_client.get("/api/acme/whatsapp-senders").status_code == 403
    assert outsider_client.get(f"/api/acme/whatsapp-senders/{sender.pk}").status_code == 404
    assert outsider_client.get(f"/api/globex/whatsapp-senders/{sender.pk}").status_code == 404


@pytest.mark.django_db
def test_the_api_lists_senders_without_secrets_or_verify_tokens(owner_client, org, owner, graph):
    sender = connect(org, owner)

    listing = owner_client.get("/api/acme/whatsapp-senders")
    detail = owner_client.get(f"/api/acme/whatsapp-senders/{sender.pk}")

    [item] = listing.json()["results"]
    assert (item["phoneNumberId"], item["displayPhoneNumber"], item["status"]) == (PNID, DISPLAY, "active")
    assert (item["hasAccessToken"], item["hasAppSecret"]) == (True, True)
    assert "verifyToken" not in item and "accessToken" not in item and "appSecret" not in item
    assert detail.json()["verifyToken"] == sender.verify_token
    for response in (listing, detail):
        assert TOKEN not in text(response) and APP_SECRET not in text(response)


@pytest.mark.django_db
def test_a_sender_belongs_to_a_client_and_only_that_clients_members_see_its_conversations(
        owner_client, org, owner, graph):
    atlas, borealis = factories.make_client(org, "Atlas Outfitters"), factories.make_client(org, "Borealis Books")
    response = owner_client.post("/o/acme/whatsapp/senders/connect/", form(client=str(atlas.pk)))
    assert response.status_code == 302
    [sender] = senders_of(org)
    assert sender.client_id == atlas.pk
    assert 'selected>Atlas Outfitters</option>' in text(owner_client.get(response["Location"]))
    with tenant_scope(org):
        contact = Contact.objects.create(organization=org, phone_number="+14155550177", name="Wanda WhatsApp")
        Conversation.objects.create(organization=org, contact=contact, channel="whatsapp", whatsapp_sender=sender,
                                    last_message_at=timezone.now(), last_message_preview="Hola desde WhatsApp")
    lena = factories.make_user("lena")
    membership = factories.add_member(org, lena, "agent")
    with tenant_scope(org):
        tenant_services.membership_set_clients(organization=org, actor=owner, membership=membership, limited=True,
                                               clients=[atlas])
    seen = Client()
    seen.force_login(lena)
    assert "Hola desde WhatsApp" in text(seen.get("/o/acme/inbox/?view=all"))
    # Moved to Borealis (through the API): Lena no longer sees it; a client of another org is a 400.
    moved = owner_client.patch(f"/api/acme/whatsapp-senders/{sender.pk}", {"clientId": str(borealis.pk)},
                               content_type="application/json")
    assert moved.status_code == 200 and moved.json()["clientId"] == str(borealis.pk)
    assert "Hola desde WhatsApp" not in text(seen.get("/o/acme/inbox/?view=all"))
    wrong = owner_client.patch(f"/api/acme/whatsapp-senders/{sender.pk}", {"clientId": str(owner.pk)},
                               content_type="application/json")
    assert wrong.status_code == 400 and "clientId" in wrong.json()
    with tenant_scope(org):
        assert AuditEvent.objects.filter(verb="whatsapp_sender.updated", data={"fields": ["client"]}).exists()
