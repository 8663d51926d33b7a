"""Twilio and VAPI as HTTP fakes that follow the vendors' published contracts; the real twilio SDK
and our VAPI client talk to them through TWILIO_API_BASE_URL and VAPI_API_BASE_URL."""

from __future__ import annotations

import pytest

from softphone.simulator.twilio import FakeTwilio
from softphone.simulator.vapi import FakeVapi
from softphone.simulator.whatsapp import FakeWhatsApp
from telephony.models import PhoneNumber, Provider, VoiceStatus
from telephony.services import accounts
from tenants.scoping import tenant_scope

ACME_SID = "AC" + "a" * 32
ACME_TOKEN = "acme-auth-token-4f1c9e"
GLOBEX_SID = "AC" + "b" * 32
GLOBEX_TOKEN = "globex-auth-token-77d2"
VAPI_KEY = "vapi-private-key-93b1"
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
