"""The built-in simulated carrier (softphone.simulator): served by the application under /simulator/
when SIMULATOR is on, reached by the product's real Twilio adapter through TWILIO_API_BASE_URL over
HTTP, keeping its own state in its own table, and behaving like the carrier: a sent message comes back
as signed status callbacks (sent, then delivered; undelivered for the unreachable number)."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys

import pytest
import requests
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from crm.models import Contact, Order, OrderStatus
from messaging.models import Conversation, Message, WhatsAppSender
from messaging.services import senders
from softphone.management.commands.seed_demo import (
    DEMO_ACCOUNT_SID,
    DEMO_AI_NUMBER,
    DEMO_ASSISTANTS,
    DEMO_NUMBER,
    SIMULATED_NUMBERS,
    WEEK_NUMBERS,
)
from softphone.simulator import carrier, tasks
from softphone.simulator.models import SimulatorState
from softphone.simulator.state import VAPI_KEY, simulated
from telephony.models import Call, PhoneNumber
from telephony.services import sync
from tenants import selectors as tenant_selectors
from tenants.models import Agent, Organization
from tenants.models import Client as TenantClient
from tenants.scoping import tenant_scope

SID = "AC" + "5" * 32
TOKEN = "simulated-token"
FIRST = "+14155550100"
CUSTOMER = "+14155550199"


def _basic(sid: str, token: str) -> str:
    return "Basic " + base64.b64encode(f"{sid}:{token}".encode()).decode()


@pytest.mark.django_db
def test_the_simulator_is_off_unless_asked_for(client, settings):
    settings.SIMULATOR_ENABLED = False
    response = client.get(f"/simulator/twilio/2010-04-01/Accounts/{SID}.json",
                          HTTP_AUTHORIZATION=_basic(SID, TOKEN))
    assert response.status_code == 404
    assert not SimulatorState.objects.exists()
    assert client.put(f"/simulator/twilio/2010-04-01/Accounts/{SID}.json").status_code == 405


def test_production_refuses_the_simulator_unless_explicitly_asked():
    env = {**os.environ, "SOFTPHONE_ENV": "production", "SIMULATOR": "true", "DJANGO_SETTINGS_MODULE": "softphone.settings",
           "SECRET_KEY": "x" * 60, "FERNET_KEYS": "y" * 44, "ALLOWED_HOSTS": "example.com",
           "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none", "REDIS_URL": "redis://127.0.0.1:6379/0"}
    refused = subprocess.run([sys.executable, "-c", "import django; django.setup()"], env=env, capture_output=True,
                             text=True, timeout=60)
    assert refused.returncode != 0
    assert "SIMULATOR is refused when SOFTPHONE_ENV=production" in refused.stderr


@pytest.fixture
def simulator(simulator_on):
    with simulated("twilio") as fake:
        fake.add_account(SID, TOKEN, friendly_name="Simulated Twilio")
        fake.add_incoming_numbers(SID, 3, start=FIRST)
    return simulator_on


def test_the_products_adapter_connects_imports_and_sends_through_the_simulator(
        simulator, org, owner_client, monkeypatch, django_capture_on_commit_callbacks):
    scheduled = []
    monkeypatch.setattr(tasks, "message_sent", lambda **kwargs: scheduled.append(kwargs))
    # Wrong credentials are refused as Twilio refuses them.
    wrong = owner_client.post("/api/acme/provider-accounts", {"provider": "twilio", "friendlyName": "Main",
                                                              "accountSid": SID, "authToken": "nope"},
                              content_type="application/json")
    assert wrong.status_code == 400
    account = owner_client.post("/api/acme/provider-accounts", {"provider": "twilio", "friendlyName": "Main",
                                                                "accountSid": SID, "authToken": TOKEN},
                                content_type="application/json")
    assert account.status_code == 201, account.content
    assert account.json()["status"] == "active"
    with django_capture_on_commit_callbacks(execute=True):
        job = owner_client.post("/api/acme/phone-numbers/import", {"providerAccountId": account.json()["id"],
                                                                   "numbers": "all"}, content_type="application/json")
    assert owner_client.get(f"/api/acme/jobs/{job.json()['id']}").json()["status"] == "done"
    with tenant_scope(org):
        numbers = sorted(PhoneNumber.objects.values_list("phone_number", flat=True))
        first = PhoneNumber.objects.get(phone_number=FIRST)
    assert numbers == [FIRST, "+14155550101", "+14155550102"]
    # The simulator now routes the numbers' texts to our webhooks, as the import configured them.
    with simulated("twilio") as fake:
        configured = fake.find_number(SID, FIRST)
    assert configured["sms_url"] == f"{simulator.url}/webhooks/twilio/messages/"

    with django_capture_on_commit_callbacks(execute=True):
        sent = owner_client.post("/api/acme/messages", {"fromNumberId": str(first.pk), "to": CUSTOMER,
                                                        "body": "Hello from the demo"},
                                 content_type="application/json")
    assert sent.status_code == 202, sent.content
    with simulated("twilio") as fake:
        [message] = [m for m in fake.messages(SID) if m["to"] == CUSTOMER]
    assert (message["from"], message["body"], message["status"]) == (FIRST, "Hello from the demo", "queued")
    assert scheduled == [{"account_sid": SID, "sid": message["sid"],
                          "callback": f"{simulator.url}/webhooks/twilio/messages/status/"}]

    # The carrier moves on, and tells us with signed callbacks: the product's message follows.
    for step in range(len(carrier.PROGRESS)):
        carrier.message_advance(**scheduled[0], step=step)
    with tenant_scope(org):
        stored = Message.objects.get(provider_sid=message["sid"])
    assert stored.status == "delivered"


def test_an_unreachable_handset_comes_back_undelivered_and_callbacks_go_only_to_us(simulator, org, monkeypatch):
    posted = []
    monkeypatch.setattr(requests, "post", lambda url, **kwargs: posted.append((url, kwargs["data"])))
    response = requests.Session().post(
        f"{simulator.url}/simulator/twilio/2010-04-01/Accounts/{SID}/Messages.json",
        data={"From": FIRST, "To": carrier.UNREACHABLE, "Body": "hi",
              "StatusCallback": "https://attacker.example/collect"},
        headers={"Authorization": _basic(SID, TOKEN)}, timeout=10)
    assert response.status_code == 201
    sid = response.json()["sid"]
    for step in range(len(carrier.PROGRESS)):
        carrier.message_advance(account_sid=SID, sid=sid, callback="https://attacker.example/collect", step=step)
    assert posted == []  # a callback URL that is not ours receives nothing
    with simulated("twilio") as fake:
        [message] = [m for m in fake.messages(SID) if m["sid"] == sid]
    assert (message["status"], message["error_code"]) == ("undelivered", 30003)
    ours = f"{simulator.url}/webhooks/twilio/messages/status/"
    carrier.message_advance(account_sid=SID, sid=sid, callback=ours, step=1)
    [(url, params)] = posted
    assert url == ours and params["MessageStatus"] == "undelivered" and params["ErrorCode"] == "30003"



def test_the_demo_replies_through_the_simulator_and_sync_keeps_its_number(simulator_on, monkeypatch,
                                                                         django_capture_on_commit_callbacks):
    """README's first steps on a fresh machine: the seeded demo's number belongs to the simulated
    account, so the agent's first reply is sent (and delivered), and "Sync now" keeps the number."""
    scheduled = []
    monkeypatch.setattr(tasks, "message_sent", lambda **kwargs: scheduled.append(kwargs))
    call_command("seed_demo")
    demo = Organization.objects.get(slug="demo")
    with tenant_scope(demo):
        before = {model.__name__: model.objects.count() for model in (Agent, TenantClient, PhoneNumber, Contact,
                                                                        Conversation, Message, Call, Order)}
    call_command("seed_demo")  # idempotent
    with tenant_scope(demo):
        after = {model.__name__: model.objects.count() for model in (Agent, TenantClient, PhoneNumber, Contact,
                                                                       Conversation, Message, Call, Order)}
        # A team's real week: people and AI agents, clients, a few dozen numbers, fifty customers more,
        # calls with voicemails and AI reports, orders in every state.
        assert after == before
        assert Agent.objects.filter(kind="human").count() == 5 and Agent.objects.filter(kind="ai").count() == 2
        assert after["Client"] == 2 and after["PhoneNumber"] == 23 and after["Contact"] >= 55
        assert Call.objects.filter(voicemail=True).exists() and Call.objects.exclude(summary="").exists()
        assert set(Order.objects.values_list("status", flat=True)) == set(OrderStatus.values)
        days = {d.date() for d in Message.objects.values_list("created_at", flat=True)}
        assert len(days) >= 10  # history over the weeks, for the home page's charts
    with tenant_scope(demo):
        maria = Conversation.objects.get(contact__name="Maria Lopez")
        number = PhoneNumber.objects.get(phone_number=DEMO_NUMBER)
    with simulated("twilio") as fake:
        assert [n["phone_number"] for n in fake.numbers(DEMO_ACCOUNT_SID)] == SIMULATED_NUMBERS
        assert fake.find_number(DEMO_ACCOUNT_SID, DEMO_NUMBER)["sid"] == number.provider_sid
    agent = Client()
    agent.force_login(get_user_model().objects.get(username="agent"))
    with django_capture_on_commit_callbacks(execute=True):
        response = agent.post(f"/o/demo/inbox/c/{maria.pk}/send/", {"body": "It ships today."}, HTTP_HX_REQUEST="true")
    assert response.status_code == 201
    with simulated("twilio") as fake:
        [sent] = [m for m in fake.messages(DEMO_ACCOUNT_SID) if m["body"] == "It ships today."]
    assert (sent["from"], sent["to"]) == (DEMO_NUMBER, "+14155550123")
    for step in range(len(carrier.PROGRESS)):
        carrier.message_advance(**scheduled[0], step=step)
    with tenant_scope(demo):
        assert Message.objects.get(provider_sid=sent["sid"]).status == "delivered"
        account = number.provider_account
        sync.provider_account_sync(organization=demo, account=account)
        assert PhoneNumber.objects.get(pk=number.pk).status == "active"
    # "Numbers → Import numbers lists the other seven."
    owner = Client()
    owner.force_login(get_user_model().objects.get(username="owner"))
    page = owner.get(f"/o/demo/numbers/import/?account={account.pk}").content.decode()
    offered = re.findall(r'name="numbers" value="(\+\d+)"', page)
    assert offered == SIMULATED_NUMBERS[23:] and len(offered) == 7


def test_a_customer_texts_from_the_phone_page_and_reads_the_reply(simulator_on, monkeypatch,
                                                                   django_capture_on_commit_callbacks):
    monkeypatch.setattr(tasks, "message_sent", lambda **kwargs: None)
    call_command("seed_demo")
    demo = Organization.objects.get(slug="demo")
    owner = Client()
    owner.force_login(get_user_model().objects.get(username="owner"))
    page = owner.get("/simulator/phone/?me=+14155550188")
    assert page.status_code == 200
    offered = re.findall(r'<option value="(\+\d+)"', page.content.decode())
    assert offered == [DEMO_NUMBER, *WEEK_NUMBERS, DEMO_AI_NUMBER]  # the numbers whose texts reach us
    sent = owner.post("/simulator/phone/", {"me": "+14155550188", "to": DEMO_NUMBER, "body": "Do you sell gift cards?"})
    assert sent.status_code == 302 and sent["Location"] == "/simulator/phone/?me=+14155550188"
    with tenant_scope(demo):
        conversation = Conversation.objects.get(contact__phone_number="+14155550188")
        assert conversation.last_message_preview == "Do you sell gift cards?"
    agent = Client()
    agent.force_login(get_user_model().objects.get(username="agent"))
    with django_capture_on_commit_callbacks(execute=True):
        agent.post(f"/o/demo/inbox/c/{conversation.pk}/send/", {"body": "Yes, from $10."}, HTTP_HX_REQUEST="true")
    thread = owner.get("/simulator/phone/thread/?me=%2B14155550188").content.decode()
    assert thread.index("Do you sell gift cards?") < thread.index("Yes, from $10.")
    # Bad input is a clear 400 and sends nothing.
    bad = owner.post("/simulator/phone/", {"me": "+14155550188", "to": "+19995550000", "body": "hi"})
    assert bad.status_code == 400 and "is not a number of the simulated carrier" in bad.content.decode()
    unheard = owner.post("/simulator/phone/", {"me": "+14155550188", "to": SIMULATED_NUMBERS[-1], "body": "hi"})
    assert unheard.status_code == 400
    assert "nobody will read it: the number has no SMS URL (import the number first)" in unheard.content.decode()
    empty = owner.post("/simulator/phone/", {"me": "+14155550188", "to": DEMO_NUMBER, "body": "  "})
    assert empty.status_code == 400 and "Write something to send." in empty.content.decode()
    assert owner.get("/simulator/phone/?me=not-a-number").status_code == 400
    # Anonymous people are sent to log in.
    assert Client().get("/simulator/phone/")["Location"].startswith("/accounts/login/")


def test_vapi_and_whatsapp_are_simulated_too_and_the_demo_is_connected_to_them(simulator_on, settings, org,
                                                                                 owner_client):
    settings.VAPI_API_BASE_URL = f"{simulator_on.url}/simulator/vapi"
    settings.WHATSAPP_GRAPH_BASE_URL = f"{simulator_on.url}/simulator/whatsapp"
    call_command("seed_demo")
    demo = Organization.objects.get(slug="demo")
    with tenant_scope(demo):
        catalog = tenant_selectors.assistant_catalog(organization=demo, fresh=True)
        sender = WhatsAppSender.objects.get()
        checked = senders.whatsapp_sender_check(organization=demo, sender=sender)
    # The product's real VAPI adapter lists the simulated assistants; Meta's check of the sender passes.
    assert catalog is not None and catalog.error == ""
    assert dict(catalog.assistants) == dict(DEMO_ASSISTANTS)
    assert (checked.status, checked.verified_name) == ("active", "Demo Company")
    # Another organization connects them through the product's pages and API, verified with the vendor.
    wrong = owner_client.post("/api/acme/provider-accounts", {"provider": "vapi", "apiKey": "not-the-key"},
                              content_type="application/json")
    assert wrong.status_code == 400
    vapi = owner_client.post("/api/acme/provider-accounts", {"provider": "vapi", "apiKey": VAPI_KEY,
                                                             "friendlyName": "VAPI"}, content_type="application/json")
    assert vapi.status_code == 201, vapi.content
    # Off, the vendors' simulated APIs answer nothing at all.
    settings.SIMULATOR_ENABLED = False
    assert Client().get("/simulator/vapi/assistant", HTTP_AUTHORIZATION=f"Bearer {VAPI_KEY}").status_code == 404


def test_a_customer_writes_on_whatsapp_from_the_phone_page_and_reads_the_reply(simulator_on, settings, monkeypatch,
                                                                               django_capture_on_commit_callbacks):
    settings.WHATSAPP_GRAPH_BASE_URL = f"{simulator_on.url}/simulator/whatsapp"
    monkeypatch.setattr(tasks, "message_sent", lambda **kwargs: None)
    told = []
    monkeypatch.setattr(tasks, "whatsapp_sent", lambda **kwargs: told.append(kwargs))
    call_command("seed_demo")
    demo = Organization.objects.get(slug="demo")
    owner = Client()
    owner.force_login(get_user_model().objects.get(username="owner"))
    page = owner.get("/simulator/phone/?me=+14155550188").content.decode()
    assert '<option value="wa:109000000000001">WhatsApp +1 415-555-0199</option>' in page
    sent = owner.post("/simulator/phone/", {"me": "+14155550188", "to": "wa:109000000000001",
                                            "body": "Hola, ¿tienen tarjetas regalo?"})
    assert sent.status_code == 302, sent.content.decode()[-500:]
    with tenant_scope(demo):
        conversation = Conversation.objects.get(channel="whatsapp", contact__phone_number="+14155550188")
        assert conversation.last_message_preview == "Hola, ¿tienen tarjetas regalo?"
    agent = Client()
    agent.force_login(get_user_model().objects.get(username="agent"))
    with django_capture_on_commit_callbacks(execute=True):
        reply = agent.post(f"/o/demo/inbox/c/{conversation.pk}/send/", {"body": "¡Sí, desde 10 €!"},
                           HTTP_HX_REQUEST="true")
    assert reply.status_code == 201, reply.content.decode()[-500:]
    # Meta tells of the reply with its signed status webhooks: the product's message follows.
    [scheduled] = told
    assert (scheduled["phone_number_id"], scheduled["recipient_id"]) == ("109000000000001", "14155550188")
    for step in range(len(carrier.WHATSAPP_PROGRESS)):
        carrier.whatsapp_advance(**scheduled, step=step)
    with tenant_scope(demo):
        assert Message.objects.get(provider_sid=scheduled["wamid"]).status == "delivered"
    thread = owner.get("/simulator/phone/thread/?me=%2B14155550188").content.decode()
    whatsapp = thread[thread.index("WhatsApp with"):]
    assert whatsapp.index("Hola, ¿tienen tarjetas regalo?") < whatsapp.index("¡Sí, desde 10 €!")
    bad = owner.post("/simulator/phone/", {"me": "+14155550188", "to": "wa:999", "body": "hi"})
    assert bad.status_code == 400 and "not a WhatsApp number of the simulated Meta" in bad.content.decode()
