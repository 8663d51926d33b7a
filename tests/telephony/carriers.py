"""What the carriers' end-to-end tests (test_vonage.py, test_bandwidth.py) ask of the product: its
API as Acme's owner, and the numbers and messages a person would see."""

from __future__ import annotations

from messaging.models import Message
from telephony.models import PhoneNumber
from tenants.scoping import tenant_scope


def api(client, method: str, path: str, body: dict | None = None):
    return getattr(client, method)(f"/api/acme/{path}", body or {}, content_type="application/json")


def numbers_of(org) -> dict[str, PhoneNumber]:
    with tenant_scope(org):
        return {n.phone_number: n for n in PhoneNumber.objects.all()}


def messages_of(org) -> list[tuple]:
    with tenant_scope(org):
        return list(Message.objects.order_by("created_at").values_list("direction", "body", "status"))
