"""`row_task`: the task boilerplate written once (load the row under the tenant, end if it is gone,
retry a vendor that failed for a while with backoff, end on one that cannot help).

The probe task runs through Celery's own execution path (`.apply()`, retries included) inside its
tenant, on a real row of the database."""

from __future__ import annotations

import uuid

import pytest

from core.vendors import ProviderError
from softphone import celery_app
from tenants.models import Job
from tenants.scoping import tenant_scope
from tenants.tasks import retry_countdown, row_task

SEEN: list[tuple] = []  # what the body and the hook were called with, in order
FAILURES: list[ProviderError] = []  # what the body raises on its next calls (then it succeeds)


def _body(job: Job):
    SEEN.append(("body", job.pk, job.kind))
    if FAILURES:
        raise FAILURES.pop(0)
    return "done"


def _on_permanent(job: Job, exc: ProviderError) -> None:
    SEEN.append(("on_permanent", job.pk, exc.message))


probe = row_task("tests.row_task_probe", model=Job, key="job_id", on_permanent=_on_permanent)(_body)
short_probe = row_task("tests.row_task_short_probe", model=Job, key="job_id", on_permanent=_on_permanent,
                       max_retries=2)(_body)


@pytest.fixture(autouse=True)
def _fresh_probe(_celery_eager):
    # Tasks run inline here; their failures are kept in the result (as a worker keeps them) so that
    # Celery runs each retry at once, as a worker would after its countdown.
    previous = celery_app.conf.task_eager_propagates
    celery_app.conf.task_eager_propagates = False
    SEEN.clear()
    FAILURES.clear()
    yield
    FAILURES.clear()
    celery_app.conf.task_eager_propagates = previous


@pytest.fixture
def job(org, owner):
    with tenant_scope(org):
        return Job.objects.create(organization=org, kind="probe.job", created_by=owner)


def run(task, organization, job_id):
    return task.apply(kwargs={"organization_id": str(organization.pk), "job_id": str(job_id)})


@pytest.mark.django_db
def test_the_body_gets_the_row_loaded_inside_its_tenant(org, job):
    assert run(probe, org, job.pk).get() == "done"
    assert SEEN == [("body", job.pk, "probe.job")]


@pytest.mark.django_db
def test_a_row_that_is_gone_ends_the_task_without_calling_the_body(org, job):
    assert run(probe, org, uuid.uuid4()).get() == "gone"
    assert SEEN == []


@pytest.mark.django_db
def test_another_organizations_row_is_gone_for_this_organizations_task(org, other_org, outsider):
    with tenant_scope(other_org):
        theirs = Job.objects.create(organization=other_org, kind="probe.job", created_by=outsider)
    assert run(probe, org, theirs.pk).get() == "gone"
    assert SEEN == []


@pytest.mark.django_db
def test_a_transient_failure_is_retried_with_backoff_until_it_works(org, job, monkeypatch):
    FAILURES.extend([ProviderError("Vendor down", permanent=False), ProviderError("Still down", permanent=False)])
    countdowns = []
    retry = probe.retry
    monkeypatch.setattr(probe, "retry", lambda *a, **kw: countdowns.append(kw["countdown"]) or retry(*a, **kw))

    assert run(probe, org, job.pk).get() == "done"

    assert SEEN == [("body", job.pk, "probe.job")] * 3  # two failures, then the call that worked
    assert not FAILURES
    assert countdowns == [retry_countdown(0), retry_countdown(1)] == [5, 10]
    assert [retry_countdown(n) for n in (6, 7, 12)] == [320, 600, 600]  # capped at ten minutes


@pytest.mark.django_db
def test_a_permanent_failure_calls_on_permanent_once_and_ends_without_retrying(org, job, monkeypatch):
    FAILURES.append(ProviderError("The credentials were rejected.", permanent=True))
    monkeypatch.setattr(probe, "retry", lambda *a, **kw: pytest.fail("a permanent failure was retried"))

    assert run(probe, org, job.pk).get() == "failed"

    assert SEEN == [("body", job.pk, "probe.job"), ("on_permanent", job.pk, "The credentials were rejected.")]


@pytest.mark.django_db
def test_a_gone_vendor_resource_counts_as_permanent(org, job):
    FAILURES.append(ProviderError("No such number at the vendor.", permanent=False, gone=True))
    assert run(probe, org, job.pk).get() == "failed"
    assert SEEN[-1] == ("on_permanent", job.pk, "No such number at the vendor.")


@pytest.mark.django_db
def test_a_vendor_that_never_comes_back_fails_the_task_after_the_last_retry(org, job):
    FAILURES.extend([ProviderError("Vendor down", permanent=False)] * 5)
    result = run(short_probe, org, job.pk)
    assert result.failed() and "Vendor down" in str(result.result)
    assert len(SEEN) == 3  # the first try and max_retries=2 retries
    assert all(kind == "body" for kind, *_ in SEEN)  # on_permanent is for permanent failures only
