"""The fakes follow the vendors' contracts and work with the real clients: the `twilio` SDK for
Twilio, plain `requests` for VAPI. No database."""

from __future__ import annotations

import re
import time
import uuid

import pytest
import requests
from jsonschema import ValidationError
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from softphone.simulator.twilio import FakeTwilio, fake_http_client
from softphone.simulator.vapi import VAPI_SMS_URL, VAPI_VOICE_URL, FakeVapi
from tests.fakes.contracts import (
    validate_twilio,
    validate_twilio_response,
    validate_vapi,
    validate_vapi_response,
)

ACCOUNT_SID = "AC" + "1a2b3c4d" * 4
AUTH_TOKEN = "acme-auth-token"
OTHER_SID = "AC" + "9f8e7d6c" * 4
OTHER_TOKEN = "globex-auth-token"
API_KEY_SID = "SK" + "0a1b2c3d" * 4

NUMBER = "api.v2010.account.incoming_phone_number"
AVAILABLE = "api.v2010.account.available_phone_number_country.available_phone_number_local"
MESSAGE = "api.v2010.account.message"
CALL = "api.v2010.account.call"
NUMBERS_PATH = "/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers.json"
LOCAL_PATH = "/2010-04-01/Accounts/{AccountSid}/AvailablePhoneNumbers/{CountryCode}/Local.json"
PAGING_KEYS = {"first_page_uri", "next_page_uri", "previous_page_uri", "page", "page_size", "start", "end",
               "uri"}

VAPI_KEY = "vapi-test-key"
VAPI_AUTH = {"Authorization": f"Bearer {VAPI_KEY}"}
CRM_VOICE_URL = "https://crm.example.com/twilio/voice"
CRM_SMS_URL = "https://crm.example.com/twilio/sms"


@pytest.fixture
def twilio():
    with FakeTwilio() as fake:
        fake.add_account(ACCOUNT_SID, AUTH_TOKEN)
        fake.add_account(OTHER_SID, OTHER_TOKEN, friendly_name="Globex")
        yield fake


@pytest.fixture
def client(twilio):
    return Client(ACCOUNT_SID, AUTH_TOKEN, http_client=fake_http_client(twilio.base_url))


def twilio_get(fake: FakeTwilio, uri: str, **params) -> requests.Response:
    return requests.get(fake.base_url + uri, params=params, auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=5)


def account_uri(resource: str) -> str:
    return f"/2010-04-01/Accounts/{ACCOUNT_SID}/{resource}"


# -- Twilio: accounts and authentication ----------------------------------------------------------


def test_sdk_fetches_the_account(twilio, client):
    account = client.api.accounts(ACCOUNT_SID).fetch()

    assert (account.sid, account.status, account.type, account.friendly_name) == (
        ACCOUNT_SID, "active", "Full", "Test account")
    body = twilio_get(twilio, f"/2010-04-01/Accounts/{ACCOUNT_SID}.json").json()
    validate_twilio("api.v2010.account", body)


def test_bad_token_is_401_with_code_20003(twilio):
    with pytest.raises(TwilioRestException) as error:
        twilio.client(ACCOUNT_SID, "wrong-token").api.accounts(ACCOUNT_SID).fetch()

    assert (error.value.status, error.value.code) == (401, 20003)
    raw = requests.get(twilio.base_url + account_uri("IncomingPhoneNumbers.json"), auth=(ACCOUNT_SID, "x"),
                       timeout=5)
    assert raw.json() == {"code": 20003, "message": "Authenticate",
                          "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}


def test_credentials_of_one_account_do_not_open_another(client):
    with pytest.raises(TwilioRestException) as error:
        client.api.accounts(OTHER_SID).fetch()
    assert (error.value.status, error.value.code) == (401, 20003)

    # The SDK reports a failed list page as a bare TwilioException, without status or code.
    with pytest.raises(TwilioException, match="Unable to fetch page"):
        client.api.accounts(OTHER_SID).incoming_phone_numbers.list()


def test_sdk_authenticates_with_an_api_key(twilio):
    twilio.add_api_key(ACCOUNT_SID, API_KEY_SID, "key-secret")
    client = Client(API_KEY_SID, "key-secret", ACCOUNT_SID, http_client=fake_http_client(twilio.base_url))

    assert client.api.accounts(ACCOUNT_SID).fetch().sid == ACCOUNT_SID
    assert twilio.requests[-1].account_sid == ACCOUNT_SID


# -- Twilio: incoming phone numbers ---------------------------------------------------------------


def test_sdk_lists_250_numbers_over_three_pages_of_100(twilio, client):
    created = twilio.add_incoming_numbers(ACCOUNT_SID, 250)

    numbers = client.incoming_phone_numbers.list(page_size=100)

    assert [number.sid for number in numbers] == [number["sid"] for number in created]
    assert numbers[-1].phone_number == "+15550100249"
    list_requests = [request for request in twilio.requests
                     if request.path.endswith("/IncomingPhoneNumbers.json")]
    assert [request.query.get("Page") for request in list_requests] == [None, "1", "2"]
    assert {request.account_sid for request in list_requests} == {ACCOUNT_SID}


def test_list_pages_follow_the_contract(twilio):
    twilio.add_incoming_numbers(ACCOUNT_SID, 250)
    pages, uri = [], account_uri("IncomingPhoneNumbers.json?PageSize=100")

    while uri:
        response = twilio_get(twilio, uri)
        assert response.status_code == 200
        page = response.json()
        validate_twilio_response(NUMBERS_PATH, "get", page)
        for number in page["incoming_phone_numbers"]:
            validate_twilio(NUMBER, number)
        assert set(page) == PAGING_KEYS | {"incoming_phone_numbers"}
        pages.append(page)
        uri = page["next_page_uri"]

    shapes = [(page["page"], page["start"], page["end"], len(page["incoming_phone_numbers"]))
              for page in pages]
    assert shapes == [(0, 0, 99, 100), (1, 100, 199, 100), (2, 200, 249, 50)]
    assert pages[0]["previous_page_uri"] is None
    assert pages[1]["previous_page_uri"].startswith("/2010-04-01/Accounts/")
    assert pages[0]["next_page_uri"].startswith("/2010-04-01/Accounts/")
    assert pages[2]["first_page_uri"] == account_uri("IncomingPhoneNumbers.json?PageSize=100&Page=0")


def test_sdk_pages_by_hand_by_url_and_by_stream(twilio, client):
    twilio.add_incoming_numbers(ACCOUNT_SID, 120)

    first = client.incoming_phone_numbers.page(page_size=50)
    second = first.next_page()
    third = client.incoming_phone_numbers.get_page(second.next_page_url)

    assert [len(list(page)) for page in (first, second, third)] == [50, 50, 20]
    assert third.next_page() is None
    assert len(list(client.incoming_phone_numbers.stream(page_size=50))) == 120


def test_page_token_keeps_the_position_when_a_number_is_released_between_pages(twilio, client):
    created = twilio.add_incoming_numbers(ACCOUNT_SID, 100)
    first = client.incoming_phone_numbers.page(page_size=50)

    twilio.release(ACCOUNT_SID, created[0]["sid"])

    assert [number.sid for number in first.next_page()] == [number["sid"] for number in created[50:]]


def test_list_filters_by_phone_number_with_wildcards_and_by_friendly_name(twilio, client):
    twilio.add_incoming_numbers(ACCOUNT_SID, 30)
    support = twilio.add_incoming_number(ACCOUNT_SID, "+14155550123", friendly_name="Support line")

    assert [number.sid for number in client.incoming_phone_numbers.list(phone_number="+14155550123")] == [
        support["sid"]]
    assert len(client.incoming_phone_numbers.list(phone_number="+1555010001*")) == 10
    assert [number.sid for number in client.incoming_phone_numbers.list(friendly_name="Support line")] == [
        support["sid"]]


def test_sdk_updates_a_number_with_form_encoded_pascal_case_params(twilio, client):
    number = twilio.add_incoming_number(ACCOUNT_SID, "+14155550100")

    updated = client.incoming_phone_numbers(number["sid"]).update(
        voice_url=CRM_VOICE_URL, voice_method="POST", sms_url=CRM_SMS_URL, voice_caller_id_lookup=True)

    assert updated.voice_url == CRM_VOICE_URL
    stored = twilio.number(ACCOUNT_SID, number["sid"])
    assert (stored["voice_url"], stored["sms_url"], stored["voice_caller_id_lookup"]) == (
        CRM_VOICE_URL, CRM_SMS_URL, True)
    assert twilio.requests[-1].form == {"VoiceUrl": CRM_VOICE_URL, "VoiceMethod": "POST",
                                        "SmsUrl": CRM_SMS_URL, "VoiceCallerIdLookup": "true"}
    validate_twilio(NUMBER, stored)


def test_sdk_buys_a_number_by_number_and_by_area_code(twilio, client):
    bought = client.incoming_phone_numbers.create(phone_number="+15005550006", voice_url=CRM_VOICE_URL)
    by_area = client.incoming_phone_numbers.create(area_code="500")

    assert (bought.phone_number, bought.voice_url, bought.status) == ("+15005550006", CRM_VOICE_URL, "in-use")
    assert by_area.phone_number.startswith("+1500")
    assert {number["sid"] for number in twilio.numbers(ACCOUNT_SID)} == {bought.sid, by_area.sid}
    for number in twilio.numbers(ACCOUNT_SID):
        validate_twilio(NUMBER, number)


def test_buying_answers_201_with_the_resource(twilio):
    response = requests.post(twilio.base_url + account_uri("IncomingPhoneNumbers.json"),
                             data={"PhoneNumber": "+14155550100"}, auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=5)

    assert response.status_code == 201
    validate_twilio_response(NUMBERS_PATH, "post", response.json(), 201)
    validate_twilio(NUMBER, response.json())


@pytest.mark.parametrize(("params", "code"), [
    ({"phone_number": "+15005550000"}, 21422),
    ({"phone_number": "+15005550001"}, 21421),
    ({"area_code": "533"}, 21452),
])
def test_buying_a_magic_failure_number_raises_its_code(twilio, client, params, code):
    with pytest.raises(TwilioRestException) as error:
        client.incoming_phone_numbers.create(**params)

    assert (error.value.status, error.value.code) == (400, code)
    assert twilio.numbers(ACCOUNT_SID) == []


def test_a_number_owned_by_another_account_cannot_be_bought(twilio, client):
    twilio.add_incoming_number(OTHER_SID, "+14155550100")

    with pytest.raises(TwilioRestException) as error:
        client.incoming_phone_numbers.create(phone_number="+14155550100")

    assert error.value.code == 21422


def test_released_number_is_404_with_code_20404(twilio, client):
    number = twilio.add_incoming_number(ACCOUNT_SID, "+14155550100")
    twilio.release(ACCOUNT_SID, number["sid"])

    with pytest.raises(TwilioRestException) as error:
        client.incoming_phone_numbers(number["sid"]).fetch()

    assert (error.value.status, error.value.code) == (404, 20404)


def test_sdk_release_answers_204_with_an_empty_body(twilio, client):
    number = twilio.add_incoming_number(ACCOUNT_SID, "+14155550100")

    assert client.incoming_phone_numbers(number["sid"]).delete() is True
    assert twilio.number(ACCOUNT_SID, number["sid"]) is None
    gone = requests.delete(twilio.base_url + account_uri(f"IncomingPhoneNumbers/{number['sid']}.json"),
                           auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=5)
    assert gone.status_code == 404


def test_ten_thousand_numbers_are_added_quickly_and_listed_in_full(twilio):
    started = time.perf_counter()
    twilio.add_incoming_numbers(ACCOUNT_SID, 10_000)
    assert time.perf_counter() - started < 2

    total, uri = 0, account_uri("IncomingPhoneNumbers.json?PageSize=1000")
    while uri:
        page = twilio_get(twilio, uri).json()
        total += len(page["incoming_phone_numbers"])
        uri = page["next_page_uri"]
    assert total == 10_000


# -- Twilio: available numbers --------------------------------------------------------------------


def test_available_numbers_match_the_filters_and_the_contract(twilio, client):
    twilio.add_incoming_number(ACCOUNT_SID, "+14155550120")

    found = client.available_phone_numbers("US").local.list(area_code=415, contains="555012*",
                                                            mms_enabled=True)

    # +1 415 555 0120..0129, less the owned one and the ones without MMS.
    assert [number.phone_number for number in found] == [
        "+14155550121", "+14155550122", "+14155550124", "+14155550125", "+14155550126", "+14155550128",
        "+14155550129"]
    assert all(number.capabilities["mms"] for number in found)
    body = twilio_get(twilio, account_uri("AvailablePhoneNumbers/US/Local.json"), AreaCode="415").json()
    validate_twilio_response(LOCAL_PATH, "get", body)
    assert len(body["available_phone_numbers"]) == 20
    for number in body["available_phone_numbers"]:
        validate_twilio(AVAILABLE, number)
        assert set(number["capabilities"]) == {"voice", "sms", "mms", "fax"}


def test_available_capabilities_can_come_in_the_live_apis_casing():
    with FakeTwilio(available_capabilities_casing="upper") as twilio:
        twilio.add_account(ACCOUNT_SID, AUTH_TOKEN)

        found = twilio.client(ACCOUNT_SID).available_phone_numbers("US").local.list(area_code=212, limit=3)

        assert found[0].capabilities == {"voice": True, "SMS": True, "MMS": True}
        body = twilio_get(twilio, account_uri("AvailablePhoneNumbers/US/Local.json"), AreaCode="212").json()
        validate_twilio_response(LOCAL_PATH, "get", body)


def test_toll_free_search_offers_toll_free_numbers(client):
    found = client.available_phone_numbers("US").toll_free.list(limit=5)

    assert len(found) == 5
    assert all(number.phone_number.startswith("+1888") for number in found)


# -- Twilio: messages and calls -------------------------------------------------------------------


def test_sdk_sends_a_message_and_the_fake_records_it(twilio, client):
    twilio.add_incoming_number(ACCOUNT_SID, "+14155550100")

    media = ["https://cdn.example.com/1.jpg", "https://cdn.example.com/2.jpg"]
    message = client.messages.create(to="+14155550199", from_="+14155550100", body="Hello", media_url=media,
                                     status_callback="https://crm.example.com/twilio/status")
    text = client.messages.create(to="+14155550199", from_="+14155550100", body="日" * 71)

    assert re.fullmatch(r"MM[0-9a-f]{32}", message.sid) and re.fullmatch(r"SM[0-9a-f]{32}", text.sid)
    assert (message.status, message.num_media, message.num_segments) == ("queued", "2", "1")
    assert text.num_segments == "2"  # UCS-2: 71 characters do not fit in one 70-character segment
    assert twilio.requests[-2].form["MediaUrl"] == media
    sent = twilio.messages(ACCOUNT_SID)
    assert [sent_message["sid"] for sent_message in sent] == [message.sid, text.sid]
    for sent_message in sent:
        validate_twilio(MESSAGE, sent_message)


@pytest.mark.parametrize(("sender", "to", "code"), [
    ("+15005550001", "+14155550199", 21212),
    ("+15005550007", "+14155550199", 21606),
    ("+15005550008", "+14155550199", 21611),
    ("+15005550006", "+15005550001", 21211),
    ("+15005550006", "+15005550002", 21612),
    ("+15005550006", "+15005550003", 21408),
    ("+15005550006", "+15005550004", 21610),
    ("+15005550006", "+15005550009", 21614),
    ("+14155550999", "+14155550199", 21606),  # not one of the account's numbers
])
def test_message_magic_numbers_raise_their_codes(twilio, client, sender, to, code):
    with pytest.raises(TwilioRestException) as error:
        client.messages.create(to=to, from_=sender, body="Hello")

    assert (error.value.status, error.value.code) == (400, code)
    assert twilio.messages(ACCOUNT_SID) == []


def test_a_message_without_body_or_media_is_21619(client):
    with pytest.raises(TwilioRestException) as error:
        client.messages.create(to="+14155550199", from_="+15005550006")

    assert error.value.code == 21619


def test_sdk_places_a_call_and_the_fake_records_it(twilio, client):
    number = twilio.add_incoming_number(ACCOUNT_SID, "+14155550100")

    call = client.calls.create(to="+14155550199", from_="+14155550100", url="https://crm.example.com/twiml",
                               status_callback="https://crm.example.com/status",
                               status_callback_event=["initiated", "answered", "completed"])

    assert re.fullmatch(r"CA[0-9a-f]{32}", call.sid) and call.status == "queued"
    assert twilio.requests[-1].form["StatusCallbackEvent"] == ["initiated", "answered", "completed"]
    [placed] = twilio.calls(ACCOUNT_SID)
    assert placed["phone_number_sid"] == number["sid"]
    validate_twilio(CALL, placed)


def test_a_recording_is_the_contracts_resource_and_its_media_needs_the_credentials(twilio, client):
    url = twilio.add_recording(ACCOUNT_SID, b"ID3 an mp3", call_sid="CA" + "3" * 32, duration=7)
    sid = url.rsplit("/", 1)[1]
    assert url == f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{sid}"
    recording = client.recordings(sid).fetch()
    assert (recording.sid, recording.call_sid, recording.duration, recording.status) == (
        sid, "CA" + "3" * 32, "7", "completed")
    validate_twilio("api.v2010.account.recording", twilio_get(twilio, account_uri(f"Recordings/{sid}.json")).json())

    mp3 = twilio_get(twilio, account_uri(f"Recordings/{sid}.mp3"))
    assert (mp3.status_code, mp3.headers["Content-Type"], mp3.content) == (200, "audio/mpeg", b"ID3 an mp3")
    wav = twilio_get(twilio, account_uri(f"Recordings/{sid}"))  # no extension: WAV
    assert (wav.status_code, wav.headers["Content-Type"], wav.content[:4]) == (200, "audio/x-wav", b"RIFF")
    anonymous = requests.get(twilio.base_url + account_uri(f"Recordings/{sid}.mp3"), timeout=5)
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, 20003)
    other = requests.get(twilio.base_url + account_uri(f"Recordings/{sid}.mp3"), auth=(OTHER_SID, OTHER_TOKEN),
                         timeout=5)
    assert other.status_code == 401
    unknown = twilio_get(twilio, account_uri(f"Recordings/RE{'0' * 32}.mp3"))
    assert (unknown.status_code, unknown.json()["code"]) == (404, 20404)
    twilio.delete_recording(ACCOUNT_SID, url)
    assert twilio_get(twilio, account_uri(f"Recordings/{sid}.mp3")).status_code == 404


@pytest.mark.parametrize(("sender", "to", "code"), [
    ("+15005550001", "+14155550199", 21212),
    ("+15005550006", "+15005550001", 21217),
    ("+15005550006", "+15005550002", 21214),
    ("+15005550006", "+15005550003", 21215),
    ("+15005550006", "+15005550004", 21216),
])
def test_call_magic_numbers_raise_their_codes(client, sender, to, code):
    with pytest.raises(TwilioRestException) as error:
        client.calls.create(to=to, from_=sender, url="https://crm.example.com/twiml")

    assert (error.value.status, error.value.code) == (400, code)


# -- Twilio: faults -------------------------------------------------------------------------------


# -- Twilio: TwiML Apps (Applications) and API keys (Keys) -------------------------------------------

APPLICATION = "api.v2010.account.application"
APPLICATIONS_PATH = "/2010-04-01/Accounts/{AccountSid}/Applications.json"
KEYS_PATH = "/2010-04-01/Accounts/{AccountSid}/Keys.json"


def test_sdk_creates_a_twiml_app_with_its_voice_url_and_the_fake_records_it(twilio, client):
    app = client.api.v2010.accounts(ACCOUNT_SID).applications.create(
        friendly_name="Softphone", voice_url="https://app.example.com/voice/outbound/", voice_method="POST",
        status_callback="https://app.example.com/voice/status/", status_callback_method="POST")

    assert re.fullmatch(r"AP[0-9a-f]{32}", app.sid)
    assert (app.voice_url, app.voice_method, app.status_callback) == (
        "https://app.example.com/voice/outbound/", "POST", "https://app.example.com/voice/status/")
    assert twilio.requests[-1].form == {
        "FriendlyName": "Softphone", "VoiceUrl": "https://app.example.com/voice/outbound/", "VoiceMethod": "POST",
        "StatusCallback": "https://app.example.com/voice/status/", "StatusCallbackMethod": "POST"}
    [stored] = twilio.applications(ACCOUNT_SID)
    assert stored["sid"] == app.sid and stored["friendly_name"] == "Softphone"
    validate_twilio(APPLICATION, stored)
    assert twilio.applications(OTHER_SID) == []


def test_twiml_apps_are_created_listed_fetched_updated_and_deleted_as_the_contract_says(twilio):
    auth = (ACCOUNT_SID, AUTH_TOKEN)
    created = requests.post(twilio.base_url + account_uri("Applications.json"), auth=auth, timeout=5,
                            data={"FriendlyName": "Softphone", "VoiceUrl": "https://app.example.com/v"})
    assert created.status_code == 201
    validate_twilio_response(APPLICATIONS_PATH, "post", created.json(), 201)
    sid = created.json()["sid"]
    page = twilio_get(twilio, account_uri("Applications.json"))
    assert page.status_code == 200
    validate_twilio_response(APPLICATIONS_PATH, "get", page.json())
    assert set(page.json()) == PAGING_KEYS | {"applications"}
    assert [a["sid"] for a in page.json()["applications"]] == [sid]
    assert twilio_get(twilio, account_uri("Applications.json"), FriendlyName="Other").json()["applications"] == []

    updated = requests.post(twilio.base_url + account_uri(f"Applications/{sid}.json"), auth=auth, timeout=5,
                            data={"VoiceUrl": "https://app.example.com/w", "VoiceMethod": "get"})
    assert updated.status_code == 200
    assert (updated.json()["voice_url"], updated.json()["voice_method"]) == ("https://app.example.com/w", "GET")
    validate_twilio(APPLICATION, updated.json())

    deleted = requests.delete(twilio.base_url + account_uri(f"Applications/{sid}.json"), auth=auth, timeout=5)
    assert (deleted.status_code, deleted.content) == (204, b"")
    gone = twilio_get(twilio, account_uri(f"Applications/{sid}.json"))
    assert (gone.status_code, gone.json()["code"]) == (404, 20404)
    assert twilio.applications(ACCOUNT_SID) == []


def test_a_twiml_app_of_another_account_is_out_of_reach(twilio, client):
    theirs = twilio.client(OTHER_SID).api.v2010.accounts(OTHER_SID).applications.create(friendly_name="Theirs")

    with pytest.raises(TwilioRestException) as error:
        client.api.v2010.accounts(ACCOUNT_SID).applications(theirs.sid).delete()
    assert (error.value.status, error.value.code) == (404, 20404)
    with pytest.raises(TwilioRestException) as error:
        client.api.v2010.accounts(OTHER_SID).applications(theirs.sid).delete()
    assert (error.value.status, error.value.code) == (401, 20003)
    assert [a["sid"] for a in twilio.applications(OTHER_SID)] == [theirs.sid]


def test_a_new_api_key_shows_its_secret_once_and_opens_the_account(twilio, client):
    key = client.api.v2010.accounts(ACCOUNT_SID).new_keys.create(friendly_name="Softphone")

    assert re.fullmatch(r"SK[0-9a-f]{32}", key.sid) and key.secret
    assert twilio.authenticate(key.sid, key.secret) == ACCOUNT_SID
    assert twilio.authenticate(key.sid, "a guess") is None
    as_key = Client(key.sid, key.secret, ACCOUNT_SID, http_client=fake_http_client(twilio.base_url))
    assert as_key.api.accounts(ACCOUNT_SID).fetch().sid == ACCOUNT_SID
    # Listed and fetched, the key never carries its secret again.
    [listed] = twilio.keys(ACCOUNT_SID)
    assert listed == {"sid": key.sid, "friendly_name": "Softphone", "date_created": listed["date_created"],
                      "date_updated": listed["date_updated"]}
    fetched = twilio_get(twilio, account_uri(f"Keys/{key.sid}.json"))
    assert "secret" not in fetched.json()
    validate_twilio("api.v2010.account.key", fetched.json())
    page = twilio_get(twilio, account_uri("Keys.json")).json()
    validate_twilio_response(KEYS_PATH, "get", page)
    assert set(page) == PAGING_KEYS | {"keys"} and "secret" not in page["keys"][0]


def test_creating_a_key_answers_201_with_the_new_key_contract(twilio):
    created = requests.post(twilio.base_url + account_uri("Keys.json"), auth=(ACCOUNT_SID, AUTH_TOKEN),
                            data={"FriendlyName": "Softphone"}, timeout=5)
    assert created.status_code == 201
    validate_twilio_response(KEYS_PATH, "post", created.json(), 201)
    validate_twilio("api.v2010.account.new_key", created.json())


def test_a_deleted_key_is_404_and_authenticates_no_more(twilio, client):
    key = client.api.v2010.accounts(ACCOUNT_SID).new_keys.create(friendly_name="Softphone")

    assert client.api.v2010.accounts(ACCOUNT_SID).keys(key.sid).delete() is True
    assert twilio.keys(ACCOUNT_SID) == []
    assert twilio.authenticate(key.sid, key.secret) is None
    with pytest.raises(TwilioRestException) as error:
        client.api.v2010.accounts(ACCOUNT_SID).keys(key.sid).delete()
    assert (error.value.status, error.value.code) == (404, 20404)


def test_fail_next_answers_429_code_20429_then_recovers(twilio, client):
    twilio.fail_next(2)

    for _ in range(2):
        with pytest.raises(TwilioRestException) as error:
            client.api.accounts(ACCOUNT_SID).fetch()
        assert (error.value.status, error.value.code) == (429, 20429)
    assert client.api.accounts(ACCOUNT_SID).fetch().sid == ACCOUNT_SID


def test_delay_makes_a_short_client_timeout_fail(twilio):
    twilio.set_delay(0.5)
    impatient = twilio.client(ACCOUNT_SID, timeout=0.1)

    with pytest.raises(requests.exceptions.Timeout):
        impatient.api.accounts(ACCOUNT_SID).fetch()
    twilio.clear_faults()
    assert impatient.api.accounts(ACCOUNT_SID).fetch().sid == ACCOUNT_SID


def test_a_stopped_fake_refuses_connections():
    fake = FakeTwilio()
    base_url = fake.start()
    fake.stop()

    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(base_url, timeout=1)


# -- contracts ------------------------------------------------------------------------------------


def test_contract_validators_reject_what_breaks_the_contract(twilio):
    number = twilio.add_incoming_number(ACCOUNT_SID, "+14155550100")
    validate_twilio(NUMBER, {**number, "voice_url": None})  # nullable

    broken = [
        {**number, "date_created": "2024-01-31T12:00:00Z"},  # dates are RFC 2822
        {**number, "sid": "PN123"},
        {**number, "emergency_status": None},  # an enum $ref, not nullable
        {key: value for key, value in number.items() if key != "voice_url"},  # Twilio sends every field
    ]
    for payload in broken:
        with pytest.raises(ValidationError):
            validate_twilio(NUMBER, payload)
    with pytest.raises(ValidationError):
        validate_vapi("TwilioPhoneNumber", {"provider": "twilio", "number": "+14155550100"})


# -- VAPI -----------------------------------------------------------------------------------------


@pytest.fixture
def vapi(twilio):
    with FakeVapi(twilio=twilio, api_key=VAPI_KEY) as fake:
        yield fake


@pytest.fixture
def twilio_number(twilio):
    return twilio.add_incoming_number(ACCOUNT_SID, "+14155550100", voice_url=CRM_VOICE_URL,
                                      sms_url=CRM_SMS_URL)


def vapi_import(vapi: FakeVapi, **overrides) -> requests.Response:
    """Import the Twilio number into VAPI; an override of None leaves that property out."""
    defaults = {"provider": "twilio", "number": "+14155550100", "twilioAccountSid": ACCOUNT_SID,
                "twilioAuthToken": AUTH_TOKEN}
    body = {key: value for key, value in {**defaults, **overrides}.items() if value is not None}
    return requests.post(f"{vapi.base_url}/phone-number", json=body, headers=VAPI_AUTH, timeout=5)


def test_vapi_import_points_twilio_voice_at_vapi_and_leaves_sms_when_disabled(twilio, vapi, twilio_number):
    assistant = vapi.add_assistant(name="Receptionist")

    response = vapi_import(vapi, name="Main line", assistantId=assistant["id"], smsEnabled=False)

    assert response.status_code == 201
    body = response.json()
    validate_vapi("TwilioPhoneNumber", body)
    validate_vapi_response("/phone-number", "post", body, 201)
    assert (body["assistantId"], body["smsEnabled"], body["status"]) == (assistant["id"], False, "active")
    assert AUTH_TOKEN not in response.text
    number = twilio.number(ACCOUNT_SID, twilio_number["sid"])
    assert (number["voice_url"], number["sms_url"]) == (VAPI_VOICE_URL, CRM_SMS_URL)
    assert vapi.received_tokens == [AUTH_TOKEN]
    assert vapi.requests[-1].json["twilioAuthToken"] == "***"


def test_vapi_import_takes_sms_too_by_default(twilio, vapi, twilio_number):
    assert vapi_import(vapi).json()["smsEnabled"] is True

    number = twilio.number(ACCOUNT_SID, twilio_number["sid"])
    assert (number["voice_url"], number["sms_url"]) == (VAPI_VOICE_URL, VAPI_SMS_URL)


def test_vapi_import_accepts_a_twilio_api_key(twilio, vapi, twilio_number):
    twilio.add_api_key(ACCOUNT_SID, API_KEY_SID, "key-secret")

    response = vapi_import(vapi, twilioAuthToken=None, twilioApiKey=API_KEY_SID, twilioApiSecret="key-secret")

    assert response.status_code == 201
    assert "key-secret" not in response.text


def test_vapi_get_list_patch_delete(vapi, twilio_number):
    assistant = vapi.add_assistant()
    created = vapi_import(vapi, smsEnabled=False).json()
    url = f"{vapi.base_url}/phone-number/{created['id']}"

    fetched = requests.get(url, headers=VAPI_AUTH, timeout=5)
    listed = requests.get(f"{vapi.base_url}/phone-number", headers=VAPI_AUTH, timeout=5)
    patched = requests.patch(url, json={"assistantId": assistant["id"], "name": "Sales"}, headers=VAPI_AUTH,
                             timeout=5)
    detached = requests.patch(url, json={"assistantId": None}, headers=VAPI_AUTH, timeout=5)
    deleted = requests.delete(url, headers=VAPI_AUTH, timeout=5)

    assert fetched.json() == created
    assert listed.json() == [created]
    validate_vapi_response("/phone-number", "get", listed.json())
    assert patched.status_code == 200
    assert (patched.json()["assistantId"], patched.json()["name"]) == (assistant["id"], "Sales")
    assert "assistantId" not in detached.json()
    assert (deleted.status_code, deleted.json()["id"]) == (200, created["id"])
    for response in (fetched, patched, detached, deleted):
        validate_vapi("TwilioPhoneNumber", response.json())
        validate_vapi_response("/phone-number/{id}", response.request.method, response.json())
    assert requests.get(url, headers=VAPI_AUTH, timeout=5).status_code == 404
    assert vapi.phone_numbers() == []


def test_vapi_list_is_newest_first_and_honours_limit(twilio, vapi):
    twilio.add_incoming_numbers(ACCOUNT_SID, 3, start="+14155550100")
    ids = [vapi_import(vapi, number=f"+1415555010{index}").json()["id"] for index in range(3)]

    listed = requests.get(f"{vapi.base_url}/phone-number", params={"limit": 2}, headers=VAPI_AUTH, timeout=5)

    assert [number["id"] for number in listed.json()] == ids[::-1][:2]


def test_vapi_requires_the_api_key(vapi):
    for headers in ({}, {"Authorization": "Bearer wrong-key"}):
        response = requests.get(f"{vapi.base_url}/phone-number", headers=headers, timeout=5)

        assert response.status_code == 401
        assert response.json()["error"] == "Unauthorized"
        assert response.json()["statusCode"] == 401


def test_vapi_unknown_id_is_404(vapi):
    url = f"{vapi.base_url}/phone-number/{uuid.uuid4()}"

    for method in ("GET", "PATCH", "DELETE"):
        response = requests.request(method, url, json={}, headers=VAPI_AUTH, timeout=5)

        assert response.status_code == 404
        assert response.json() == {"message": "Not Found", "error": "Not Found", "statusCode": 404}


@pytest.mark.parametrize("overrides", [
    {"number": None},
    {"assistantId": str(uuid.uuid4())},
    {"twilioAuthToken": "wrong-token"},
    {"number": "+14155550999"},  # not on the Twilio account
    {"color": "blue"},
    {"name": "x" * 41},
])
def test_vapi_rejects_invalid_imports_with_nest_errors(twilio, vapi, twilio_number, overrides):
    response = vapi_import(vapi, **overrides)

    assert response.status_code == 400
    assert response.json()["error"] == "Bad Request"
    assert isinstance(response.json()["message"], list)
    assert twilio.number(ACCOUNT_SID, twilio_number["sid"])["voice_url"] == CRM_VOICE_URL
    assert vapi.phone_numbers() == []


def test_vapi_rejects_a_number_imported_twice(vapi, twilio_number):
    assert vapi_import(vapi).status_code == 201

    assert vapi_import(vapi).status_code == 400


def test_vapi_number_deleted_behind_our_back_is_404(vapi, twilio_number):
    created = vapi_import(vapi).json()

    vapi.delete_behind_our_back(created["id"])

    response = requests.get(f"{vapi.base_url}/phone-number/{created['id']}", headers=VAPI_AUTH, timeout=5)
    assert response.status_code == 404


def test_vapi_fail_next_answers_500_then_recovers(vapi):
    vapi.fail_next(1)

    failed = requests.get(f"{vapi.base_url}/phone-number", headers=VAPI_AUTH, timeout=5)
    recovered = requests.get(f"{vapi.base_url}/phone-number", headers=VAPI_AUTH, timeout=5)

    assert (failed.status_code, failed.json()["statusCode"]) == (500, 500)
    assert (recovered.status_code, recovered.json()) == (200, [])


def test_vapi_lists_assistants_as_a_plain_array(vapi):
    assistant = vapi.add_assistant(name="Receptionist")

    response = requests.get(f"{vapi.base_url}/assistant", headers=VAPI_AUTH, timeout=5)

    assert response.json() == [assistant]
    validate_vapi_response("/assistant", "get", response.json())


def test_vapi_keeps_a_numbers_server_and_refuses_what_the_server_object_has_not(vapi, twilio_number):
    server = {"url": "https://softphone.example.com/webhooks/vapi/", "headers": {"X-Vapi-Secret": "s3cret"}}
    created = vapi_import(vapi, server=server).json()
    assert created["server"] == server
    validate_vapi("TwilioPhoneNumber", created)

    url = f"{vapi.base_url}/phone-number/{created['id']}"
    for wrong in ({"url": "https://x.example/", "secret": "s"}, {"url": "not a url"}, {"headers": {"X": 1}}):
        response = requests.patch(url, json={"server": wrong}, headers=VAPI_AUTH, timeout=5)
        assert (response.status_code, response.json()["error"]) == (400, "Bad Request")
    assert vapi.phone_numbers()[0]["server"] == server


def test_vapi_server_messages_follow_the_contract_and_carry_the_numbers_headers(vapi, twilio_number):
    assistant = vapi.add_assistant()
    server = {"url": "https://softphone.example.com/webhooks/vapi/", "headers": {"X-Vapi-Secret": "s3cret"}}
    number = vapi_import(vapi, assistantId=assistant["id"], server=server, smsEnabled=False).json()

    report = vapi.end_of_call_report(number["id"], call_id="call-1")
    status = vapi.status_update(number["id"], "in-progress", call_id="call-1")

    for sent in (report, status):
        assert sent.url == server["url"]
        assert sent.headers["X-Vapi-Secret"] == "s3cret"
        validate_vapi("ServerMessage", sent.json)
        assert sent.json["message"]["call"]["phoneNumberId"] == number["id"]
    assert report.json["message"]["type"] == "end-of-call-report"
    validate_vapi("ServerMessageEndOfCallReport", report.json["message"])
    validate_vapi("ServerMessageStatusUpdate", status.json["message"])


def test_vapi_sends_no_server_messages_for_a_number_without_a_server(vapi, twilio_number):
    number = vapi_import(vapi).json()

    with pytest.raises(AssertionError):
        vapi.end_of_call_report(number["id"])
