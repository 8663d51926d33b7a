"""Thin Celery tasks of `telephony`: each loads its row under the tenant and calls one service
(tenants.tasks.row_task retries a vendor that failed for a while and ends on one that cannot help)."""

from __future__ import annotations

from celery import shared_task
from django.db import transaction

from core.vendors import ProviderError
from tenants.models import Job, Organization
from tenants.scoping import platform_scope, tenant_scope
from tenants.tasks import row_task

from .models import Call, PhoneNumber, ProviderAccount
from .services import accounts, configuring, editing, importing, live_calls, platform, sync, voice_setup


@row_task("telephony.phone_number_configure", model=PhoneNumber, key="phone_number_id",
          related=("organization", "provider_account"))
def phone_number_configure(number: PhoneNumber):
    configuring.phone_number_configure(organization=number.organization, number=number, geocode=True)


def _import_run(job: Job):
    # A transient failure retries: the job keeps its cursor and rows, so the retry resumes where
    # this attempt stopped.
    importing.phone_numbers_import_run(organization=job.organization, job_id=job.pk)


def _import_failed(job: Job, exc: ProviderError) -> None:
    importing.job_fail(organization=job.organization, job_id=job.pk, reason=exc.message)


phone_numbers_import = row_task("telephony.phone_numbers_import", model=Job, key="job_id", related=("organization",),
                                on_permanent=_import_failed)(_import_run)


@row_task("telephony.phone_number_platform_sync", model=PhoneNumber, key="phone_number_id",
          related=("organization",))
def phone_number_platform_sync(number: PhoneNumber):
    platform.phone_number_platform_sync(organization=number.organization, number_id=number.pk)


@row_task("telephony.phone_number_finish_removal", model=PhoneNumber, key="phone_number_id",
          related=("organization", "provider_account"))
def phone_number_finish_removal(number: PhoneNumber):
    editing.phone_number_finish_removal(organization=number.organization, number=number)


@row_task("telephony.provider_account_verify", model=ProviderAccount, key="provider_account_id",
          related=("organization",))
def provider_account_verify(account: ProviderAccount):
    accounts.provider_account_verify(organization=account.organization, account=account)


@row_task("telephony.provider_account_sync", model=ProviderAccount, key="provider_account_id",
          related=("organization",))
def provider_account_sync(account: ProviderAccount):
    sync.account_sync(organization=account.organization, account=account)


@row_task("telephony.call_place", model=Call, key="call_id",
          related=("organization", "agent", "phone_number__provider_account"), max_retries=0)
def call_place(call: Call):
    live_calls.call_place_run(organization=call.organization, call=call)


@row_task("telephony.call_conference_continue", model=Call, key="call_id", related=("organization",), max_retries=3)
def call_conference_continue(call: Call):
    live_calls.call_conference_continue(organization=call.organization, call=call)


# A carrier whose webhooks live on the account (Bandwidth's messaging application): pointed at us
# once connected. A failure is recorded on the account in words (webhooks_drift); a transient one retries.
@row_task("telephony.provider_account_configure", model=ProviderAccount, key="provider_account_id",
          related=("organization",))
def provider_account_configure(account: ProviderAccount):
    configuring.provider_account_configure(organization=account.organization, account=account)


# Voice set-up of a Twilio account for the softphone. The service records a failure on the account
# itself (voice_status error, the reason in words); a transient one is retried here.


@row_task("telephony.provider_account_voice_enable", model=ProviderAccount, key="provider_account_id",
          related=("organization",))
def provider_account_voice_enable(account: ProviderAccount):
    voice_setup.voice_enable(organization=account.organization, actor=None, account=account)


@row_task("telephony.provider_account_voice_disable", model=ProviderAccount, key="provider_account_id",
          related=("organization",))
def provider_account_voice_disable(account: ProviderAccount):
    voice_setup.voice_disable(organization=account.organization, actor=None, account=account)


# Platform maintenance: fan out one tenant task per account / number. Listed bypass uses.


def _each_account():
    with platform_scope():
        return list(ProviderAccount.objects.values_list("organization_id", "pk"))


@shared_task(name="telephony.provider_accounts_verify_all")
def provider_accounts_verify_all():
    for organization_id, account_id in _each_account():
        provider_account_verify.delay(organization_id=str(organization_id), provider_account_id=str(account_id))


@shared_task(name="telephony.phone_numbers_sync_all")
def phone_numbers_sync_all():
    for organization_id, account_id in _each_account():
        provider_account_sync.delay(organization_id=str(organization_id), provider_account_id=str(account_id))


@shared_task(name="telephony.platform_sync_sweep")
def platform_sync_sweep():
    """Re-send platform syncs whose task was lost while the broker or a worker was down."""
    for organization in Organization.objects.all():
        with tenant_scope(organization):
            lost = list(platform.numbers_with_lost_platform_sync(organization=organization).values_list("pk", flat=True))
        for number_id in lost:
            phone_number_platform_sync.delay(organization_id=str(organization.pk), phone_number_id=str(number_id))


@shared_task(name="telephony.import_jobs_resume_stalled")
def import_jobs_resume_stalled():
    """Resume import jobs whose worker died (no heartbeat for five minutes)."""
    for organization in Organization.objects.all():
        with tenant_scope(organization), transaction.atomic():
            stalled = list(importing.import_jobs_stalled(organization=organization).values_list("pk", flat=True))
        for job_id in stalled:
            phone_numbers_import.delay(organization_id=str(organization.pk), job_id=str(job_id))
