"""Import an account's numbers: a resumable background job (list the account's numbers page by page,
then point their webhooks at us), and the import page's pages to choose them from."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.phones import to_e164
from core.vendors import ProviderError
from telephony import jobs, providers
from telephony.models import NumberStatus, PhoneNumber, ProviderAccount, WebhookMode
from telephony.providers.base import IncomingNumber, NumberPage, WebhookUrls
from tenants.models import Job, JobStatus, Organization
from tenants.services import audit, audit_many

from .records import attrs_from_remote
from .webhook_contract import drift_of, takes_voice, webhook_urls

IMPORT_JOB = "phone_numbers.import"


def phone_number_import_start(*, organization: Organization, actor, account: ProviderAccount,
                              numbers: list[str] | str) -> Job:
    """Start importing the account's numbers: ``"all"`` or a list of E.164 numbers."""
    if not providers.supports(account.provider):
        raise ValidationError({"provider_account_id": "Numbers are imported from a Twilio account."})
    if numbers == "all":
        selected = None
    elif isinstance(numbers, list) and numbers:
        selected = sorted({to_e164(n, field="numbers") for n in numbers})
    else:
        raise ValidationError({"numbers": 'Send a list of numbers, or "all".'})
    with transaction.atomic():
        job = Job.objects.create(
            organization=organization, kind=IMPORT_JOB, created_by=actor,
            params={"provider_account_id": str(account.pk), "numbers": selected, "phase": "list"},
            total=len(selected) if selected else None,
        )
        audit(organization=organization, actor=actor, verb="phone_numbers.import_started", target=account,
              data={"job": str(job.pk), "numbers": "all" if selected is None else len(selected)})
        jobs.phone_numbers_import(organization.pk, job.pk)
    return job


def _claim_job(organization, job_id) -> Job | None:
    """Mark the job running (or resume it); None if it already finished."""
    now = timezone.now()
    updated = Job.objects.filter(organization=organization, pk=job_id,
                                 status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).update(
        status=JobStatus.RUNNING, heartbeat_at=now, started_at=now)
    return Job.objects.get(organization=organization, pk=job_id) if updated else None


def phone_numbers_import_run(*, organization: Organization, job_id) -> Job | None:
    """Run (or resume) an import job. Phase 1 lists the account's numbers page by page, creating
    missing rows (the cursor is saved after every page); phase 2 points the webhooks of the rows
    that are not yet ours at us, a batch at a time. Both phases are idempotent."""
    job = _claim_job(organization, job_id)
    if job is None:
        return None
    account = ProviderAccount.objects.get(organization=organization, pk=job.params["provider_account_id"])
    adapter = providers.for_account(account)
    selected = set(job.params["numbers"]) if job.params.get("numbers") else None
    if job.params.get("phase") == "list":
        _import_list_phase(organization, job, account, adapter, selected)
    _import_configure_phase(organization, job, account, adapter, selected)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.DONE, finished_at=timezone.now(), heartbeat_at=timezone.now())
    job.refresh_from_db()
    audit(organization=organization, actor=job.created_by, verb="phone_numbers.import_finished", target=account,
          data={"job": str(job.pk), "created": job.created_count, "total": job.total, "errors": len(job.errors)})
    return job


def _import_list_phase(organization, job, account, adapter, selected) -> None:
    cursor = job.cursor or None
    seen = job.params.get("seen", 0)
    while True:
        page = adapter.incoming_numbers_page(cursor, page_size=100)
        wanted = [n for n in page.numbers if selected is None or n.phone_number in selected]
        created, errors = _upsert_page(organization, account, wanted, job)
        seen += len(wanted)
        cursor = page.next_cursor
        with transaction.atomic():
            locked = Job.objects.select_for_update().get(pk=job.pk)
            locked.cursor = cursor or ""
            locked.created_count = F("created_count") + created
            locked.errors = (locked.errors + errors)[:500]
            locked.params = {**locked.params, "seen": seen, "phase": "list" if cursor else "configure"}
            if selected is None:
                locked.total = seen
            locked.heartbeat_at = timezone.now()
            locked.save()
        if not cursor:
            break
    if selected is not None:
        missing = selected - set(PhoneNumber.objects.filter(organization=organization, provider_account=account,
                                                            phone_number__in=selected).values_list("phone_number",
                                                                                                   flat=True))
        if missing:
            job.refresh_from_db()
            errors = [{"item": n, "error": "Not a number of this Twilio account."} for n in sorted(missing)]
            Job.objects.filter(pk=job.pk).update(errors=(job.errors + errors)[:500],
                                                 params={**job.params, "missing": len(missing)})
    job.refresh_from_db()


def _upsert_page(organization, account, remotes: list[IncomingNumber], job) -> tuple[int, list[dict]]:
    """Create the numbers we do not have yet; refresh the ones we have. Returns (created, errors)."""
    if not remotes:
        return 0, []
    ours = {n.phone_number: n for n in PhoneNumber.objects.filter(
        organization=organization, phone_number__in=[r.phone_number for r in remotes])}
    new, errors = [], []
    now = timezone.now()
    for remote in remotes:
        try:
            e164 = to_e164(remote.phone_number)
        except ValidationError:
            errors.append({"item": remote.phone_number, "error": "Not a valid E.164 number."})
            continue
        attrs = attrs_from_remote(remote, e164, geocode=True)  # runs in a worker
        existing = ours.get(e164)
        if existing is not None:
            if existing.provider_account_id != account.pk:
                errors.append({"item": e164, "error": "Already imported from another account."})
            continue
        already_ours = drift_of(PhoneNumber(), remote, account) == ""
        new.append(PhoneNumber(
            organization=organization, provider_account=account, provider=account.provider, phone_number=e164,
            client=account.client, source="imported", previous_sms_url=remote.sms_url[:500],
            previous_voice_url=remote.voice_url[:500], last_verified_at=now,
            webhook_configured=already_ours, **attrs,
        ))
    created = 0
    if new:
        PhoneNumber.objects.bulk_create(new, ignore_conflicts=True)
        stored_rows = list(PhoneNumber.objects.filter(
            organization=organization, phone_number__in=[n.phone_number for n in new], created_at__gte=now))
        stored = {n.phone_number for n in stored_rows}
        created = len(stored)
        audit_many(organization=organization, actor=job.created_by, verb="phone_number.imported",
                   targets=stored_rows, data={"job": str(job.pk), "account": account.friendly_name})
        errors += [{"item": n.phone_number, "error": "Already connected to another organization."}
                   for n in new if n.phone_number not in stored]
    return created, errors


def _import_configure_phase(organization, job, account, adapter, selected) -> None:
    pending = PhoneNumber.objects.filter(organization=organization, provider_account=account,
                                         status=NumberStatus.ACTIVE)
    if selected is not None:
        pending = pending.filter(phone_number__in=selected)
    total_in_scope = pending.count()
    if account.webhook_mode == WebhookMode.GLOBAL:
        Job.objects.filter(pk=job.pk).update(done=job.params.get("missing", 0) + total_in_scope,
                                             heartbeat_at=timezone.now())
        return
    ours = webhook_urls(account.provider)
    # Progress restarts from what is already true, so a resumed job counts nothing twice.
    already = total_in_scope - pending.filter(webhook_configured=False).count()
    Job.objects.filter(pk=job.pk).update(done=job.params.get("missing", 0) + already, heartbeat_at=timezone.now())
    workers = max(1, settings.NUMBER_IMPORT_CONCURRENCY)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="number-import") as pool:
        while True:
            batch = list(pending.filter(webhook_configured=False).order_by("phone_number")[:100])
            if not batch:
                break
            results = list(pool.map(lambda n: _configure_one(adapter, n, ours), batch))
            configured = [n.pk for n, error in zip(batch, results, strict=True) if error is None]
            failed = [(n, error) for n, error in zip(batch, results, strict=True) if error is not None]
            now = timezone.now()
            with transaction.atomic():
                PhoneNumber.objects.filter(organization=organization, pk__in=configured).update(
                    webhook_configured=True, sms_url=ours.sms_url, status_callback_url=ours.status_callback,
                    webhook_drift="", last_verified_at=now, updated_at=now)
                PhoneNumber.objects.filter(organization=organization, pk__in=configured, platform_id="").update(
                    voice_url=ours.voice_url)
                for number, error in failed:
                    PhoneNumber.objects.filter(organization=organization, pk=number.pk).update(
                        status=NumberStatus.ERROR, status_reason=error, updated_at=now)
                locked = Job.objects.select_for_update().get(pk=job.pk)
                locked.done = F("done") + len(batch)
                locked.errors = (locked.errors + [{"item": n.phone_number, "error": e} for n, e in failed])[:500]
                locked.heartbeat_at = now
                locked.save()


def _configure_one(adapter, number: PhoneNumber, ours: WebhookUrls) -> str | None:
    """Runs in a pool thread: vendor I/O only, no database."""
    try:
        adapter.configure_webhooks(number.provider_sid, ours, voice=takes_voice(number))
    except ProviderError as exc:
        return exc.message
    return None


def import_jobs_stalled(*, organization: Organization, older_than: timedelta = timedelta(minutes=5)):
    return Job.objects.filter(organization=organization, kind=IMPORT_JOB, status=JobStatus.RUNNING,
                              heartbeat_at__lt=timezone.now() - older_than)


def job_fail(*, organization: Organization, job_id, reason: str) -> None:
    Job.objects.filter(organization=organization, pk=job_id).update(
        status=JobStatus.FAILED, finished_at=timezone.now(),
        errors=[{"item": "", "error": reason}])


# Choosing what to import: one page of the account's numbers at a time (a page never waits for more).
#
# The import page's "next page" links carry the provider's cursor inside a token we sign, bound to
# the organization and the account: a link cannot point the account's credentials at another URL,
# nor show one organization's (or account's) numbers with another's. Tokens last a day.
PAGE_TOKEN_SALT = "telephony.number-import-page"
PAGE_TOKEN_SECONDS = 24 * 3600


class InvalidPageToken(ValidationError):
    """A page link we did not issue for this account (changed, expired, or another account's)."""


def _page_token(account: ProviderAccount, cursor: str) -> str:
    return signing.dumps({"org": str(account.organization_id), "account": str(account.pk), "cursor": cursor},
                         salt=PAGE_TOKEN_SALT, compress=True)


def _page_cursor(account: ProviderAccount, token: str) -> str:
    try:
        value = signing.loads(token, salt=PAGE_TOKEN_SALT, max_age=PAGE_TOKEN_SECONDS)
    except signing.BadSignature:  # also SignatureExpired
        value = None
    if (not isinstance(value, dict) or value.get("org") != str(account.organization_id)
            or value.get("account") != str(account.pk) or not isinstance(value.get("cursor"), str)):
        raise InvalidPageToken("This page link is not valid for this account (it was changed, has expired, or "
                               "belongs to another account). Start again from the first page.")
    return value["cursor"]


def account_numbers_page(*, account: ProviderAccount, page_token: str | None = None) -> NumberPage:
    """One page of the numbers the account owns at the provider, for choosing what to import.

    ``page_token`` is the ``next_cursor`` of the page before, as returned here: a token we signed,
    never a URL. A token we did not issue for this account raises ``InvalidPageToken``."""
    cursor = _page_cursor(account, page_token) if page_token else None
    try:
        page = providers.for_account(account).incoming_numbers_page(cursor, page_size=100)
    except ProviderError as exc:
        raise ValidationError(exc.message) from None
    next_token = _page_token(account, page.next_cursor) if page.next_cursor else None
    return dataclasses.replace(page, next_cursor=next_token)
