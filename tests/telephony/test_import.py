"""Importing an account's numbers: every page, progress, no duplicates, resumable."""

import pytest
from celery.exceptions import Retry

from telephony.models import PhoneNumber
from telephony.services import importing
from telephony.services.webhook_contract import webhook_urls
from telephony.tasks import phone_numbers_import
from tenants.models import Job, JobStatus
from tenants.scoping import tenant_scope
from tests.vendor_fixtures import ACME_SID

FIRST = "+14155550000"


def stored(org):
    with tenant_scope(org):
        return PhoneNumber.objects.count()


def job_state(org, job_id):
    with tenant_scope(org):
        return Job.objects.get(pk=job_id)


def update_requests(twilio):
    return [r for r in twilio.requests if r.method == "POST" and "/IncomingPhoneNumbers/" in r.path]


@pytest.mark.django_db
def test_import_all_over_the_api_with_progress_and_no_duplicates(owner_client, org, twilio, twilio_account,
                                                                 django_capture_on_commit_callbacks):
    twilio.add_incoming_numbers(ACME_SID, 250, start=FIRST)
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post("/api/acme/phone-numbers/import",
                                     {"providerAccountId": str(twilio_account.pk), "numbers": "all"},
                                     content_type="application/json")
    assert response.status_code == 202, response.json()
    job_id = response.json()["id"]
    progress = owner_client.get(f"/api/acme/jobs/{job_id}").json()
    assert {k: progress[k] for k in ("status", "done", "total", "percent", "created", "errors")} == {
        "status": "done", "done": 250, "total": 250, "percent": 100, "created": 250, "errors": []}
    assert stored(org) == 250
    ours = webhook_urls()
    assert all(n["sms_url"] == ours.sms_url and n["voice_url"] == ours.voice_url
               and n["status_callback"] == ours.status_callback for n in twilio.numbers(ACME_SID))
    list_calls = [r for r in twilio.requests if r.method == "GET" and r.path.endswith("IncomingPhoneNumbers.json")]
    assert len(list_calls) == 3  # pages of 100
    assert len(update_requests(twilio)) == 250

    # A second run finds everything in place: nothing created, nothing reconfigured.
    twilio.requests.clear()
    with django_capture_on_commit_callbacks(execute=True):
        again = owner_client.post("/api/acme/phone-numbers/import",
                                  {"providerAccountId": str(twilio_account.pk), "numbers": "all"},
                                  content_type="application/json")
    second = owner_client.get(f"/api/acme/jobs/{again.json()['id']}").json()
    assert (second["status"], second["created"], second["done"], second["total"]) == ("done", 0, 250, 250)
    assert stored(org) == 250
    assert update_requests(twilio) == []


@pytest.mark.django_db
def test_import_selected_numbers_reports_the_ones_not_in_the_account(owner_client, org, twilio, twilio_account,
                                                                     django_capture_on_commit_callbacks):
    twilio.add_incoming_numbers(ACME_SID, 120, start=FIRST)
    wanted = ["+14155550003", "+14155550117", "+14155559999"]
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post("/api/acme/phone-numbers/import",
                                     {"providerAccountId": str(twilio_account.pk), "numbers": wanted},
                                     content_type="application/json")
    job = owner_client.get(f"/api/acme/jobs/{response.json()['id']}").json()
    assert (job["status"], job["total"], job["done"], job["created"]) == ("done", 3, 3, 2)
    assert job["errors"] == [{"item": "+14155559999", "error": "Not a number of this Twilio account."}]
    with tenant_scope(org):
        assert sorted(PhoneNumber.objects.values_list("phone_number", flat=True)) == wanted[:2]
    assert len(update_requests(twilio)) == 2


@pytest.mark.django_db
@pytest.mark.parametrize("body, field", [
    ({"numbers": "all"}, "providerAccountId"),
    ({"providerAccountId": "00000000-0000-7000-8000-000000000000", "numbers": "all"}, "providerAccountId"),
    ({"providerAccountId": "ACCOUNT", "numbers": "some"}, "numbers"),
    ({"providerAccountId": "ACCOUNT", "numbers": []}, "numbers"),
    ({"providerAccountId": "ACCOUNT", "numbers": ["555"]}, "numbers"),
])
def test_bad_import_requests_are_400(owner_client, org, twilio_account, body, field):
    body = {k: str(twilio_account.pk) if v == "ACCOUNT" else v for k, v in body.items()}
    response = owner_client.post("/api/acme/phone-numbers/import", body, content_type="application/json")
    assert response.status_code == 400, response.json()
    assert field in response.json()
    with tenant_scope(org):
        assert not Job.objects.exists()


@pytest.mark.django_db
def test_an_interrupted_import_resumes_where_it_stopped(org, owner, twilio, twilio_account):
    twilio.add_incoming_numbers(ACME_SID, 250, start=FIRST)
    with tenant_scope(org):
        job = Job.objects.create(organization=org, kind=importing.IMPORT_JOB, created_by=owner, params={
            "provider_account_id": str(twilio_account.pk), "numbers": None, "phase": "list"})
        # Twilio fails on the second page: the first page's rows and the cursor are kept.
        twilio.fail_next(1, status=500, code=20500, message="Internal error", after=1)
        with pytest.raises(Exception, match="could not be reached|Internal error"):
            importing.phone_numbers_import_run(organization=org, job_id=job.pk)
        interrupted = Job.objects.get(pk=job.pk)
        assert interrupted.status == JobStatus.RUNNING
        assert interrupted.cursor  # where to resume
        assert PhoneNumber.objects.count() == 100

        twilio.requests.clear()
        importing.phone_numbers_import_run(organization=org, job_id=job.pk)
        finished = Job.objects.get(pk=job.pk)
    assert (finished.status, finished.total, finished.done, finished.created_count) == (JobStatus.DONE, 250, 250, 250)
    assert stored(org) == 250
    pages = [r for r in twilio.requests if r.method == "GET" and "IncomingPhoneNumbers" in r.path]
    assert len(pages) == 2  # pages two and three only


@pytest.mark.django_db
def test_the_import_page_lists_the_first_page_and_the_job_page_shows_progress(owner_client, org, twilio,
                                                                              twilio_account,
                                                                              django_capture_on_commit_callbacks):
    twilio.add_incoming_numbers(ACME_SID, 3, start=FIRST)
    page = owner_client.get(f"/o/acme/numbers/import/?account={twilio_account.pk}").content.decode()
    assert "+14155550001" in page
    assert "Import all numbers of this account" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post("/o/acme/numbers/import/start/", {"account": twilio_account.pk,
                                                                        "numbers": ["+14155550001"]})
    assert response.status_code == 302
    job_page = owner_client.get(response["Location"]).content.decode()
    assert "data-progress-url" in job_page
    assert 'data-field="done">1<' in job_page
    assert stored(org) == 1


@pytest.mark.django_db
def test_an_import_the_provider_refuses_for_good_ends_failed_with_the_reason(owner_client, org, twilio,
                                                                             twilio_account,
                                                                             django_capture_on_commit_callbacks):
    twilio.add_incoming_numbers(ACME_SID, 3, start=FIRST)
    twilio.add_account(ACME_SID, "rotated")  # the stored auth token no longer works
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post("/api/acme/phone-numbers/import",
                                     {"providerAccountId": str(twilio_account.pk), "numbers": "all"},
                                     content_type="application/json")
    assert response.status_code == 202
    failed = job_state(org, response.json()["id"])
    assert (failed.status, failed.errors) == (JobStatus.FAILED, [
        {"item": "", "error": "Twilio rejected the credentials (check the account SID and auth token)."}])
    assert failed.finished_at is not None and stored(org) == 0
    listings = [r for r in twilio.requests if r.method == "GET" and "IncomingPhoneNumbers" in r.path]
    assert len(listings) == 1  # a permanent refusal is not retried


@pytest.mark.django_db
def test_an_import_retries_a_provider_outage_and_finishes(owner_client, org, twilio, twilio_account,
                                                          django_capture_on_commit_callbacks):
    twilio.add_incoming_numbers(ACME_SID, 3, start=FIRST)
    twilio.fail_next(1, status=503, code=20503, message="Service unavailable")
    # Inline, the task's retry surfaces as Celery's Retry; the job keeps running meanwhile.
    with pytest.raises(Retry), django_capture_on_commit_callbacks(execute=True):
        owner_client.post("/api/acme/phone-numbers/import",
                          {"providerAccountId": str(twilio_account.pk), "numbers": "all"},
                          content_type="application/json")
    with tenant_scope(org):
        job = Job.objects.get()
    assert job.status == JobStatus.RUNNING

    phone_numbers_import.apply(kwargs={"organization_id": str(org.pk), "job_id": str(job.pk)}, throw=True)
    assert (job_state(org, job.pk).status, stored(org)) == (JobStatus.DONE, 3)
