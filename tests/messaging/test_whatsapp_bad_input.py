"""Hostile bodies and headers on the WhatsApp webhook: a 400 or 403 with a reason, never a 500, and
nothing stored (issue 13, item 7)."""

import pytest
from django.test import Client

from crm.models import Contact
from messaging.models import Conversation, InboundEvent
from softphone.simulator import whatsapp_webhooks as meta
from tenants.scoping import tenant_scope
from tests.messaging.test_whatsapp_cloud import APP_SECRET, inbound_text, messages_of, sender  # noqa: F401


def nothing_stored(org) -> bool:
    with tenant_scope(org):
        return (messages_of(org) == [] and not Conversation.objects.exists() and not Contact.objects.exists()
                and not InboundEvent.objects.exists())


def post(raw: bytes, signature: str | None):
    headers = {"HTTP_X_HUB_SIGNATURE_256": signature} if signature is not None else {}
    return Client().post("/webhooks/whatsapp/", raw, content_type="application/json", **headers)


@pytest.mark.django_db
def test_deeply_nested_json_is_a_400_with_a_reason(org, sender):  # noqa: F811
    raw = b"[" * 200_000 + b"]" * 200_000
    response = post(raw, meta.sign(raw, APP_SECRET))
    assert response.status_code == 400
    assert response.json() == {"detail": "The JSON body is nested too deeply to be a WhatsApp webhook payload."}
    assert nothing_stored(org)


@pytest.mark.django_db
def test_deep_nesting_inside_a_real_envelope_is_a_400(org, sender):  # noqa: F811
    envelope = meta.encode(inbound_text())
    raw = envelope[:-1] + b', "extra": ' + b"{\"a\":" * 100_000 + b"1" + b"}" * 100_000 + b"}"
    response = post(raw, meta.sign(raw, APP_SECRET))
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]
    assert nothing_stored(org)


@pytest.mark.django_db
@pytest.mark.parametrize("signature", ["sha256=é", "sha256=" + "ü" * 64, "☃"])
def test_a_non_ascii_signature_is_a_403(org, sender, signature):  # noqa: F811
    response = post(meta.encode(inbound_text()), signature)
    assert response.status_code == 403
    assert response.json() == {"detail": "Invalid signature."}
    assert nothing_stored(org)


@pytest.mark.django_db
def test_the_right_signature_still_works_after_the_byte_comparison(org, sender):  # noqa: F811
    raw = meta.encode(inbound_text(body="hola"))
    assert post(raw, meta.sign(raw, APP_SECRET)).status_code == 200
    assert messages_of(org) == [("inbound", "hola", "received")]
