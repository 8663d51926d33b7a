"""The messaging vendor boundary: the registry, what the webhooks leave to the adapters, and a vendor
that fits by adding an adapter only."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.test import Client, RequestFactory
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from twilio.request_validator import RequestValidator

from crm import services as crm_services
from messaging import providers, webhooks
from messaging.models import Conversation, InboundEvent, Message
from messaging.providers.base import (
    NUMBERS,
    BadWebhook,
    LineKey,
    MessagingProvider,
    SendResult,
    StatusUpdate,
    WebhookRequest,
)
from messaging.providers.twilio import TwilioMessaging
from messaging.providers.whatsapp_cloud import WhatsAppCloud
from messaging.services import conversations, outbound
from telephony.models import PhoneNumber, ProviderAccount
from telephony.providers.twilio import signature
from tenants.scoping import tenant_scope
from tests.messaging.conftest import CUSTOMER, OUR_NUMBER
from tests.vendor_fixtures import ACME_SID

# A vendor that is not in the code base: its adapter is all there is of it.
ACMESMS_KEY = "acmesms-key-1"
ACMESMS_SECRET = "acmesms-signing-secret"
ACMESMS_NUMBER = "+14155550160"


class AcmeSms(MessagingProvider):
    """Posts forms (`api-key`, `to`, `msisdn`, `message-id`, `text`), signed with an HMAC-SHA256 of
    the body in `X-Acme-Signature`; reports delivery as `status` with an `err-code`."""

    name = "acmesms"
    lines = NUMBERS
    readable_errors = {"7": "AcmeSMS could not reach the handset."}
    inbound_answer = ("OK", "text/plain")
    sent: list[dict] = []

    @classmethod
    def for_conversation(cls, conversation):
        return cls()

    @classmethod
    def webhook_verified(cls, request: WebhookRequest, secret: str, *, method: str = "") -> bool:
        expected = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
        return bool(secret) and hmac.compare_digest(request.headers.get("X-Acme-Signature", ""), expected)

    @classmethod
    def inbound_line(cls, form):
        return LineKey(form.get("api-key", ""), (form.get("to", ""),))

    @classmethod
    def inbound_event_id(cls, form):
        if not form.get("message-id"):
            raise BadWebhook("message-id is missing.")
        return form["message-id"]

    @classmethod
    def status_line(cls, form):
        return LineKey(form.get("api-key", ""), (form.get("from", ""),))

    @classmethod
    def status_update(cls, form):
        code = form.get("err-code", "")
        return StatusUpdate(provider_sid=form.get("message-id", ""),
                            status={"ok": "delivered", "ko": "failed"}.get(form.get("status", ""), ""),
                            error_code=code, error_message=cls.readable_error(code) if code else "")

    def send(self, *, sender, to, channel, body, media, status_callback):
        self.sent.append({"from": sender, "to": to, "channel": channel, "text": body})
        return SendResult(sid=f"acme-{len(self.sent)}", status="queued")


@pytest.fixture
def acmesms(org, monkeypatch):
    monkeypatch.setitem(providers.ADAPTERS, AcmeSms.name, AcmeSms)
    monkeypatch.setattr(AcmeSms, "sent", [])
    with tenant_scope(org):
        account = ProviderAccount.objects.create(organization=org, provider="acmesms", friendly_name="AcmeSMS",
                                                 account_sid=ACMESMS_KEY, auth_token=ACMESMS_SECRET)
        return PhoneNumber.objects.create(organization=org, provider_account=account, provider="acmesms",
                                          phone_number=ACMESMS_NUMBER, capabilities={"sms": True})


def acme_post(view, params: dict, secret: str = ACMESMS_SECRET):
    """AcmeSMS calling its webhook. Its routes are made from the registry when the URLs load (as
    Twilio's are); this adapter joins the registry later, so the view is called as its route would."""
    body = urlencode(params)
    signed = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    path = "/webhooks/acmesms/messages/" + ("status/" if view is webhooks.number_message_status else "")
    request = RequestFactory().post(path, body, content_type="application/x-www-form-urlencoded",
                                    HTTP_X_ACME_SIGNATURE=signed)
    return view(request, provider="acmesms")


@pytest.mark.django_db
def test_a_new_vendor_fits_by_adding_its_adapter(org, acmesms):
    inbound = {"api-key": ACMESMS_KEY, "to": ACMESMS_NUMBER, "msisdn": CUSTOMER, "message-id": "acme-in-1",
               "text": "hello"}
    assert acme_post(webhooks.number_message, inbound, secret="guessed").status_code == 403
    missing = acme_post(webhooks.number_message, {**inbound, "message-id": ""})
    assert (missing.status_code, missing.content) == (400, b"message-id is missing.")
    stored = acme_post(webhooks.number_message, inbound)
    assert (stored.status_code, stored.content, stored["Content-Type"]) == (200, b"OK", "text/plain")
    with tenant_scope(org):
        event = InboundEvent.objects.get()
    assert (event.provider, event.provider_sid, event.phone_number_id, event.payload["text"]) == (
        "acmesms", "acme-in-1", acmesms.pk, "hello")

    # Sending goes through the conversation's number's vendor; its statuses come back in its words.
    with tenant_scope(org):
        contact = crm_services.contact_for(organization=org, phone=CUSTOMER)
        conversation = conversations.conversation_for(organization=org, contact=contact, channel="sms",
                                                      phone_number=acmesms)
        first = outbound.message_send(organization=org, actor=None, conversation=conversation, body="one")
        assert outbound.message_deliver(organization=org, message_id=first.pk) == "sent"
    assert AcmeSms.sent == [{"from": ACMESMS_NUMBER, "to": CUSTOMER, "channel": "sms", "text": "one"}]
    report = {"api-key": ACMESMS_KEY, "from": ACMESMS_NUMBER, "message-id": "acme-1", "status": "ko", "err-code": "7"}
    assert acme_post(webhooks.number_message_status, report).status_code == 200
    with tenant_scope(org):
        failed = Message.objects.get(pk=first.pk)
    assert (failed.status, failed.error_code, failed.error_message) == ("failed", "7",
                                                                        "AcmeSMS could not reach the handset.")


def test_vendors_whose_lines_are_numbers_have_their_webhook_routes():
    assert reverse("webhooks:twilio-messages") == "/webhooks/twilio/messages/"
    assert reverse("webhooks:twilio-message-status") == "/webhooks/twilio/messages/status/"
    with pytest.raises(NoReverseMatch):
        reverse("webhooks:whatsapp_cloud-messages")  # WhatsApp senders have their own webhook


@pytest.mark.django_db
def test_a_vendors_webhook_finds_only_its_own_accounts_numbers(org, acmesms):
    response = Client().post("/webhooks/twilio/messages/", {"AccountSid": ACMESMS_KEY, "To": ACMESMS_NUMBER,
                                                            "MessageSid": "SM" + "1" * 32})
    assert (response.status_code, response.content) == (404, b"Not found.")
    with tenant_scope(org):
        assert not InboundEvent.objects.exists()


@pytest.mark.django_db
def test_a_line_whose_vendor_has_no_adapter_fails_the_message_with_the_reason(org, our_number, monkeypatch):
    with tenant_scope(org):
        contact = crm_services.contact_for(organization=org, phone=CUSTOMER)
        conversation = conversations.conversation_for(organization=org, contact=contact, channel="sms",
                                                      phone_number=our_number)
        queued = outbound.message_send(organization=org, actor=None, conversation=conversation, body="hi")
    monkeypatch.delitem(providers.ADAPTERS, "twilio")
    with tenant_scope(org):
        assert outbound.message_deliver(organization=org, message_id=queued.pk) == "failed"
        failed = Message.objects.get(pk=queued.pk)
    assert failed.error_message == "Messages cannot be sent or fetched through twilio."


@pytest.mark.django_db
def test_twilio_whatsapp_addresses_carry_twilios_prefix(org, our_number, twilio):
    with tenant_scope(org):
        contact = crm_services.contact_for(organization=org, phone=CUSTOMER)
        conversation = conversations.conversation_for(organization=org, contact=contact, channel="whatsapp",
                                                      phone_number=our_number)
        Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=timezone.now() - timedelta(hours=1))
        conversation.refresh_from_db()
        queued = outbound.message_send(organization=org, actor=None, conversation=conversation, body="hola")
        assert outbound.message_deliver(organization=org, message_id=queued.pk) == "sent"
    assert [(m["from"], m["to"], m["body"]) for m in twilio.messages(ACME_SID)] == [
        (f"whatsapp:{OUR_NUMBER}", f"whatsapp:{CUSTOMER}", "hola")]


@pytest.mark.parametrize("form", [
    {},
    {"Body": "¿Dónde está mi pedido? 📦", "From": "+14155550199", "To": "+14155550142", "NumMedia": "0"},
    {"b": "", "B": "x", "a1": "1", "a10": "10", "a2": "&=?"},
])
def test_the_fast_twilio_signature_is_the_sdks(form):
    url = "https://softphone.example.com/webhooks/twilio/messages/?x=1"
    assert signature("token-ñ", url, form) == RequestValidator("token-ñ").compute_signature(url, form)


def test_each_adapter_has_the_words_for_its_own_codes_only():
    assert TwilioMessaging.readable_error("30003") == "The recipient's phone is unreachable (off or out of coverage)."
    assert WhatsAppCloud.readable_error(131026) == "WhatsApp could not deliver the message to this recipient."
    # Another vendor's code is not ours to explain: the vendor's own words, or the code.
    assert TwilioMessaging.readable_error("131026", "Twilio: undeliverable") == "Twilio: undeliverable"
    assert WhatsAppCloud.readable_error("30003") == "The provider refused the message (code 30003)."
