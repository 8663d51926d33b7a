"""The Vonage fake follows Vonage's published contracts (tests/contracts/vonage), and so does every
request our adapters send it: each is checked against the operation it calls. No database."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

import pytest
import requests
from jsonschema import ValidationError

from core.vendors import ProviderError
from messaging.providers.vonage import VonageMessaging, signature_of
from softphone.simulator.vonage import FakeVonage, vonage_signature
from telephony.providers.base import WebhookUrls
from telephony.providers.vonage import VonageProvider
from tests.fakes.contracts import validate_vonage, validate_vonage_request, validate_vonage_response

KEY, SECRET, SIGNING = "abcd1234", "vonage-secret-1", "signing-secret-1"
OPERATIONS = {  # path -> (contract, path in it, method)
    "/account/get-balance": ("account", "/account/get-balance", "get"),
    "/account/numbers": ("numbers", "/account/numbers", "get"),
    "/number/search": ("numbers", "/number/search", "get"),
    "/number/buy": ("numbers", "/number/buy", "post"),
    "/number/cancel": ("numbers", "/number/cancel", "post"),
    "/number/update": ("numbers", "/number/update", "post"),
    "/sms/json": ("sms", "/{format}", "post"),
}


@pytest.fixture
def vonage(settings):
    fake = FakeVonage()
    settings.VONAGE_REST_BASE_URL = fake.start()
    settings.VONAGE_RETRIES_ON_THROTTLE = 2
    fake.add_account(KEY, SECRET, SIGNING)
    fake.received = []
    fake.transport = lambda method, url, body, headers: fake.received.append((method, url, body, headers)) or 200
    yield fake
    fake.stop()


def _answer(vonage, method: str, path: str, **params):
    params = {"api_key": KEY, "api_secret": SECRET, **params}
    if method == "GET":
        response = requests.get(vonage.base_url + path, params=params, timeout=5)
    else:
        response = requests.post(vonage.base_url + path, data=params, timeout=5)
    api, spec_path, verb = OPERATIONS[path]
    if path == "/sms/json":
        # The contract answers oneOf SMS or Error, two schemas loose enough that every answer is
        # both (so oneOf fails): each answer is checked against the one it is.
        ok = all(part.get("status") == "0" for part in response.json()["messages"])
        validate_vonage("sms", "SMS" if ok else "Error", response.json())
    else:
        validate_vonage_response(api, spec_path, verb, response.json(), response.status_code)
    return response


def test_every_answer_follows_the_contract(vonage):
    vonage.add_number(KEY, "+14155550100")
    vonage.offer(KEY, "+14155550101")
    assert _answer(vonage, "GET", "/account/get-balance").json()["value"] == 25.5
    listed = _answer(vonage, "GET", "/account/numbers", size=10, index=1).json()
    assert (listed["count"], listed["numbers"][0]["msisdn"]) == (1, "14155550100")
    assert _answer(vonage, "GET", "/number/search", country="US").json()["numbers"][0]["msisdn"] == "14155550101"
    assert _answer(vonage, "POST", "/number/buy", country="US", msisdn="14155550101").json()["error-code"] == "200"
    assert _answer(vonage, "POST", "/number/buy", country="US", msisdn="14155550101").status_code == 420
    assert _answer(vonage, "POST", "/number/update", country="US", msisdn="14155550101",
                   moHttpUrl="https://example.com/in").json()["error-code"] == "200"
    assert _answer(vonage, "POST", "/number/cancel", country="US", msisdn="14155550101").json()["error-code"] == "200"
    sent = _answer(vonage, "POST", "/sms/json", **{"from": "14155550100", "to": "14155550199", "text": "hi"}).json()
    assert sent["messages"][0]["status"] == "0"
    refused = _answer(vonage, "POST", "/sms/json", **{"from": "14155550100", "text": "hi"}).json()
    assert refused["messages"][0] == {"status": "2", "error-text": "Missing to param"}


def test_wrong_credentials_are_the_contracts_401(vonage):
    response = requests.get(vonage.base_url + "/account/get-balance", params={"api_key": KEY, "api_secret": "no"},
                            timeout=5)
    assert response.status_code == 401
    validate_vonage_response("account", "/account/get-balance", "get", response.json(), 401)
    listed = requests.get(vonage.base_url + "/account/numbers", params={"api_key": KEY, "api_secret": "no"}, timeout=5)
    validate_vonage_response("numbers", "/account/numbers", "get", listed.json(), 401)


def test_the_contract_check_catches_a_wrong_answer_and_a_wrong_request():
    with pytest.raises(ValidationError):
        validate_vonage_response("numbers", "/account/numbers", "get", {"count": "many"})
    with pytest.raises(ValidationError):
        validate_vonage_request("numbers", "/number/update", "post", {"msisdn": "1415"})  # no country
    with pytest.raises(ValidationError):
        validate_vonage_request("numbers", "/account/numbers", "get", {"page": "2"})  # not a parameter


def test_every_request_of_our_adapters_follows_the_contract(vonage):
    vonage.add_number(KEY, "+14155550100")
    vonage.offer(KEY, "+14155550101")
    provider = VonageProvider.for_credentials(account_sid=KEY, auth_token=SECRET)
    provider.verify()
    list(provider.iter_incoming_numbers(page_size=100))
    assert provider.find_incoming_number("+14155550100").sms_url == ""
    provider.search_available(country="US", area_code="415", capabilities=("sms",))
    provider.search_available(country="GB", number_type="mobile", contains="7700")
    provider.buy_number("+14155550101", WebhookUrls(sms_url="https://example.com/in", status_callback="",
                                                    voice_url=""))
    provider.release_number("14155550101")
    VonageMessaging(api_key=KEY, api_secret=SECRET).send(
        sender="+14155550100", to="+14155550199", channel="sms", body="Olá", media=[],
        status_callback="https://example.com/status")
    assert {r.path for r in vonage.requests} == set(OPERATIONS)
    for request in vonage.requests:
        api, spec_path, verb = OPERATIONS[request.path]
        validate_vonage_request(api, spec_path, verb, request.params)


def test_the_webhooks_vonage_sends_follow_the_contract_and_carry_its_signature(vonage):
    vonage.add_number(KEY, "+14155550100", mo_http_url="https://example.com/in")
    vonage.inbound_sms(KEY, "+14155550100", "+14155550199", "hello & goodbye = ok")
    vonage.inbound_sms(KEY, "+14155550100", "+14155550199", "as JSON", as_json=True)
    VonageMessaging(api_key=KEY, api_secret=SECRET).send(
        sender="+14155550100", to="+14155550199", channel="sms", body="hi", media=[],
        status_callback="https://example.com/status")
    vonage.delivery_receipt(vonage.sent[-1]["message-id"], "delivered")
    form, as_json, receipt = vonage.received
    inbound = dict(parse_qsl(form[2].decode()))
    assert form[1] == "https://example.com/in" and receipt[1] == "https://example.com/status"
    assert as_json[3] == {"Content-Type": "application/json"}
    validate_vonage("sms", "InboundMessage", inbound)
    validate_vonage("sms", "InboundMessage", json.loads(as_json[2]))
    validate_vonage("sms", "DeliveryReceipt", dict(parse_qsl(receipt[2].decode())))
    # Our reading of Vonage's rule and the fake's (written apart) agree, for every method.
    for method in ("md5hash", "md5", "sha1", "sha256", "sha512"):
        unsigned = {k: v for k, v in inbound.items() if k != "sig"}
        assert signature_of(unsigned, SIGNING, method) == vonage_signature(unsigned, SIGNING, method)
    assert signature_of(inbound, SIGNING, "md5hash") == inbound["sig"]


def test_throttled_sends_are_retried_and_a_lasting_throttle_is_a_transient_error(vonage):
    vonage.add_number(KEY, "+14155550100")
    messaging = VonageMessaging(api_key=KEY, api_secret=SECRET)
    vonage.throttle_sends = 2
    result = messaging.send(sender="+14155550100", to="+14155550199", channel="sms", body="x" * 200, media=[],
                            status_callback="")
    assert result.num_segments == 2
    vonage.throttle_sends = 5
    with pytest.raises(ProviderError) as raised:
        messaging.send(sender="+14155550100", to="+14155550199", channel="sms", body="y", media=[], status_callback="")
    assert (raised.value.permanent, raised.value.code) == (False, "1")


def test_credentials_never_leave_for_another_host(vonage):
    provider = VonageProvider.for_credentials(account_sid=KEY, auth_token=SECRET)
    with pytest.raises(ProviderError):
        provider.client.get("//evil.example.com/steal")
    # A cursor is a page number and nothing else: anything else reads the first page.
    provider.incoming_numbers_page("https://evil.example.com/page")
    assert [(r.path, r.params["index"]) for r in vonage.requests] == [("/account/numbers", "1")]
