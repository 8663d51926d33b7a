import logging

import pytest
from django.db import connection

from telephony.models import AccountStatus, NumberStatus, PhoneNumber, ProviderAccount
from telephony.services import accounts
from tenants.scoping import tenant_scope
from tests.vendor_fixtures import ACME_SID, ACME_TOKEN, VAPI_KEY


def accounts_of(org):
    with tenant_scope(org):
        return list(ProviderAccount.objects.values_list("provider", "account_sid", "status"))


@pytest.mark.django_db
def test_connect_a_twilio_account_over_the_api(owner_client, org, twilio, caplog):
    caplog.set_level(logging.DEBUG)
    response = owner_client.post("/api/acme/provider-accounts", {
        "provider": "twilio", "friendlyName": "Main line", "accountSid": ACME_SID, "authToken": ACME_TOKEN,
    }, content_type="application/json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["friendlyName"] == "Main line"
    assert body["status"] == "active"
    assert body["hasAuthToken"] is True
    assert ACME_TOKEN not in response.content.decode()
    assert accounts_of(org) == [("twilio", ACME_SID, "active")]
    # The token is stored encrypted and never written to the logs.
    with tenant_scope(org), connection.cursor() as cursor:
        cursor.execute("select auth_token from telephony_provideraccount")
        assert bytes(cursor.fetchone()[0]).startswith(b"gAAAA")
    assert ACME_TOKEN not in caplog.text
    # What the SDK sent: a fetch of the account, with Basic auth for it.
    assert [(r.method, r.path) for r in twilio.requests] == [("GET", f"/2010-04-01/Accounts/{ACME_SID}.json")]


@pytest.mark.django_db
def test_bad_credentials_are_a_clear_error_and_nothing_is_saved(owner_client, org, twilio):
    response = owner_client.post("/api/acme/provider-accounts", {
        "provider": "twilio", "accountSid": ACME_SID, "authToken": "wrong-token",
    }, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["credentials"] == [
        "Twilio rejected the credentials (check the account SID and auth token)."]
    assert "wrong-token" not in response.content.decode()
    assert accounts_of(org) == []


@pytest.mark.django_db
@pytest.mark.parametrize("body, field", [
    ({"provider": "twilio", "accountSid": "nope", "authToken": "x"}, "accountSid"),
    ({"provider": "twilio", "accountSid": ACME_SID}, "authToken"),
    ({"provider": "vapi"}, "apiKey"),
    ({"provider": "sinch", "apiKey": "x"}, "provider"),
    ({"provider": "vonage", "apiKey": "x"}, "apiKey"),
    ({"provider": "vonage", "apiKey": "abcd1234", "apiSecret": "s"}, "signatureSecret"),
])
def test_malformed_account_requests_are_400(owner_client, org, twilio, body, field):
    response = owner_client.post("/api/acme/provider-accounts", body, content_type="application/json")
    assert response.status_code == 400
    assert field in response.json()
    assert accounts_of(org) == []


@pytest.mark.django_db
def test_the_same_twilio_account_cannot_be_connected_twice(owner_client, org, twilio_account):
    response = owner_client.post("/api/acme/provider-accounts", {
        "provider": "twilio", "accountSid": ACME_SID, "authToken": ACME_TOKEN,
    }, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["accountSid"] == ["This Twilio account is already connected."]
    assert len(accounts_of(org)) == 1


@pytest.mark.django_db
def test_connect_vapi_verifies_the_key(owner_client, org, vapi):
    bad = owner_client.post("/api/acme/provider-accounts", {"provider": "vapi", "apiKey": "wrong"},
                            content_type="application/json")
    assert bad.status_code == 400
    assert bad.json()["credentials"] == ["VAPI rejected the API key."]
    good = owner_client.post("/api/acme/provider-accounts", {"provider": "vapi", "apiKey": VAPI_KEY},
                             content_type="application/json")
    assert good.status_code == 201
    assert good.json()["hasApiKey"] is True
    assert VAPI_KEY not in good.content.decode()
    assert accounts_of(org) == [("vapi", "", "active")]


@pytest.mark.django_db
def test_rate_limited_requests_are_retried_with_backoff(org, owner, twilio):
    twilio.fail_next(2, status=429, code=20429)
    with tenant_scope(org):
        account = accounts.provider_account_connect(organization=org, actor=owner, provider="twilio",
                                                    account_sid=ACME_SID, auth_token=ACME_TOKEN)
    assert account.status == AccountStatus.ACTIVE
    assert len(twilio.requests) == 3  # two 429s, then the answer


@pytest.mark.django_db
def test_daily_verification_marks_a_broken_account_and_its_numbers(org, owner, twilio, twilio_account):
    from tests import factories

    with tenant_scope(org):
        number = PhoneNumber.objects.create(organization=org, provider_account=twilio_account,
                                            phone_number=factories.next_test_number(), provider_sid="PN1")
    twilio.add_account(ACME_SID, "rotated-elsewhere")  # someone rotated the token in Twilio's console
    with tenant_scope(org):
        assert accounts.provider_account_verify(organization=org, account=twilio_account) is False
        twilio_account.refresh_from_db()
        number.refresh_from_db()
    assert twilio_account.status == AccountStatus.ERROR
    assert "rejected the credentials" in twilio_account.last_error
    assert number.status == NumberStatus.ERROR
    assert number.status_reason.startswith("Account problem: Twilio rejected")

    twilio.add_account(ACME_SID, ACME_TOKEN)  # fixed
    with tenant_scope(org):
        assert accounts.provider_account_verify(organization=org, account=twilio_account) is True
        twilio_account.refresh_from_db()
        number.refresh_from_db()
    assert twilio_account.status == AccountStatus.ACTIVE
    assert twilio_account.last_error == ""
    assert number.status == NumberStatus.ACTIVE


@pytest.mark.django_db
def test_accounts_page_never_shows_a_secret(owner_client, org, twilio_account, vapi_account):
    page = owner_client.get("/o/acme/numbers/accounts/").content.decode()
    assert "Acme Twilio" in page
    assert ACME_TOKEN not in page
    assert VAPI_KEY not in page


@pytest.mark.django_db
def test_connect_from_the_page_with_a_wrong_token_shows_why(owner_client, org, twilio):
    response = owner_client.post("/o/acme/numbers/accounts/connect/twilio/", {
        "account_sid": ACME_SID, "auth_token": "nope", "webhook_mode": "per_number"})
    assert response.status_code == 400
    assert "Twilio rejected the credentials" in response.content.decode()
    assert accounts_of(org) == []
