"""Twilio and VAPI as HTTP fakes that follow the vendors' published contracts; the real twilio SDK
and our VAPI client talk to them through TWILIO_API_BASE_URL and VAPI_API_BASE_URL."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.test import Client

from softphone.simulator.bandwidth import ACCOUNT_API, MESSAGING_API, TOKEN_PATH, FakeBandwidth
from softphone.simulator.twilio import FakeTwilio
from softphone.simulator.vapi import FakeVapi
from softphone.simulator.vonage import FakeVonage
from softphone.simulator.whatsapp import FakeWhatsApp
from telephony.models import PhoneNumber, Provider, VoiceStatus
from telephony.providers.bandwidth import forget_tokens
from telephony.services import accounts
from tenants.scoping import tenant_scope

ACME_SID = "AC" + "a" * 32
ACME_TOKEN = "acme-auth-token-4f1c9e"
GLOBEX_SID = "AC" + "b" * 32
GLOBEX_TOKEN = "globex-auth-token-77d2"
VAPI_KEY = "vapi-private-key-93b1"
VONAGE_KEY = "acme1234"
VONAGE_SECRET = "acme-vonage-api-secret-9c"
VONAGE_SIGNATURE_SECRET = "acme-vonage-signature-secret-1f3e"
GLOBEX_VONAGE_KEY = "glob5678"
GLOBEX_VONAGE_SECRET = "globex-vonage-api-secret"
GLOBEX_VONAGE_SIGNATURE_SECRET = "globex-vonage-signature-secret"
BANDWIDTH_ACCOUNT = "9900001"
BANDWIDTH_CLIENT = "acme-bandwidth-client"
BANDWIDTH_SECRET = "acme-bandwidth-client-secret-77"
BANDWIDTH_APP = "6f2a9c1e-3b7d-4e0a-9f51-2d8c4b6a1e93"
GLOBEX_BANDWIDTH_ACCOUNT = "9900002"
GLOBEX_BANDWIDTH_CLIENT = "globex-bandwidth-client"
GLOBEX_BANDWIDTH_SECRET = "globex-bandwidth-client-secret"
GLOBEX_BANDWIDTH_APP = "0b7e4d2a-8c1f-4a6e-b3d9-5f2e7a1c9d40"
WHATSAPP_TOKEN = "whatsapp-access-token-5e0a"
# What voice set-up would have created on Acme's Twilio account (the softphone's TwiML App and key).
VOICE_KEY_SID = "SK" + "a1" * 16
VOICE_KEY_SECRET = "the-api-key-secret-shown-once"
VOICE_APP_SID = "AP" + "b2" * 16


@pytest.fixture
def twilio(settings):
    fake = FakeTwilio()
    settings.TWILIO_API_BASE_URL = settings.TWILIO_CONTENT_BASE_URL = fake.start()
    settings.TWILIO_RETRIES_ON_429 = 3
    fake.add_account(ACME_SID, ACME_TOKEN, friendly_name="Acme Twilio")
    fake.add_account(GLOBEX_SID, GLOBEX_TOKEN, friendly_name="Globex Twilio")
    yield fake
    fake.stop()


class DjangoTransport:
    """How a fake carrier reaches our webhooks in tests: through Django's test client, with what a
    request queues after its commit run inline (as a worker would). A URL outside PUBLIC_BASE_URL is
    unreachable, as a route we do not serve would be."""

    def __init__(self, capture):
        self.capture = capture

    def __call__(self, method: str, url: str, body: bytes, headers: dict) -> int:
        if not url.startswith(settings.PUBLIC_BASE_URL + "/"):
            return 0
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        client = Client()
        if method == "GET":
            return client.get(path).status_code
        extra = {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()
                 if name.lower() != "content-type"}
        with self.capture(execute=True):
            return client.generic(method, path, body, content_type=headers.get("Content-Type", ""),
                                  **extra).status_code


@pytest.fixture
def vonage(settings, django_capture_on_commit_callbacks):
    """Vonage's REST API with Acme's and Globex's accounts; its webhooks reach us through the test client."""
    fake = FakeVonage()
    settings.VONAGE_REST_BASE_URL = fake.start()
    fake.transport = DjangoTransport(django_capture_on_commit_callbacks)
    fake.add_account(VONAGE_KEY, VONAGE_SECRET, VONAGE_SIGNATURE_SECRET)
    fake.add_account(GLOBEX_VONAGE_KEY, GLOBEX_VONAGE_SECRET, GLOBEX_VONAGE_SIGNATURE_SECRET,
                     signature_method="sha256")
    yield fake
    fake.stop()


@pytest.fixture
def vonage_account(org, owner, vonage):
    with tenant_scope(org):
        return accounts.provider_account_connect(organization=org, actor=owner, provider=Provider.VONAGE,
                                                 api_key=VONAGE_KEY, api_secret=VONAGE_SECRET,
                                                 signature_secret=VONAGE_SIGNATURE_SECRET)


@pytest.fixture
def bandwidth(settings, django_capture_on_commit_callbacks):
    """Bandwidth's token endpoint, account API and Messaging API, with Acme's and Globex's accounts;
    its callbacks reach us through the test client."""
    fake = FakeBandwidth()
    base = fake.start()
    settings.BANDWIDTH_TOKEN_URL = base + TOKEN_PATH
    settings.BANDWIDTH_ACCOUNT_BASE_URL = base + ACCOUNT_API
    settings.BANDWIDTH_MESSAGING_BASE_URL = base + MESSAGING_API
    fake.transport = DjangoTransport(django_capture_on_commit_callbacks)
    fake.add_account(BANDWIDTH_ACCOUNT, BANDWIDTH_CLIENT, BANDWIDTH_SECRET, application_id=BANDWIDTH_APP)
    fake.add_account(GLOBEX_BANDWIDTH_ACCOUNT, GLOBEX_BANDWIDTH_CLIENT, GLOBEX_BANDWIDTH_SECRET,
                     application_id=GLOBEX_BANDWIDTH_APP)
    forget_tokens()
    yield fake
    fake.stop()
    forget_tokens()


@pytest.fixture
def bandwidth_account(org, owner, bandwidth, django_capture_on_commit_callbacks):
    """Acme's Bandwidth account, connected (its messaging application pointed at us by the worker)."""
    with tenant_scope(org), django_capture_on_commit_callbacks(execute=True):
        account = accounts.provider_account_connect(
            organization=org, actor=owner, provider=Provider.BANDWIDTH, account_id=BANDWIDTH_ACCOUNT,
            api_client_id=BANDWIDTH_CLIENT, api_client_secret=BANDWIDTH_SECRET, application_id=BANDWIDTH_APP)
    with tenant_scope(org):
        account.refresh_from_db()
    return account


@pytest.fixture
def whatsapp(settings):
    """Meta's Graph API (WhatsApp Cloud API), empty: tests add the numbers they need."""
    fake = FakeWhatsApp(access_token=WHATSAPP_TOKEN)
    settings.WHATSAPP_GRAPH_BASE_URL = fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def vapi(settings, twilio):
    fake = FakeVapi(twilio=twilio, api_key=VAPI_KEY)
    settings.VAPI_API_BASE_URL = fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def twilio_account(org, owner, twilio):
    with tenant_scope(org):
        return accounts.provider_account_connect(organization=org, actor=owner, provider=Provider.TWILIO,
                                                 account_sid=ACME_SID, auth_token=ACME_TOKEN)


@pytest.fixture
def globex_number(other_org, outsider, twilio):
    """Another tenant's Twilio account and number (Globex)."""
    with tenant_scope(other_org):
        account = accounts.provider_account_connect(organization=other_org, actor=outsider, provider=Provider.TWILIO,
                                                    account_sid=GLOBEX_SID, auth_token=GLOBEX_TOKEN)
        return PhoneNumber.objects.create(organization=other_org, provider_account=account, phone_number="+14155550300",
                                          provider_sid="PN" + "7" * 32, capabilities={"voice": True, "sms": True})


@pytest.fixture
def vapi_account(org, owner, vapi):
    with tenant_scope(org):
        return accounts.provider_account_connect(organization=org, actor=owner, provider=Provider.VAPI,
                                                 api_key=VAPI_KEY, friendly_name="Acme VAPI")


@pytest.fixture
def assistant(vapi):
    return vapi.add_assistant(name="Night shift")


@pytest.fixture
def ai_agent(org, assistant):
    from tests import factories

    return factories.make_agent(org, name="Night bot", kind="ai", assistant_id=assistant["id"])


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """Run what services enqueue after commit (tasks run inline in unit tests)."""

    def run(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return run


@pytest.fixture
def voice_ready(org, twilio_account):
    """Acme's Twilio account with the softphone set up (as `voice_enable` leaves it)."""
    with tenant_scope(org):
        twilio_account.api_key_sid, twilio_account.api_key_secret = VOICE_KEY_SID, VOICE_KEY_SECRET
        twilio_account.twiml_app_sid, twilio_account.voice_status = VOICE_APP_SID, VoiceStatus.READY
        twilio_account.save()
    return twilio_account
