"""The adapter registries: domain code asks them by the vendor's name and never names an adapter,
so another numbers vendor or voice-AI platform fits by adding an adapter only."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import resolve

from core.vendors import ProviderError
from telephony import platforms, providers
from telephony.lines import forget_lines, line_for
from telephony.models import NumberStatus, PhoneNumber, ProviderAccount
from telephony.platforms.base import Assistant, PlatformNumber
from telephony.platforms.vapi import VapiPlatform
from telephony.providers.bandwidth import BandwidthProvider
from telephony.providers.base import AccountInfo, Capabilities, IncomingNumber, NumberPage, TelephonyProvider
from telephony.providers.twilio import TwilioProvider
from telephony.providers.vonage import VonageProvider
from telephony.services import accounts, adding, assignment
from telephony.services.webhook_contract import account_webhooks_ours, message_status_url, webhook_urls
from telephony.tasks import provider_account_sync
from tenants.scoping import tenant_scope
from tests.vendor_fixtures import ACME_SID, ACME_TOKEN, VONAGE_KEY, VONAGE_SECRET, VONAGE_SIGNATURE_SECRET

NUMBER, OTHER = "+14155550142", "+14155550143"


class MemoryTelecom(TelephonyProvider):
    """A numbers vendor that exists only in this test: its numbers and what it was asked, in memory."""

    name, label = "memory", "Memory Telecom"
    credential_fields = {"account_sid": "account_sid", "auth_token": "auth_token"}
    number_webhooks = frozenset({"sms_url", "status_callback", "voice_url"})
    numbers: dict[str, IncomingNumber] = {}
    configured: list[tuple[str, object, bool]] = []

    def __init__(self, account_sid: str, auth_token: str):
        self.account_sid, self.auth_token = account_sid, auth_token

    @classmethod
    def for_account(cls, account):
        return cls(account.account_sid, account.auth_token)

    @classmethod
    def for_credentials(cls, *, account_sid: str, auth_token: str, **_):
        return cls(account_sid, auth_token)

    @classmethod
    def credential_errors(cls, *, account_sid: str = "", **_):
        return {} if account_sid.startswith("MEM") else {"account_sid": "A Memory account id starts with MEM."}

    def verify(self) -> AccountInfo:
        if self.auth_token != "right":
            raise ProviderError("Memory Telecom rejected the credentials.", permanent=True)
        return AccountInfo(sid=self.account_sid, friendly_name="Memory account", status="active", type="Full")

    def incoming_numbers_page(self, cursor=None, page_size=100) -> NumberPage:
        return NumberPage(numbers=list(self.numbers.values()), next_cursor=None)

    def find_incoming_number(self, phone_number: str):
        return self.numbers.get(phone_number)

    def configure_webhooks(self, sid, webhooks, *, voice=True):
        self.configured.append((sid, webhooks, voice))
        return next(n for n in self.numbers.values() if n.sid == sid)


@pytest.fixture
def memory_telecom(monkeypatch):
    monkeypatch.setitem(providers.ADAPTERS, MemoryTelecom.name, MemoryTelecom)
    monkeypatch.setattr(MemoryTelecom, "numbers", {
        phone: IncomingNumber(sid=f"MN{phone[-4:]}", phone_number=phone, friendly_name="",
                              capabilities=Capabilities(voice=True, sms=True), sms_url="https://before.example/sms")
        for phone in (NUMBER, OTHER)})
    monkeypatch.setattr(MemoryTelecom, "configured", [])
    return MemoryTelecom


@pytest.mark.django_db
def test_a_new_numbers_vendor_fits_by_adding_its_adapter(org, owner, memory_telecom, run_on_commit):
    with tenant_scope(org):
        number = run_on_commit(adding.phone_number_add, organization=org, actor=owner, provider="memory",
                               phone_number=NUMBER, account_sid="MEM1", auth_token="right")
        number = PhoneNumber.objects.get(pk=number.pk)
        account = ProviderAccount.objects.get()
    assert (account.provider, account.friendly_name, account.account_sid) == ("memory", "Memory account", "MEM1")
    assert (number.provider, number.provider_sid, number.webhook_configured) == ("memory", "MN0142", True)
    assert number.previous_sms_url == "https://before.example/sms"
    # A worker pointed the number at us through the adapter (voice too: the number is not on a platform).
    assert memory_telecom.configured == [("MN0142", webhook_urls("memory"), True)]
    assert webhook_urls("memory").sms_url.endswith("/webhooks/memory/messages/")


@pytest.mark.django_db
def test_the_adapter_judges_its_own_credentials(org, owner, memory_telecom):
    with tenant_scope(org):
        with pytest.raises(ValidationError) as malformed:
            adding.phone_number_add(organization=org, actor=owner, provider="memory", phone_number=NUMBER,
                                    account_sid="AC123", auth_token="right")
        with pytest.raises(ValidationError) as refused:
            adding.phone_number_add(organization=org, actor=owner, provider="memory", phone_number=NUMBER,
                                    account_sid="MEM1", auth_token="wrong")
        assert not ProviderAccount.objects.exists()
    assert malformed.value.message_dict == {"account_sid": ["A Memory account id starts with MEM."]}
    assert refused.value.message_dict == {"credentials": ["Memory Telecom rejected the credentials."]}


@pytest.mark.django_db
def test_the_sync_task_reconciles_any_numbers_vendor_through_the_registry(org, owner, memory_telecom,
                                                                          run_on_commit):
    with tenant_scope(org):
        for phone in (NUMBER, OTHER):
            run_on_commit(adding.phone_number_add, organization=org, actor=owner, provider="memory",
                          phone_number=phone, account_sid="MEM1", auth_token="right")
        account = ProviderAccount.objects.get()
    del memory_telecom.numbers[OTHER]  # released at the vendor
    provider_account_sync.apply(kwargs={"organization_id": str(org.pk), "provider_account_id": str(account.pk)},
                                throw=True)
    with tenant_scope(org):
        after = dict(PhoneNumber.objects.values_list("phone_number", "status_reason"))
        statuses = dict(PhoneNumber.objects.values_list("phone_number", "status"))
    assert statuses == {NUMBER: NumberStatus.ACTIVE, OTHER: NumberStatus.INACTIVE}
    assert after[OTHER] == "Released in Memory Telecom (no longer in the account)."


def test_the_registries_know_each_vendor_by_name():
    assert providers.adapter_class("twilio") is TwilioProvider and providers.supports("twilio")
    assert providers.adapter_class("vonage") is VonageProvider and providers.adapter_class("bandwidth") is BandwidthProvider
    # Numbers whose voice the softphone does not carry: not voice carriers.
    assert set(providers.VOICE_ADAPTERS) == {"twilio"}
    assert platforms.adapter_class("vapi") is VapiPlatform and platforms.supports("vapi")
    assert not providers.supports("vapi") and not platforms.supports("twilio")
    for registry in (providers, platforms):
        with pytest.raises(ProviderError) as unknown:
            registry.for_credentials("sinch", account_sid="x", auth_token="y", api_key="z")
        assert unknown.value.permanent and "sinch" in unknown.value.message


@pytest.mark.django_db
def test_the_vapi_adapter_lists_assistants_and_the_numbers_attached(org, owner, twilio, twilio_account, vapi,
                                                                    vapi_account, assistant, ai_agent,
                                                                    run_on_commit):
    platform = platforms.for_account(vapi_account)
    assert platform.list_assistants() == [Assistant(id=assistant["id"], name="Night shift")]
    assert platform.list_numbers() == []

    twilio.add_incoming_number(ACME_SID, NUMBER)
    with tenant_scope(org):
        number = run_on_commit(adding.phone_number_add, organization=org, actor=owner, provider="twilio",
                               phone_number=NUMBER, account_sid=ACME_SID, auth_token=ACME_TOKEN)
        run_on_commit(assignment.phone_number_assign, organization=org, actor=owner, number=number, agent=ai_agent)
        number.refresh_from_db()
    [attached] = platform.list_numbers()
    assert isinstance(attached, PlatformNumber)
    assert (attached.id, attached.number, attached.assistant_id) == (number.platform_id, NUMBER, assistant["id"])
    assert attached.sms_enabled is False  # texts keep reaching our inbox
    assert number.platform == "vapi"

    assert platform.detach_number(attached.id) is True
    assert platform.detach_number(attached.id) is False  # already gone: the state we want
    assert platform.list_numbers() == []


@pytest.mark.django_db
def test_the_vapi_adapter_refuses_a_carrier_it_cannot_answer_for_before_calling_vapi(vapi, assistant):
    platform = platforms.for_credentials("vapi", api_key="any")
    with pytest.raises(ProviderError) as refused:
        platform.attach_number(phone_number=NUMBER, carrier="memory", account_sid="MEM1", auth_token="right",
                               assistant_id=assistant["id"])
    assert refused.value.permanent and refused.value.message == "VAPI cannot answer numbers held at memory."
    assert vapi.requests == []


@pytest.mark.parametrize("provider", sorted(providers.ADAPTERS))
def test_every_carrier_is_pointed_only_at_routes_we_serve(provider, settings):
    """What a carrier's numbers (or its messaging application) are given, and where each sent message's
    status goes, all resolve to our own views: no carrier is ever pointed at a route we do not serve."""
    urls = webhook_urls(provider)
    given = [u for u in (urls.sms_url, urls.status_callback, urls.voice_url) if u]
    given.append(message_status_url(provider))
    if providers.adapter_class(provider).account_webhooks_kind:
        ours = account_webhooks_ours(ProviderAccount(provider=provider, account_sid="1"))
        given += [ours.inbound_url, ours.status_url]
    for url in given:
        assert url.startswith(settings.PUBLIC_BASE_URL + "/")
        match = resolve(url[len(settings.PUBLIC_BASE_URL):])
        assert match.url_name and not match.url_name.startswith("simulator")


@pytest.mark.django_db
@pytest.mark.parametrize("provider", ["twilio", "vonage"])
def test_a_webhooks_line_is_read_once_then_served_from_the_cache(org, owner, provider, twilio, vonage,
                                                                 django_assert_num_queries):
    """The busiest lookup there is (every inbound message): the second request for a number costs no
    database query, whatever the carrier (a regression once cached every line under the wrong key)."""
    forget_lines()
    with tenant_scope(org):
        if provider == "twilio":
            account = accounts.provider_account_connect(organization=org, actor=owner, provider="twilio",
                                                        account_sid=ACME_SID, auth_token=ACME_TOKEN)
        else:
            account = accounts.provider_account_connect(
                organization=org, actor=owner, provider="vonage", api_key=VONAGE_KEY, api_secret=VONAGE_SECRET,
                signature_secret=VONAGE_SIGNATURE_SECRET)
        PhoneNumber.objects.create(organization=org, provider_account=account, provider=provider,
                                   phone_number=NUMBER, provider_sid="x")
    first = line_for(provider, account.account_sid, (NUMBER,))
    with django_assert_num_queries(0):
        again = line_for(provider, account.account_sid, (NUMBER,))
    assert again == first and again.auth_token == (ACME_TOKEN if provider == "twilio" else VONAGE_SIGNATURE_SECRET)
