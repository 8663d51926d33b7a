"""README's "Other carriers", as written: the simulated Vonage and Bandwidth, reached by the product's
real adapters over HTTP (their base URLs under /simulator/), their webhooks posted to the live server:
connect the demo accounts, import their numbers, text them from the customer's phone page, reply,
and see the carriers' receipts arrive."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from messaging.models import Conversation, Message
from softphone.simulator import carrier, state, tasks
from softphone.simulator.state import simulated
from telephony.models import PhoneNumber, ProviderAccount
from telephony.providers.bandwidth import forget_tokens
from tenants.models import Organization
from tenants.scoping import tenant_scope

ME = "+14155550188"


@pytest.fixture
def carriers_on(simulator_on, settings, monkeypatch):
    base = f"{simulator_on.url}/simulator"
    settings.VONAGE_REST_BASE_URL = f"{base}/vonage"
    settings.BANDWIDTH_TOKEN_URL = f"{base}/bandwidth/oauth2/token"
    settings.BANDWIDTH_ACCOUNT_BASE_URL = f"{base}/bandwidth/api/v1"
    settings.BANDWIDTH_MESSAGING_BASE_URL = f"{base}/bandwidth/api/v2"
    receipts = []
    monkeypatch.setattr(tasks, "vonage_sent", lambda **kwargs: receipts.append(("vonage", kwargs["message_id"])))
    monkeypatch.setattr(tasks, "bandwidth_sent", lambda **kwargs: receipts.append(("bandwidth", kwargs["message_id"])))
    forget_tokens()
    yield receipts
    forget_tokens()


def test_other_carriers_as_the_readme_says(carriers_on, django_capture_on_commit_callbacks):
    call_command("seed_demo")
    demo = Organization.objects.get(slug="demo")
    owner = Client()
    owner.force_login(get_user_model().objects.get(username="owner"))
    # "connect a Vonage account with API key demo1234, ... and a Bandwidth account with account id 5550001, ..."
    with django_capture_on_commit_callbacks(execute=True):
        vonage = owner.post("/o/demo/numbers/accounts/connect/vonage/", {
            "api_key": "demo1234", "api_secret": "demo-vonage-secret",
            "signature_secret": "demo-vonage-signature-secret", "signature_method": "md5hash"}, follow=True)
        bandwidth = owner.post("/o/demo/numbers/accounts/connect/bandwidth/", {
            "account_id": "5550001", "api_client_id": "demo-bandwidth-client",
            "api_client_secret": "demo-bandwidth-secret",
            "application_id": "d3e0a991-0000-4000-8000-00000000b0d1"}, follow=True)
    assert b"is connected" in vonage.content and b"is connected" in bandwidth.content
    # "Each is checked with its carrier first, and shows Messaging only."
    page = owner.get("/o/demo/numbers/accounts/").content.decode()
    assert page.count("Messaging only") == 2 and "Webhooks set" in page
    with tenant_scope(demo):
        accounts = {a.provider: a for a in ProviderAccount.objects.filter(provider__in=("vonage", "bandwidth"))}
    # "Numbers → Import numbers lists their four numbers each"
    for provider, numbers in (("vonage", state.VONAGE_NUMBERS), ("bandwidth", state.BANDWIDTH_NUMBERS)):
        listed = owner.get(f"/o/demo/numbers/import/?account={accounts[provider].pk}").content.decode()
        assert re.findall(r'name="numbers" value="(\+\d+)"', listed) == list(numbers)
        with django_capture_on_commit_callbacks(execute=True):
            owner.post("/o/demo/numbers/import/start/", {"account": str(accounts[provider].pk), "all": "1"})
    with tenant_scope(demo):
        imported = set(PhoneNumber.objects.filter(provider__in=("vonage", "bandwidth"))
                       .values_list("phone_number", flat=True))
    assert imported == {*state.VONAGE_NUMBERS, *state.BANDWIDTH_NUMBERS}
    # "imported, they are on the customer's phone page"
    phone = owner.get(f"/simulator/phone/?me={ME}").content.decode()
    offered = re.findall(r'<option value="(\+\d+)"', phone)
    assert {*state.VONAGE_NUMBERS, *state.BANDWIDTH_NUMBERS} <= set(offered)

    agent = Client()
    agent.force_login(get_user_model().objects.get(username="owner"))
    for vendor, ours in (("vonage", state.VONAGE_NUMBERS[0]), ("bandwidth", state.BANDWIDTH_NUMBERS[0])):
        # "a text reaches the inbox through that carrier's own webhook"
        sent = owner.post("/simulator/phone/", {"me": ME, "to": ours, "body": f"Hello via {vendor}"})
        assert sent.status_code == 302, sent.content.decode()[-500:]
        with tenant_scope(demo):
            conversation = Conversation.objects.get(contact__phone_number=ME, phone_number__phone_number=ours)
            assert conversation.last_message_preview == f"Hello via {vendor}"
        # "and the reply comes back with the carrier's delivery receipt"
        with django_capture_on_commit_callbacks(execute=True):
            agent.post(f"/o/demo/inbox/c/{conversation.pk}/send/", {"body": f"Hi from {vendor}"},
                       HTTP_HX_REQUEST="true")
        [(receipt_vendor, message_id)] = carriers_on[-1:]
        assert receipt_vendor == vendor
        carrier.receipt_advance(vendor=vendor, message_id=message_id)
        with tenant_scope(demo):
            reply = Message.objects.get(provider_sid=message_id)
        assert (reply.body, reply.status) == (f"Hi from {vendor}", "delivered")
    thread = owner.get(f"/simulator/phone/thread/?me=%2B{ME[1:]}").content.decode()
    assert thread.index("Hello via vonage") < thread.index("Hi from vonage") < thread.index("Hello via bandwidth")
    with simulated("bandwidth") as fake:
        app = fake.application("5550001", "d3e0a991-0000-4000-8000-00000000b0d1")
    assert app["InboundCallbackUrl"].endswith("/webhooks/bandwidth/messages/")
