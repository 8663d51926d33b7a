"""The WhatsApp Cloud API fake follows Meta's contract over real HTTP (plain `requests`), and the webhook
builders (Meta's and Twilio's) produce what the vendors send. No database."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time

import pytest
import requests
from twilio.request_validator import RequestValidator

from softphone.simulator.twilio_webhooks import inbound_message, signature, status_callback
from softphone.simulator.whatsapp import FakeWhatsApp
from softphone.simulator.whatsapp_webhooks import (
    WABA_ID,
    encode,
    inbound_media,
    inbound_text,
    sign,
    status_error,
    status_update,
)

TOKEN = "wa-test-token"
PHONE_NUMBER_ID = "106540352242922"
DISPLAY_NUMBER = "15550783881"
CUSTOMER = "16505551234"
APP_SECRET = "meta-app-secret"
WAMID = re.compile(r"wamid\.[A-Za-z0-9+/=]{20,}")
RE_ENGAGEMENT_DETAILS = ("Message failed to send because more than 24 hours have passed since the customer "
                         "last replied to this number.")


@pytest.fixture
def whatsapp():
    with FakeWhatsApp(access_token=TOKEN) as fake:
        fake.add_phone_number(PHONE_NUMBER_ID, DISPLAY_NUMBER)
        yield fake


def send(fake: FakeWhatsApp, body: dict, token: str | None = TOKEN, phone_number_id: str = PHONE_NUMBER_ID,
         version: str = "v21.0") -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(f"{fake.base_url}/{version}/{phone_number_id}/messages", json=body, headers=headers,
                         timeout=5)


def text(body: str = "Hello from Acme", to: str = CUSTOMER) -> dict:
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "text",
            "text": {"preview_url": False, "body": body}}


def template(to: str = CUSTOMER) -> dict:
    return {"messaging_product": "whatsapp", "to": to, "type": "template",
            "template": {"name": "appointment_reminder", "language": {"code": "en_US"}}}


def graph_error(response: requests.Response) -> dict:
    error = response.json()["error"]
    assert isinstance(error.pop("fbtrace_id"), str)
    return error


# -- sending ----------------------------------------------------------------------------------------


def test_text_in_an_open_window_is_sent_and_recorded(whatsapp):
    whatsapp.open_window(CUSTOMER)

    response = send(whatsapp, text())

    assert response.status_code == 200
    answer = response.json()
    wamid = answer["messages"][0]["id"]
    assert WAMID.fullmatch(wamid)
    assert answer == {"messaging_product": "whatsapp", "contacts": [{"input": CUSTOMER, "wa_id": CUSTOMER}],
                      "messages": [{"id": wamid}]}
    assert whatsapp.sent() == [{**text(), "phone_number_id": PHONE_NUMBER_ID, "wamid": wamid}]
    request = whatsapp.requests[-1]
    assert (request.method, request.path, request.token) == (
        "POST", f"/v21.0/{PHONE_NUMBER_ID}/messages", TOKEN)
    assert request.json == text()


def test_any_graph_version_is_accepted_and_wa_id_is_the_digits(whatsapp):
    whatsapp.open_window("+1 650 555 1234")

    response = send(whatsapp, text(to="+1 (650) 555-1234"), version="v19.0")

    assert response.status_code == 200
    assert response.json()["contacts"] == [{"input": "+1 (650) 555-1234", "wa_id": CUSTOMER}]


def test_free_form_outside_the_window_is_131047(whatsapp):
    for prepare in (lambda: None,  # never opened: closed by default
                    lambda: whatsapp.open_window(CUSTOMER, at=time.time() - 25 * 60 * 60),  # expired
                    lambda: (whatsapp.open_window(CUSTOMER), whatsapp.close_window(CUSTOMER))):
        prepare()
        response = send(whatsapp, text())

        assert response.status_code == 400
        assert graph_error(response) == {
            "message": "(#131047) Re-engagement message",
            "type": "OAuthException",
            "code": 131047,
            "error_data": {"messaging_product": "whatsapp", "details": RE_ENGAGEMENT_DETAILS},
        }
    assert whatsapp.sent() == []
    assert not whatsapp.window_open(CUSTOMER)


def test_templates_are_allowed_outside_the_window(whatsapp):
    response = send(whatsapp, template())

    assert response.status_code == 200
    assert response.json()["messages"][0]["message_status"] == "accepted"
    assert [message["type"] for message in whatsapp.sent()] == ["template"]


def test_media_by_link_or_id_as_a_reply(whatsapp):
    whatsapp.open_window(CUSTOMER)
    by_link = {"messaging_product": "whatsapp", "to": CUSTOMER, "type": "image",
               "image": {"link": "https://crm.example.com/a.png", "caption": "Your invoice"},
               "context": {"message_id": "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTk"}}
    by_id = {"messaging_product": "whatsapp", "to": CUSTOMER, "type": "document", "document": {"id": "42"}}
    both = {"messaging_product": "whatsapp", "to": CUSTOMER, "type": "audio",
            "audio": {"id": "42", "link": "https://crm.example.com/a.ogg"}}

    assert send(whatsapp, by_link).status_code == 200
    assert send(whatsapp, by_id).status_code == 200
    refused = send(whatsapp, both)

    assert refused.status_code == 400
    assert graph_error(refused)["code"] == 100
    assert [message["type"] for message in whatsapp.sent()] == ["image", "document"]


def test_blocked_recipient_is_131026(whatsapp):
    whatsapp.open_window(CUSTOMER)
    whatsapp.block(CUSTOMER)

    response = send(whatsapp, template())

    assert response.status_code == 400
    error = graph_error(response)
    assert (error["code"], error["message"]) == (131026, "(#131026) Message Undeliverable.")
    assert error["error_data"]["messaging_product"] == "whatsapp"


@pytest.mark.parametrize("token", ["wrong-token", None])
def test_bad_or_missing_token_is_401_code_190(whatsapp, token):
    whatsapp.open_window(CUSTOMER)

    response = send(whatsapp, text(), token=token)

    assert response.status_code == 401
    assert graph_error(response) == {"message": "Invalid OAuth access token - Cannot parse access token",
                                     "type": "OAuthException", "code": 190}
    assert whatsapp.sent() == []


def test_unknown_phone_number_id_is_400_code_100(whatsapp):
    whatsapp.open_window(CUSTOMER)

    response = send(whatsapp, text(), phone_number_id="999999999")

    assert response.status_code == 400
    error = graph_error(response)
    assert (error["code"], error["error_subcode"], error["type"]) == (100, 33, "GraphMethodException")
    assert error["message"].startswith("Unsupported post request. Object with ID '999999999' does not exist")


@pytest.mark.parametrize(("body", "parameter"), [
    ({"to": CUSTOMER, "type": "text", "text": {"body": "hi"}}, "messaging_product"),
    ({"messaging_product": "whatsapp", "type": "text", "text": {"body": "hi"}}, "to"),
    ({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "text"}, "text"),
    ({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "text", "text": {}}, "text['body']"),
    ({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "template", "template": {"name": "x"}},
     "template['language']['code']"),
])
def test_missing_parameters_are_400_code_100_with_details(whatsapp, body, parameter):
    whatsapp.open_window(CUSTOMER)

    response = send(whatsapp, body)

    assert response.status_code == 400
    assert graph_error(response) == {
        "message": f"(#100) The parameter {parameter} is required.",
        "type": "OAuthException",
        "code": 100,
        "error_data": {"messaging_product": "whatsapp", "details": f"The parameter {parameter} is required."},
    }


def test_unknown_type_is_refused_and_a_missing_type_means_text(whatsapp):
    whatsapp.open_window(CUSTOMER)

    refused = send(whatsapp, {**text(), "type": "fax"})
    untyped = {key: value for key, value in text().items() if key != "type"}

    assert refused.status_code == 400
    assert graph_error(refused)["error_data"]["details"].startswith("Param type must be one of {")
    assert send(whatsapp, untyped).status_code == 200  # Meta: "If omitted, defaults to text."


# -- media ------------------------------------------------------------------------------------------


def test_media_lookup_then_download_with_the_token(whatsapp):
    content = b"\x89PNG\r\n\x1a\n fake image"
    whatsapp.add_media("1908647269898587", content, "image/png")
    auth = {"Authorization": f"Bearer {TOKEN}"}

    lookup = requests.get(f"{whatsapp.base_url}/v21.0/1908647269898587", headers=auth, timeout=5)

    assert lookup.status_code == 200
    assert lookup.json() == {
        "messaging_product": "whatsapp",
        "url": f"{whatsapp.base_url}/media-download/1908647269898587",
        "mime_type": "image/png",
        "sha256": hashlib.sha256(content).hexdigest(),
        "file_size": len(content),
        "id": "1908647269898587",
    }
    download = requests.get(lookup.json()["url"], headers=auth, timeout=5)
    assert (download.status_code, download.headers["Content-Type"], download.content) == (
        200, "image/png", content)
    assert requests.get(lookup.json()["url"], timeout=5).status_code == 401
    assert requests.get(f"{whatsapp.base_url}/v21.0/1908647269898587", timeout=5).status_code == 401


def test_unknown_media_is_400_code_100(whatsapp):
    response = requests.get(f"{whatsapp.base_url}/v21.0/404404", headers={"Authorization": f"Bearer {TOKEN}"},
                            timeout=5)

    assert response.status_code == 400
    assert graph_error(response)["message"].startswith("Unsupported get request. Object with ID '404404'")


# -- phone numbers and business accounts --------------------------------------------------------------

WABA = "102290129340398"


def graph_get(fake: FakeWhatsApp, path: str, params: dict | None = None, token: str | None = TOKEN):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(f"{fake.base_url}/v21.0/{path}", params=params, headers=headers, timeout=5)


def test_a_phone_number_answers_the_fields_asked_for_and_its_id(whatsapp):
    whatsapp.add_phone_number("106540352242923", "+1 555-078-3882", business_account_id=WABA,
                              verified_name="Acme Support", quality_rating="YELLOW")

    response = graph_get(whatsapp, "106540352242923", {
        "fields": "display_phone_number,verified_name,quality_rating,code_verification_status"})

    assert response.status_code == 200
    assert response.json() == {"display_phone_number": "+1 555-078-3882", "verified_name": "Acme Support",
                               "quality_rating": "YELLOW", "code_verification_status": "VERIFIED",
                               "id": "106540352242923"}


def test_a_phone_number_without_fields_answers_meta_defaults(whatsapp):
    response = graph_get(whatsapp, PHONE_NUMBER_ID)

    assert response.json() == {"verified_name": "Test Business", "code_verification_status": "VERIFIED",
                               "display_phone_number": DISPLAY_NUMBER, "quality_rating": "GREEN",
                               "id": PHONE_NUMBER_ID}


def test_a_field_the_phone_number_does_not_have_is_400_code_100(whatsapp):
    response = graph_get(whatsapp, PHONE_NUMBER_ID, {"fields": "display_phone_number,owner"})

    assert response.status_code == 400
    assert graph_error(response) == {"message": "(#100) Tried accessing nonexisting field (owner) on node type "
                                                "(WhatsAppBusinessPhoneNumber)", "type": "OAuthException", "code": 100}


def test_code_verification_status_changes_when_told(whatsapp):
    whatsapp.set_code_verification_status(PHONE_NUMBER_ID, "NOT_VERIFIED")

    response = graph_get(whatsapp, PHONE_NUMBER_ID, {"fields": "code_verification_status"})

    assert response.json() == {"code_verification_status": "NOT_VERIFIED", "id": PHONE_NUMBER_ID}


def test_reading_a_phone_number_with_a_bad_token_is_401_code_190(whatsapp):
    response = graph_get(whatsapp, PHONE_NUMBER_ID, {"fields": "display_phone_number"}, token="not-the-token")

    assert response.status_code == 401
    assert graph_error(response) == {"message": "Invalid OAuth access token - Cannot parse access token",
                                     "type": "OAuthException", "code": 190}
    assert response.headers["WWW-Authenticate"].startswith('OAuth "Facebook Platform" "invalid_token"')


def test_an_expired_token_is_code_190_subcode_463(whatsapp):
    whatsapp.expire_token(TOKEN)

    response = graph_get(whatsapp, PHONE_NUMBER_ID, {"fields": "display_phone_number"})

    assert response.status_code == 401
    error = graph_error(response)
    assert (error["code"], error["error_subcode"], error["type"]) == (190, 463, "OAuthException")
    assert error["message"].startswith("Error validating access token: Session has expired on ")


def test_an_unknown_phone_number_id_is_400_code_100(whatsapp):
    response = graph_get(whatsapp, "999999999", {"fields": "display_phone_number"})

    assert response.status_code == 400
    error = graph_error(response)
    assert (error["code"], error["type"], error["error_subcode"]) == (100, "GraphMethodException", 33)
    assert "Object with ID '999999999' does not exist" in error["message"]


def test_a_business_account_lists_its_numbers_a_page_at_a_time(whatsapp):
    ids = [f"20000000000000{n}" for n in range(3)]
    for n, pid in enumerate(ids):
        whatsapp.add_phone_number(pid, f"+1 555-000-000{n}", business_account_id=WABA)

    first = graph_get(whatsapp, f"{WABA}/phone_numbers", {"fields": "id", "limit": "2"}).json()
    assert first["data"] == [{"id": ids[0]}, {"id": ids[1]}]
    assert first["paging"]["next"].startswith(f"{whatsapp.base_url}/v21.0/{WABA}/phone_numbers?")
    second = graph_get(whatsapp, f"{WABA}/phone_numbers",
                       {"fields": "id", "limit": "2", "after": first["paging"]["cursors"]["after"]}).json()
    assert second["data"] == [{"id": ids[2]}]
    assert "next" not in second["paging"]


def test_a_business_account_without_numbers_is_an_empty_list(whatsapp):
    whatsapp.add_business_account("555555555555555")

    response = graph_get(whatsapp, "555555555555555/phone_numbers")

    assert response.status_code == 200
    assert response.json() == {"data": []}


def test_an_unknown_business_account_is_400_code_100(whatsapp):
    response = graph_get(whatsapp, "777777777777777/phone_numbers")

    assert response.status_code == 400
    assert graph_error(response)["code"] == 100


# -- fault injection --------------------------------------------------------------------------------


def test_fail_next_answers_meta_transient_errors_then_recovers(whatsapp):
    whatsapp.open_window(CUSTOMER)
    whatsapp.fail_next(2, status=503)

    first, second, third = (send(whatsapp, text()) for _ in range(3))

    assert (first.status_code, second.status_code, third.status_code) == (503, 503, 200)
    assert graph_error(first) == {"message": "Service temporarily unavailable", "type": "OAuthException",
                                  "code": 2, "is_transient": True}
    assert len(whatsapp.sent()) == 1
    assert len(whatsapp.requests) == 3

    whatsapp.fail_next(5)
    whatsapp.clear_faults()
    assert send(whatsapp, text()).status_code == 200


# -- Meta's webhooks --------------------------------------------------------------------------------


def test_inbound_text_is_meta_envelope():
    payload = inbound_text(phone_number_id=PHONE_NUMBER_ID, display_phone_number=DISPLAY_NUMBER,
                           from_wa_id=CUSTOMER, body="Is my order ready?", profile_name="Jane Doe",
                           wamid="wamid.ABC", timestamp=1730093100)

    assert payload == {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": DISPLAY_NUMBER, "phone_number_id": PHONE_NUMBER_ID},
            "contacts": [{"profile": {"name": "Jane Doe"}, "wa_id": CUSTOMER}],
            "messages": [{"from": CUSTOMER, "id": "wamid.ABC", "timestamp": "1730093100", "type": "text",
                          "text": {"body": "Is my order ready?"}}],
        }}]}],
    }
    default = inbound_text(phone_number_id=PHONE_NUMBER_ID, display_phone_number=DISPLAY_NUMBER,
                           from_wa_id=CUSTOMER, body="hi")
    message = default["entry"][0]["changes"][0]["value"]["messages"][0]
    assert WAMID.fullmatch(message["id"])
    assert re.fullmatch(r"\d{10}", message["timestamp"])


def test_inbound_media_is_meta_envelope():
    payload = inbound_media(phone_number_id=PHONE_NUMBER_ID, display_phone_number=DISPLAY_NUMBER,
                            from_wa_id=CUSTOMER, media_type="image", media_id="1908647269898587",
                            mime_type="image/jpeg", caption="The damage", sha256="abc123")

    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    assert message["type"] == "image"
    assert message["image"] == {"caption": "The damage", "mime_type": "image/jpeg", "sha256": "abc123",
                                "id": "1908647269898587"}
    with pytest.raises(ValueError):
        inbound_media(phone_number_id=PHONE_NUMBER_ID, display_phone_number=DISPLAY_NUMBER,
                      from_wa_id=CUSTOMER, media_type="location", media_id="1", mime_type="x/y")


def test_status_updates_are_meta_envelope():
    failed = status_update(phone_number_id=PHONE_NUMBER_ID, display_phone_number=DISPLAY_NUMBER,
                           wamid="wamid.ABC", status="failed", recipient_id=CUSTOMER, timestamp="1730093200",
                           errors=[status_error(131047, "Re-engagement message", RE_ENGAGEMENT_DETAILS)])
    delivered = status_update(phone_number_id=PHONE_NUMBER_ID, display_phone_number=DISPLAY_NUMBER,
                              wamid="wamid.ABC", status="delivered", recipient_id=CUSTOMER)

    value = failed["entry"][0]["changes"][0]["value"]
    assert failed["object"] == "whatsapp_business_account"
    assert failed["entry"][0]["changes"][0]["field"] == "messages"
    assert "contacts" not in value and "messages" not in value
    assert value["statuses"] == [{
        "id": "wamid.ABC", "status": "failed", "timestamp": "1730093200", "recipient_id": CUSTOMER,
        "errors": [{"code": 131047, "title": "Re-engagement message", "message": "Re-engagement message",
                    "error_data": {"details": RE_ENGAGEMENT_DETAILS}}],
    }]
    status = delivered["entry"][0]["changes"][0]["value"]["statuses"][0]
    assert (status["status"], status["pricing"]["category"]) == ("delivered", "service")
    assert "errors" not in status
    with pytest.raises(ValueError):
        status_update(phone_number_id=PHONE_NUMBER_ID, display_phone_number=DISPLAY_NUMBER,
                      wamid="wamid.ABC", status="failed", recipient_id=CUSTOMER)


def test_sign_matches_an_independent_hmac_over_the_raw_bytes():
    payload = inbound_text(phone_number_id=PHONE_NUMBER_ID, display_phone_number=DISPLAY_NUMBER,
                           from_wa_id=CUSTOMER, body="Ça marche? https://example.com/x")
    raw = encode(payload)

    expected = hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    assert sign(raw, APP_SECRET) == f"sha256={expected}"
    assert b"\\u00c7a marche" in raw and b"https:\\/\\/example.com\\/x" in raw
    assert json.loads(raw) == payload
    # Re-serialised JSON is other bytes, so its signature does not match the one Meta sent.
    assert sign(json.dumps(payload).encode(), APP_SECRET) != sign(raw, APP_SECRET)


# -- Twilio's webhooks ------------------------------------------------------------------------------


def test_twilio_signature_reproduces_the_published_test_vector():
    params = {"CallSid": "CA1234567890ABCDE", "Caller": "+14158675309", "Digits": "1234",
              "From": "+14158675309", "To": "+18005551212"}

    assert signature("https://mycompany.com/myapp.php?foo=1&bar=2", params, "12345") == (
        "RSOYDt4T1cUTdK1PDd93/VVr8B8=")


def test_twilio_inbound_sms_and_its_signature():
    account_sid = "AC" + "1a2b3c4d" * 4
    params = inbound_message(account_sid=account_sid, to="+15550100000", from_="+16505551234", body="Hi",
                             media=[("https://api.twilio.com/media/ME1", "image/jpeg")])

    sid = params["MessageSid"]
    assert re.fullmatch(r"MM[0-9a-f]{32}", sid)
    assert params == {
        "MessageSid": sid, "SmsSid": sid, "SmsMessageSid": sid, "AccountSid": account_sid,
        "From": "+16505551234", "To": "+15550100000", "Body": "Hi", "NumMedia": "1", "NumSegments": "1",
        "SmsStatus": "received", "ApiVersion": "2010-04-01",
        "MediaUrl0": "https://api.twilio.com/media/ME1", "MediaContentType0": "image/jpeg",
    }
    url = "https://crm.example.com/twilio/sms"
    assert RequestValidator("token").validate(url, params, signature(url, params, "token"))


def test_twilio_inbound_whatsapp_message():
    params = inbound_message(account_sid="AC" + "0" * 32, to="+15550100000", from_="whatsapp:+16505551234",
                             body="Hola", whatsapp=True, profile_name="Jane", message_sid="SM" + "1" * 32,
                             messaging_service_sid="MG" + "2" * 32)

    assert (params["From"], params["To"]) == ("whatsapp:+16505551234", "whatsapp:+15550100000")
    assert (params["ProfileName"], params["WaId"], params["MessageType"]) == ("Jane", CUSTOMER, "text")
    assert params["MessagingServiceSid"] == "MG" + "2" * 32
    assert params["MessageSid"] == params["SmsSid"] == "SM" + "1" * 32


def test_twilio_status_callback():
    sent = status_callback(account_sid="AC" + "0" * 32, message_sid="SM" + "1" * 32, status="delivered",
                           to="+16505551234", from_="+15550100000")
    failed = status_callback(account_sid="AC" + "0" * 32, message_sid="SM" + "1" * 32, status="undelivered",
                             to="+16505551234", from_="+15550100000", error_code=30003)

    assert sent == {"MessageSid": "SM" + "1" * 32, "SmsSid": "SM" + "1" * 32, "MessageStatus": "delivered",
                    "SmsStatus": "delivered", "AccountSid": "AC" + "0" * 32, "From": "+15550100000",
                    "To": "+16505551234", "ApiVersion": "2010-04-01"}
    assert failed["ErrorCode"] == "30003"


# -- message templates ----------------------------------------------------------------------------------


def auth() -> dict:
    return {"Authorization": f"Bearer {TOKEN}"}


def test_templates_are_listed_page_by_page_with_cursors_as_meta_pages_them(whatsapp):
    for i in range(5):
        whatsapp.add_template("1234", name=f"t{i}", body="Hi {{1}}")
    url, seen = f"{whatsapp.base_url}/v21.0/1234/message_templates", []
    answer = requests.get(url, params={"limit": 2, "fields": "id,name,status"}, headers=auth(), timeout=5).json()
    assert set(answer["data"][0]) == {"id", "name", "status"}  # the fields asked for, no more
    while True:
        seen += [item["name"] for item in answer["data"]]
        if "next" not in answer["paging"]:
            break
        answer = requests.get(url, params={"limit": 2, "after": answer["paging"]["cursors"]["after"]},
                              headers=auth(), timeout=5).json()
    assert seen == ["t0", "t1", "t2", "t3", "t4"]


@pytest.mark.parametrize("status, code", [("PAUSED", 132015), ("REJECTED", 132016)])
def test_a_template_send_is_checked_against_the_account_s_templates(whatsapp, status, code):
    whatsapp.attach_to_business_account(PHONE_NUMBER_ID, "1234")
    whatsapp.add_template("1234", name="ok", body="Hi {{1}}")
    whatsapp.add_template("1234", name="bad", body="Hi", status=status)
    url = f"{whatsapp.base_url}/v21.0/{PHONE_NUMBER_ID}/messages"

    def send_template(name, parameters):
        content = {"name": name, "language": {"code": "en_US"}}
        if parameters is not None:
            content["components"] = [{"type": "body", "parameters": parameters}]
        return requests.post(url, headers=auth(), timeout=5, json={"messaging_product": "whatsapp", "to": CUSTOMER,
                                                                    "type": "template", "template": content})

    assert send_template("ok", [{"type": "text", "text": "Ann"}]).status_code == 200
    assert send_template("ok", None).json()["error"]["code"] == 132000
    assert send_template("bad", None).json()["error"]["code"] == code
    assert send_template("missing", None).json()["error"]["code"] == 132001
