"""Reconciliation with Twilio and VAPI, on demand and from beat."""

import pytest

from telephony.models import NumberStatus, PhoneNumber, PlatformState
from telephony.services import adding, assignment, importing
from telephony.services.webhook_contract import webhook_urls
from telephony.tasks import phone_numbers_sync_all, provider_accounts_verify_all
from tenants.scoping import tenant_scope
from tests.vendor_fixtures import ACME_SID, ACME_TOKEN

FIRST, SECOND = "+14155550142", "+14155550143"


@pytest.fixture
def two_numbers(org, owner, twilio, twilio_account, run_on_commit):
    made = []
    for phone in (FIRST, SECOND):
        twilio.add_incoming_number(ACME_SID, phone)
        with tenant_scope(org):
            made.append(run_on_commit(adding.phone_number_add, organization=org, actor=owner, provider="twilio",
                                      phone_number=phone, account_sid=ACME_SID, auth_token=ACME_TOKEN))
    return made


def state(org):
    with tenant_scope(org):
        return {n.phone_number: (n.status, n.webhook_drift) for n in PhoneNumber.objects.all()}


@pytest.mark.django_db
def test_sync_from_the_page_finds_released_numbers_and_changed_webhooks(owner_client, org, twilio, twilio_account,
                                                                        two_numbers,
                                                                        django_capture_on_commit_callbacks):
    first, second = two_numbers
    twilio.release(ACME_SID, first.provider_sid)
    twilio.update_number(ACME_SID, second.provider_sid, sms_url="https://someone-else.example.com/sms")
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(f"/o/acme/numbers/accounts/{twilio_account.pk}/sync/", follow=True)
    assert "Checking" in response.content.decode()
    after = state(org)
    assert after[FIRST][0] == NumberStatus.INACTIVE
    assert after[SECOND] == (NumberStatus.ACTIVE, "SMS URL is https://someone-else.example.com/sms")
    page = owner_client.get("/o/acme/numbers/").content.decode()
    assert "Changed" in page

    # One click repairs it.
    owner_client.post(f"/o/acme/numbers/{second.pk}/repair/")
    assert state(org)[SECOND] == (NumberStatus.ACTIVE, "")
    assert twilio.number(ACME_SID, second.provider_sid)["sms_url"] == webhook_urls().sms_url


@pytest.mark.django_db
def test_beat_syncs_every_account_of_every_organization(org, twilio, twilio_account, two_numbers):
    twilio.release(ACME_SID, two_numbers[0].provider_sid)
    phone_numbers_sync_all.apply(throw=True)
    assert state(org)[FIRST][0] == NumberStatus.INACTIVE
    assert state(org)[SECOND][0] == NumberStatus.ACTIVE


@pytest.mark.django_db
def test_beat_verifies_every_account_daily(org, twilio, twilio_account):
    twilio.add_account(ACME_SID, "rotated")
    provider_accounts_verify_all.apply(throw=True)
    with tenant_scope(org):
        twilio_account.refresh_from_db()
    assert twilio_account.status == "error"


@pytest.mark.django_db
def test_a_number_deleted_in_vapi_behind_our_back_is_flagged(owner_client, org, owner, twilio, two_numbers, vapi,
                                                             vapi_account, ai_agent, run_on_commit,
                                                             django_capture_on_commit_callbacks):
    number = two_numbers[0]
    with tenant_scope(org):
        run_on_commit(assignment.phone_number_assign, organization=org, actor=owner, number=number, agent=ai_agent)
    [on_vapi] = vapi.phone_numbers()
    vapi.delete_behind_our_back(on_vapi["id"])
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(f"/o/acme/numbers/accounts/{vapi_account.pk}/sync/")
    with tenant_scope(org):
        flagged = PhoneNumber.objects.get(pk=number.pk)
    assert (flagged.platform_state, flagged.platform_error) == (PlatformState.ERROR, "Deleted in VAPI behind our back.")
    page = owner_client.get(f"/o/acme/numbers/{number.pk}/").content.decode()
    assert "Deleted in VAPI behind our back." in page

    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(f"/o/acme/numbers/{number.pk}/platform-sync/")
    assert len(vapi.phone_numbers()) == 1
    with tenant_scope(org):
        assert PhoneNumber.objects.get(pk=number.pk).platform_state == PlatformState.SYNCED


@pytest.mark.django_db
def test_repairing_a_number_released_in_twilio_answers_404_and_marks_it_inactive(owner_client, org, twilio,
                                                                                  two_numbers):
    first = two_numbers[0]
    twilio.release(ACME_SID, first.provider_sid)
    response = owner_client.post(f"/api/acme/phone-numbers/{first.pk}/repair-webhooks")
    assert response.status_code == 400
    assert response.json()["detail"] == [
        "This number is no longer in the Twilio account (released); it is now inactive."]
    assert state(org)[FIRST][0] == NumberStatus.INACTIVE
    update = [r for r in twilio.requests if r.method == "POST" and first.provider_sid in r.path][-1]
    assert update.account_sid == ACME_SID


@pytest.mark.django_db
def test_a_stalled_import_is_resumed_by_beat(org, owner, twilio, twilio_account):
    from datetime import timedelta

    from django.utils import timezone

    from telephony.tasks import import_jobs_resume_stalled
    from tenants.models import Job, JobStatus

    twilio.add_incoming_numbers(ACME_SID, 30, start="+14155550000")
    with tenant_scope(org):
        job = Job.objects.create(organization=org, kind=importing.IMPORT_JOB, status=JobStatus.RUNNING,
                                 heartbeat_at=timezone.now() - timedelta(minutes=10), params={
                                     "provider_account_id": str(twilio_account.pk), "numbers": None, "phase": "list"})
    import_jobs_resume_stalled.apply(throw=True)
    with tenant_scope(org):
        job.refresh_from_db()
        assert (job.status, job.done, job.created_count) == (JobStatus.DONE, 30, 30)


OLD_STATUS_PATH = "/webhooks/twilio/messages/status/"  # the number-level status callback before voice


@pytest.mark.django_db
def test_a_number_still_as_an_older_release_set_it_is_configured_again_not_called_drifted(
        org, twilio, twilio_account, two_numbers, django_capture_on_commit_callbacks):
    """Numbers configured before the status callback became voice's still have the old one, exactly
    as we set it: sync configures them again (no "Changed", no button to press); a number someone
    changed behind our back is still drift."""
    from django.conf import settings

    first, second = two_numbers
    old = settings.PUBLIC_BASE_URL + OLD_STATUS_PATH
    with tenant_scope(org):
        PhoneNumber.objects.filter(pk__in=[first.pk, second.pk]).update(status_callback_url=old)
    twilio.update_number(ACME_SID, first.provider_sid, status_callback=old)
    twilio.update_number(ACME_SID, second.provider_sid, status_callback="https://someone-else.example.com/status")
    with django_capture_on_commit_callbacks(execute=True):
        phone_numbers_sync_all.apply(throw=True)
    assert twilio.number(ACME_SID, first.provider_sid)["status_callback"] == webhook_urls().status_callback
    after = state(org)
    assert after[FIRST] == (NumberStatus.ACTIVE, "")
    assert after[SECOND] == (NumberStatus.ACTIVE, "status callback is https://someone-else.example.com/status")
    with tenant_scope(org):
        assert PhoneNumber.objects.get(pk=first.pk).status_callback_url == webhook_urls().status_callback
