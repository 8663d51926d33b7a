"""Voice set-up without copying ids: connecting a Twilio account (or one button) creates the TwiML App
and the API key through Twilio's API (the real SDK against the fake); turning voice off, or deleting
the account, removes both. The key's secret is kept encrypted and shown nowhere."""

from __future__ import annotations

import json
import logging

import pytest
from celery.exceptions import Retry
from celery.signals import task_prerun
from django.db import connection

from telephony.models import ProviderAccount, VoiceStatus
from telephony.services import voice_setup
from telephony.services.webhook_contract import voice_url
from telephony.tasks import provider_account_voice_enable
from tenants.models import AuditEvent
from tenants.scoping import tenant_scope
from tests.vendor_fixtures import ACME_SID, ACME_TOKEN

pytestmark = pytest.mark.django_db

ACCOUNTS_PAGE = "/o/acme/numbers/accounts/"


def account_of(org, pk) -> ProviderAccount:
    with tenant_scope(org):
        return ProviderAccount.objects.get(pk=pk)


def raw_secret_column(org, pk) -> bytes:
    with tenant_scope(org), connection.cursor() as cursor:
        cursor.execute("select api_key_secret from telephony_provideraccount where id = %s", [pk])
        return bytes(cursor.fetchone()[0])


def history(org, account) -> list[tuple[str, dict]]:
    with tenant_scope(org):
        return list(AuditEvent.objects.filter(target_id=account.pk).order_by("created_at", "id")
                    .values_list("verb", "data"))


@pytest.fixture
def task_calls():
    """The keyword arguments each Celery task started with (celery's own signal, nothing replaced)."""
    seen = []

    def record(sender=None, kwargs=None, **_):
        seen.append((sender.name, dict(kwargs or {})))

    task_prerun.connect(record, weak=False)
    yield seen
    task_prerun.disconnect(record)


@pytest.fixture
def connected(org, owner_client, twilio, django_capture_on_commit_callbacks):
    """A Twilio account connected from the accounts page, its set-up run as a worker would."""
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post("/o/acme/numbers/accounts/connect/twilio/", {
            "account_sid": ACME_SID, "auth_token": ACME_TOKEN, "friendly_name": "Main line",
            "webhook_mode": "per_number"})
    assert response.status_code == 302, response.content.decode()
    with tenant_scope(org):
        return ProviderAccount.objects.get(account_sid=ACME_SID)


def press(client, account, enabled: bool, capture):
    with capture(execute=True):
        return client.post(f"/o/acme/numbers/accounts/{account.pk}/voice/", {"enabled": "1" if enabled else "0"})


# Connecting sets the softphone up ------------------------------------------------------------------


def test_connecting_a_twilio_account_creates_a_twiml_app_on_our_outbound_route_and_an_api_key(
        org, twilio, task_calls, connected, owner_client):
    account = account_of(org, connected.pk)
    [app] = twilio.applications(ACME_SID)
    assert app["voice_url"] == voice_url("outbound") == "http://127.0.0.1:8000/webhooks/twilio/voice/outbound/"
    assert (app["voice_method"], app["status_callback"], app["status_callback_method"]) == (
        "POST", voice_url("status"), "POST")
    assert app["friendly_name"] == "Softphone (Acme)"
    [key] = twilio.keys(ACME_SID)
    assert account.voice_status == VoiceStatus.READY and account.voice_error == ""
    assert (account.twiml_app_sid, account.api_key_sid) == (app["sid"], key["sid"])
    # The secret Twilio showed once is the one kept: it opens the account as that key.
    assert twilio.authenticate(key["sid"], account.api_key_secret) == ACME_SID
    # ... and it is kept encrypted.
    assert raw_secret_column(org, account.pk).startswith(b"gAAAA")
    # What was sent to Twilio: the app, then the key, both with the auth token.
    creates = [(r.method, r.path.rsplit("/", 1)[1]) for r in twilio.requests if r.method == "POST"]
    assert creates == [("POST", "Applications.json"), ("POST", "Keys.json")]
    # The worker got ids only.
    assert [(name, sorted(kwargs)) for name, kwargs in task_calls] == [
        ("telephony.provider_account_voice_enable", ["organization_id", "provider_account_id"])]
    secret = account.api_key_secret
    assert secret not in json.dumps(task_calls)


def test_the_api_key_secret_is_shown_nowhere(org, twilio, owner_client, caplog, django_capture_on_commit_callbacks):
    caplog.set_level(logging.DEBUG)
    with django_capture_on_commit_callbacks(execute=True):
        created = owner_client.post("/api/acme/provider-accounts", {
            "provider": "twilio", "accountSid": ACME_SID, "authToken": ACME_TOKEN}, content_type="application/json")
    assert created.status_code == 201
    account = account_of(org, created.json()["id"])
    secret = account.api_key_secret
    assert secret and account.voice_status == VoiceStatus.READY

    page = owner_client.get(ACCOUNTS_PAGE).content.decode()
    api = owner_client.get(f"/api/acme/provider-accounts/{account.pk}")
    assert api.json()["voiceStatus"] == "ready" and api.json()["apiKeySid"] == account.api_key_sid
    listed = owner_client.get("/api/acme/provider-accounts").content.decode()
    for shown in (page, api.content.decode(), listed, caplog.text, json.dumps(history(org, account))):
        assert secret not in shown
        assert ACME_TOKEN not in shown
    assert "Ready" in page


def test_an_account_connected_without_a_worker_waits_with_voice_off(org, owner, twilio, twilio_account):
    # The fixture connects without running what is sent after commit: nothing reached Twilio yet.
    assert twilio.applications(ACME_SID) == [] and twilio.keys(ACME_SID) == []
    assert account_of(org, twilio_account.pk).voice_status == VoiceStatus.OFF
    assert [verb for verb, _ in history(org, twilio_account)] == [
        "provider_account.connected", "provider_account.voice_requested"]


# The button ----------------------------------------------------------------------------------------


def test_the_button_sets_the_softphone_up_and_a_second_press_changes_nothing(
        org, twilio, twilio_account, owner_client, django_capture_on_commit_callbacks):
    before = owner_client.get(ACCOUNTS_PAGE).content.decode()
    assert "Set up the softphone" in before and "Turn voice off" not in before
    assert 'data-voice-status="off">Off<' in before

    response = press(owner_client, twilio_account, True, django_capture_on_commit_callbacks)
    assert response.status_code == 302 and response["Location"] == ACCOUNTS_PAGE
    account = account_of(org, twilio_account.pk)
    assert account.voice_status == VoiceStatus.READY
    asked = len(twilio.requests)

    press(owner_client, twilio_account, True, django_capture_on_commit_callbacks)
    assert len(twilio.requests) == asked  # ready already: Twilio is not asked again
    assert len(twilio.applications(ACME_SID)) == 1 and len(twilio.keys(ACME_SID)) == 1
    # The worker itself is idempotent too.
    with tenant_scope(org):
        voice_setup.voice_enable(organization=org, actor=None, account=account)
    assert len(twilio.requests) == asked

    after = owner_client.get(ACCOUNTS_PAGE).content.decode()
    assert 'data-voice-status="ready">Ready<' in after
    assert "Turn voice off" in after and "Set up the softphone" not in after
    assert "The softphone is already set up on Twilio: Acme Twilio." in after
    verbs = [verb for verb, _ in history(org, twilio_account)]
    assert verbs[-2:] == ["provider_account.voice_requested", "provider_account.voice_enabled"]


def test_a_key_that_fails_after_the_app_was_made_leaves_nothing_at_twilio_and_says_why(
        org, twilio, twilio_account, owner_client, django_capture_on_commit_callbacks):
    twilio.fail_next(1, status=403, code=20403, message="Creating API keys is not allowed for this account.",
                     after=1)  # the app is created, the key is refused

    press(owner_client, twilio_account, True, django_capture_on_commit_callbacks)

    assert twilio.applications(ACME_SID) == [] and twilio.keys(ACME_SID) == []
    deleted = [r.path for r in twilio.requests if r.method == "DELETE"]
    assert len(deleted) == 1 and "/Applications/AP" in deleted[0]
    account = account_of(org, twilio_account.pk)
    assert account.voice_status == VoiceStatus.ERROR
    assert account.voice_error == "Unable to create record: Creating API keys is not allowed for this account."
    assert (account.twiml_app_sid, account.api_key_sid, account.api_key_secret) == ("", "", None)
    page = owner_client.get(ACCOUNTS_PAGE).content.decode()
    assert "Set-up failed" in page and "Creating API keys is not allowed for this account." in page
    assert "Set up the softphone" in page  # try again


def test_what_a_failed_cleanup_left_at_twilio_is_removed_by_the_next_set_up(
        org, twilio, twilio_account, owner_client, django_capture_on_commit_callbacks):
    twilio.fail_next(2, status=403, code=20403, message="Forbidden.", after=1)  # the key, then the app's removal
    press(owner_client, twilio_account, True, django_capture_on_commit_callbacks)
    [leftover] = twilio.applications(ACME_SID)
    account = account_of(org, twilio_account.pk)
    assert account.voice_status == VoiceStatus.ERROR and account.twiml_app_sid == leftover["sid"]

    press(owner_client, twilio_account, True, django_capture_on_commit_callbacks)

    account = account_of(org, twilio_account.pk)
    [app] = twilio.applications(ACME_SID)
    assert app["sid"] != leftover["sid"] and app["sid"] == account.twiml_app_sid
    assert account.voice_status == VoiceStatus.READY and account.voice_error == ""


def test_twilio_out_of_reach_for_a_moment_shows_why_and_the_retry_ends_ready(
        org, twilio, twilio_account, owner_client, django_capture_on_commit_callbacks):
    twilio.fail_next(1, status=503, code=20503, message="Service unavailable")

    with pytest.raises(Retry):  # a worker would try again after a pause
        press(owner_client, twilio_account, True, django_capture_on_commit_callbacks)
    waiting = account_of(org, twilio_account.pk)
    assert (waiting.voice_status, waiting.voice_error) == (VoiceStatus.ERROR,
                                                          "Unable to create record: Service unavailable")
    assert "Unable to create record: Service unavailable" in owner_client.get(ACCOUNTS_PAGE).content.decode()

    provider_account_voice_enable.apply(
        kwargs={"organization_id": str(org.pk), "provider_account_id": str(twilio_account.pk)}, throw=True)
    account = account_of(org, twilio_account.pk)
    assert account.voice_status == VoiceStatus.READY
    assert len(twilio.applications(ACME_SID)) == 1 and len(twilio.keys(ACME_SID)) == 1
    assert [verb for verb, _ in history(org, twilio_account)][-2:] == [
        "provider_account.voice_failed", "provider_account.voice_enabled"]


def test_an_agent_cannot_press_the_button(org, twilio, twilio_account, agent, agent_client,
                                          django_capture_on_commit_callbacks):
    assert press(agent_client, twilio_account, True, django_capture_on_commit_callbacks).status_code == 403
    assert twilio.applications(ACME_SID) == []


# Turning voice off ---------------------------------------------------------------------------------


def test_turning_voice_off_deletes_the_app_and_the_key_at_twilio(
        org, twilio, connected, owner_client, django_capture_on_commit_callbacks):
    old = account_of(org, connected.pk)

    press(owner_client, connected, False, django_capture_on_commit_callbacks)

    assert twilio.applications(ACME_SID) == [] and twilio.keys(ACME_SID) == []
    assert twilio.authenticate(old.api_key_sid, old.api_key_secret) is None
    deleted = sorted(r.path.split("/")[-2] for r in twilio.requests if r.method == "DELETE")
    assert deleted == ["Applications", "Keys"]
    account = account_of(org, connected.pk)
    assert account.voice_status == VoiceStatus.OFF
    assert (account.twiml_app_sid, account.api_key_sid, account.api_key_secret) == ("", "", None)
    page = owner_client.get(ACCOUNTS_PAGE).content.decode()
    assert 'data-voice-status="off">Off<' in page and "Set up the softphone" in page
    # The softphone offers no device on an account with voice off.
    assert history(org, connected)[-1] == ("provider_account.voice_disabled", {
        "twiml_app_sid": old.twiml_app_sid, "api_key_sid": old.api_key_sid})


def test_turning_voice_off_when_twilio_already_lost_them_is_fine(
        org, twilio, connected, owner_client, django_capture_on_commit_callbacks):
    account = account_of(org, connected.pk)
    console = twilio.client(ACME_SID).api.v2010.accounts(ACME_SID)
    console.applications(account.twiml_app_sid).delete()  # removed in Twilio's Console
    console.keys(account.api_key_sid).delete()

    press(owner_client, connected, False, django_capture_on_commit_callbacks)

    account = account_of(org, connected.pk)
    assert account.voice_status == VoiceStatus.OFF and account.voice_error == ""


def test_turning_voice_off_that_fails_keeps_the_ids_to_finish_later(
        org, twilio, connected, owner_client, django_capture_on_commit_callbacks):
    before = account_of(org, connected.pk)
    twilio.fail_next(2, status=403, code=20403, message="Forbidden.")

    press(owner_client, connected, False, django_capture_on_commit_callbacks)

    account = account_of(org, connected.pk)
    assert account.voice_status == VoiceStatus.ERROR
    assert account.voice_error == "Turning voice off did not finish: Unable to delete record: Forbidden."
    assert (account.twiml_app_sid, account.api_key_sid) == (before.twiml_app_sid, before.api_key_sid)
    press(owner_client, connected, False, django_capture_on_commit_callbacks)
    assert twilio.applications(ACME_SID) == [] and twilio.keys(ACME_SID) == []
    assert account_of(org, connected.pk).voice_status == VoiceStatus.OFF


# Deleting the account ------------------------------------------------------------------------------


def test_deleting_an_account_removes_its_voice_set_up_at_twilio_first(org, twilio, connected, owner_client):
    response = owner_client.post(f"/o/acme/numbers/accounts/{connected.pk}/delete/", follow=True)

    assert "was disconnected" in response.content.decode()
    assert twilio.applications(ACME_SID) == [] and twilio.keys(ACME_SID) == []
    with tenant_scope(org):
        assert not ProviderAccount.objects.filter(pk=connected.pk).exists()


def test_deleting_an_account_goes_ahead_when_twilio_cannot_remove_its_voice_set_up(
        org, twilio, connected, owner_client):
    account = account_of(org, connected.pk)
    twilio.fail_next(2, status=500, code=20500, message="Internal error")

    response = owner_client.post(f"/o/acme/numbers/accounts/{connected.pk}/delete/", follow=True)

    page = response.content.decode()
    assert "was disconnected" in page
    assert f"TwiML App {account.twiml_app_sid} and API key {account.api_key_sid} could not be removed" in page
    with tenant_scope(org):
        assert not ProviderAccount.objects.filter(pk=connected.pk).exists()
        event = AuditEvent.objects.get(verb="provider_account.deleted", target_id=connected.pk)
    assert event.data["voice_left_at_twilio"]["twiml_app_sid"] == account.twiml_app_sid
    assert len(twilio.applications(ACME_SID)) == 1  # left there, and said so
    assert account.api_key_secret not in page and account.api_key_secret not in json.dumps(event.data)


# The REST API --------------------------------------------------------------------------------------


def test_the_api_turns_voice_on_and_off(org, twilio, twilio_account, owner_client,
                                        django_capture_on_commit_callbacks):
    url = f"/api/acme/provider-accounts/{twilio_account.pk}/voice"
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(url, {"enabled": True}, content_type="application/json")
    assert response.status_code == 202
    assert response.json()["voiceStatus"] == "off"  # as it was when asked: a worker does it
    body = owner_client.get(f"/api/acme/provider-accounts/{twilio_account.pk}").json()
    assert body["voiceStatus"] == "ready" and body["voiceError"] == ""
    assert body["twimlAppSid"] == twilio.applications(ACME_SID)[0]["sid"]
    assert "apiKeySecret" not in body

    with django_capture_on_commit_callbacks(execute=True):
        assert owner_client.post(url, {"enabled": False}, content_type="application/json").status_code == 202
    assert owner_client.get(f"/api/acme/provider-accounts/{twilio_account.pk}").json()["voiceStatus"] == "off"
    assert twilio.applications(ACME_SID) == [] and twilio.keys(ACME_SID) == []


def test_the_api_refuses_a_voice_request_it_cannot_carry_out(org, twilio, twilio_account, vapi_account,
                                                            owner_client):
    bad = owner_client.post(f"/api/acme/provider-accounts/{twilio_account.pk}/voice", {"enabled": "perhaps"},
                            content_type="application/json")
    assert bad.status_code == 400 and "enabled" in bad.json()
    vapi = owner_client.post(f"/api/acme/provider-accounts/{vapi_account.pk}/voice", {"enabled": True},
                             content_type="application/json")
    assert vapi.status_code == 400
    assert "The softphone works with Twilio accounts only." in vapi.content.decode()


def test_the_api_documents_the_voice_operation(owner_client):
    schema = owner_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/{org_slug}/provider-accounts/{provider_account_id}/voice"]["post"]
    assert operation["operationId"] == "provider_accounts_voice"
    assert "202" in operation["responses"]
    account = schema["components"]["schemas"]["ProviderAccountOutput"]["properties"]
    assert {"voiceStatus", "voiceError"} <= set(account) and "apiKeySecret" not in account


# The paste fields are gone ---------------------------------------------------------------------------


def test_the_connect_form_and_the_api_take_no_pasted_key_or_app(org, twilio, owner_client):
    page = owner_client.get(ACCOUNTS_PAGE).content.decode()
    for gone in ("api_key_sid", "api_key_secret", "twiml_app_sid", "API key SID", "TwiML App SID"):
        assert gone not in page
    schema = owner_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()["components"]["schemas"]
    for name in ("ProviderAccountInput", "ProviderAccountPatch", "PatchedProviderAccountPatch"):
        if name in schema:
            assert not {"apiKeySid", "apiKeySecret", "twimlAppSid"} & set(schema[name]["properties"])

    response = owner_client.post("/api/acme/provider-accounts", {
        "provider": "twilio", "accountSid": ACME_SID, "authToken": ACME_TOKEN,
        "apiKeySid": "SK" + "1" * 32, "apiKeySecret": "pasted", "twimlAppSid": "AP" + "2" * 32,
    }, content_type="application/json")
    assert response.status_code == 201
    account = account_of(org, response.json()["id"])
    assert (account.api_key_sid, account.api_key_secret, account.twiml_app_sid) == ("", None, "")
