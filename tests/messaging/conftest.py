from __future__ import annotations

import time

import pytest
from django.conf import settings
from django.test import Client

from softphone.simulator import twilio_webhooks
from telephony.models import PhoneNumber, Provider
from tenants.scoping import tenant_scope
from tests.vendor_fixtures import ACME_SID, GLOBEX_SID

OUR_NUMBER = "+14155550142"
CUSTOMER = "+14155550199"


def wait_for(predicate, timeout: float = 20.0, what: str = "the condition"):
    """Poll `predicate` until it returns something true (which is returned), or fail the test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def our_number(org, twilio, twilio_account):
    remote = twilio.add_incoming_number(ACME_SID, OUR_NUMBER)
    with tenant_scope(org):
        return PhoneNumber.objects.create(
            organization=org, provider_account=twilio_account, provider=Provider.TWILIO, phone_number=OUR_NUMBER,
            provider_sid=remote["sid"], capabilities={"voice": True, "sms": True, "mms": True, "fax": False})


class TwilioPoster:
    """Posts webhooks the way Twilio does: form-encoded, signed with an account's auth token
    against the public URL. What the webhook queues after commit runs too (inline), as a worker
    would run it."""

    def __init__(self, capture=None):
        self.client = Client()
        self.capture = capture

    def post(self, path: str, params: dict, *, token: str | None, signature: str | None = None):
        url = settings.PUBLIC_BASE_URL + path
        headers = {}
        if signature is not None:
            headers["HTTP_X_TWILIO_SIGNATURE"] = signature
        elif token is not None:
            headers["HTTP_X_TWILIO_SIGNATURE"] = twilio_webhooks.signature(url, params, token)
        if self.capture is None:
            return self.client.post(path, params, **headers)
        with self.capture(execute=True):
            return self.client.post(path, params, **headers)

    def inbound(self, token: str, **kwargs):
        kwargs.setdefault("account_sid", ACME_SID)
        kwargs.setdefault("to", OUR_NUMBER)
        kwargs.setdefault("from_", CUSTOMER)
        params = twilio_webhooks.inbound_message(**kwargs)
        return self.post("/webhooks/twilio/messages/", params, token=token), params

    def status(self, token: str, **kwargs):
        kwargs.setdefault("account_sid", ACME_SID)
        kwargs.setdefault("from_", OUR_NUMBER)
        kwargs.setdefault("to", CUSTOMER)
        return self.post("/webhooks/twilio/messages/status/", twilio_webhooks.status_callback(**kwargs), token=token)


@pytest.fixture
def twilio_posts(django_capture_on_commit_callbacks):
    return TwilioPoster(django_capture_on_commit_callbacks)


__all__ = ["ACME_SID", "GLOBEX_SID", "OUR_NUMBER", "CUSTOMER", "wait_for"]
