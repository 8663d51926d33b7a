"""The Bandwidth fake follows Bandwidth's published contracts (tests/contracts/bandwidth), and so does
every request our adapters send it: the Messaging API's JSON against its schemas, the account API's
XML against the element names of its operations. No database."""

from __future__ import annotations

import json

import pytest
import requests
from jsonschema import ValidationError

from core.vendors import ProviderError
from messaging.providers.bandwidth import BandwidthMessaging
from softphone.simulator.bandwidth import ACCOUNT_API, MESSAGING_API, TOKEN_PATH, FakeBandwidth
from telephony.providers.bandwidth import BandwidthProvider, forget_tokens
from telephony.providers.base import AccountWebhooks
from tests.fakes.contracts import check_bandwidth_xml, validate_bandwidth

ACCOUNT, CLIENT, SECRET, APP = "9900001", "client-1", "secret-1", "6f2a9c1e-3b7d-4e0a-9f51-2d8c4b6a1e93"
# Our adapters' calls, as the contract names the operation: (method, path in the contract).
XML_OPERATIONS = {
    ("GET", f"/accounts/{ACCOUNT}"): "/accounts/{accountId}",
    ("GET", f"/accounts/{ACCOUNT}/inserviceNumbers"): "/accounts/{accountId}/inserviceNumbers",
    ("GET", f"/accounts/{ACCOUNT}/availableNumbers"): "/accounts/{accountId}/availableNumbers",
    ("POST", f"/accounts/{ACCOUNT}/orders"): "/accounts/{accountId}/orders",
    ("POST", f"/accounts/{ACCOUNT}/disconnects"): "/accounts/{accountId}/disconnects",
    ("GET", f"/accounts/{ACCOUNT}/applications/{APP}"): "/accounts/{accountId}/applications/{applicationId}",
    ("PUT", f"/accounts/{ACCOUNT}/applications/{APP}"): "/accounts/{accountId}/applications/{applicationId}",
    ("GET", f"/accounts/{ACCOUNT}/applications/{APP}/associatedsippeers"):
        "/accounts/{accountId}/applications/{applicationId}/associatedsippeers",
}


@pytest.fixture
def bandwidth(settings):
    fake = FakeBandwidth()
    base = fake.start()
    settings.BANDWIDTH_TOKEN_URL = base + TOKEN_PATH
    settings.BANDWIDTH_ACCOUNT_BASE_URL = base + ACCOUNT_API
    settings.BANDWIDTH_MESSAGING_BASE_URL = base + MESSAGING_API
    settings.BANDWIDTH_RETRIES_ON_429 = 2
    fake.add_account(ACCOUNT, CLIENT, SECRET, application_id=APP)
    fake.received = []
    fake.transport = lambda method, url, body, headers: fake.received.append((url, body, headers)) or 200
    forget_tokens()
    yield fake
    fake.stop()
    forget_tokens()


def _adapter() -> BandwidthProvider:
    return BandwidthProvider.for_credentials(account_sid=ACCOUNT, api_username=CLIENT, auth_token=SECRET,
                                             application_id=APP)


def _exercise(bandwidth) -> None:
    bandwidth.add_numbers(ACCOUNT, "+19195550100")
    bandwidth.offer(ACCOUNT, "+19195550101")
    provider = _adapter()
    provider.verify()
    list(provider.iter_incoming_numbers(page_size=100))
    provider.search_available(country="US", area_code="919")
    provider.buy_number("+19195550101", None)
    provider.configure_account_webhooks(AccountWebhooks(inbound_url="https://example.com/in",
                                                        status_url="https://example.com/status",
                                                        username=ACCOUNT, password="p" * 43))
    provider.account_webhooks()
    provider.release_number("9195550101")


def test_every_xml_request_and_answer_uses_the_contracts_names(bandwidth):
    _exercise(bandwidth)
    token = requests.post(bandwidth.base_url + TOKEN_PATH, data={"grant_type": "client_credentials"},
                          auth=(CLIENT, SECRET), timeout=5).json()["access_token"]
    checked = set()
    for request in list(bandwidth.requests):  # what our adapters asked (asking again adds to the list)
        operation = XML_OPERATIONS.get((request.method, request.path))
        if operation is None:
            continue
        checked.add((request.method, request.path))
        if request.body:
            check_bandwidth_xml(operation, request.method, request.body)
        if request.method == "GET":  # ask again, to check the answer
            answer = requests.get(bandwidth.base_url + ACCOUNT_API + request.path, params=request.query,
                                  headers={"Authorization": f"Bearer {token}"}, timeout=5)
            if answer.content:
                check_bandwidth_xml(operation, "get", answer.content, status=answer.status_code)
    assert checked == set(XML_OPERATIONS)


def test_the_xml_check_catches_an_element_the_contract_does_not_have():
    with pytest.raises(ValidationError, match="Telephone not in"):
        check_bandwidth_xml("/accounts/{accountId}/inserviceNumbers", "get",
                            b"<TNs><TotalCount>1</TotalCount><Telephone>1</Telephone></TNs>", status=200)
    with pytest.raises(ValidationError, match="root element"):
        check_bandwidth_xml("/accounts/{accountId}", "get", b"<Account/>", status=200)


def test_messages_their_answers_and_callbacks_follow_the_contract(bandwidth):
    bandwidth.add_numbers(ACCOUNT, "+19195550100")
    messaging = BandwidthMessaging(account_id=ACCOUNT, client_id=CLIENT, client_secret=SECRET, application_id=APP)
    result = messaging.send(sender="+19195550100", to="+19195550199", channel="sms", body="hi", media=[],
                            status_callback="")
    asked = next(r for r in bandwidth.requests if r.path == f"/users/{ACCOUNT}/messages")
    validate_bandwidth("messageRequest", json.loads(asked.body))
    validate_bandwidth("message", bandwidth.sent[-1])
    assert result.sid == bandwidth.sent[-1]["id"]
    bandwidth.inbound(ACCOUNT, "+19195550100", "+19195550199", "hello", media=[(b"\xff\xd8", "image/jpeg")])
    bandwidth.deliver_status(ACCOUNT, bandwidth.status_event(result.sid, "message-sending"),
                             bandwidth.status_event(result.sid, "message-delivered"))
    bandwidth.deliver_status(ACCOUNT, bandwidth.status_event(result.sid, "message-failed", error_code=4770))
    inbound, statuses, failed = (json.loads(body) for _, body, _ in bandwidth.received)
    validate_bandwidth("inboundMessageCallback", inbound[0])
    validate_bandwidth("messageSendingCallback", statuses[0])
    validate_bandwidth("messageDeliveredCallback", statuses[1])
    validate_bandwidth("messageFailedCallback", failed[0])
    refused = requests.post(bandwidth.base_url + MESSAGING_API + f"/users/{ACCOUNT}/messages", json={"to": ["+1"]},
                            headers={"Authorization": f"Bearer {messaging.credentials.token()}"})
    assert refused.status_code == 400
    validate_bandwidth("createMessageRequestError", refused.json())


def test_the_contract_check_catches_a_wrong_message():
    with pytest.raises(ValidationError):
        validate_bandwidth("messageRequest", {"applicationId": APP, "to": "+19195550199", "from": "+19195550100"})


def test_the_secret_goes_to_the_token_endpoint_only_and_tokens_are_reused(bandwidth):
    _exercise(bandwidth)
    token_requests = [r for r in bandwidth.requests if r.path == TOKEN_PATH]
    assert len(token_requests) == 1  # one token for the whole exercise
    assert all(SECRET.encode() not in r.body and r.auth == "bearer" for r in bandwidth.requests
               if r.path != TOKEN_PATH)


def test_a_wrong_secret_is_a_permanent_error_in_words(bandwidth):
    provider = BandwidthProvider.for_credentials(account_sid=ACCOUNT, api_username=CLIENT, auth_token="wrong",
                                                 application_id=APP)
    with pytest.raises(ProviderError) as refused:
        provider.verify()
    assert refused.value.permanent
    assert refused.value.message == "Bandwidth rejected the API credential (check the client id and secret)."
    assert "wrong" not in str(refused.value)


def test_a_cursor_is_a_page_number_and_nothing_else(bandwidth):
    bandwidth.add_numbers(ACCOUNT, *[f"+1919555{i:04d}" for i in range(3)])
    page = _adapter().incoming_numbers_page("https://evil.example.com/steal?page=2", page_size=2)
    assert [n.phone_number for n in page.numbers] == ["+19195550000", "+19195550001"]
    assert page.next_cursor == "2"
    listed = [r for r in bandwidth.requests if r.path.endswith("/inserviceNumbers")]
    assert [r.query["page"] for r in listed] == ["1"]
