"""Thin Celery tasks of `telephony`: load under the tenant, call one service, classify errors."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import transaction

from core.vendors import ProviderError
from tenants.models import Organization
from tenants.scoping import platform_scope, tenant_scope
from tenants.tasks import TenantTask

from .models import PhoneNumber, Provider, ProviderAccount
from .services import accounts, numbers, platform, sync

logger = logging.getLogger(__name__)

RETRY = {"max_retries": 8, "retry_backoff": 5, "retry_backoff_max": 600, "retry_jitter": True}


def _retry_if_transient(task, exc: ProviderError):
    if exc.permanent:
        logger.warning("%s failed permanently: %s", task.name, exc)
        return None
    raise task.retry(exc=exc, countdown=min(600, 5 * 2 ** task.request.retries))


@shared_task(base=TenantTask, bind=True, name="telephony.phone_number_configure", **RETRY)
def phone_number_configure(self, *, organization_id: str, phone_number_id: str):
    number = PhoneNumber.objects.select_related("provider_account").filter(pk=phone_number_id).first()
    if number is None:
        return
    try:
        numbers.phone_number_configure(organization=number.organization, number=number, geocode=True)
    except ProviderError as exc:
        _retry_if_transient(self, exc)


@shared_task(base=TenantTask, bind=True, name="telephony.phone_numbers_import", **RETRY)
def phone_numbers_import(self, *, organization_id: str, job_id: str):
    organization = Organization.objects.get(pk=organization_id)
    try:
        numbers.phone_numbers_import_run(organization=organization, job_id=job_id)
    except ProviderError as exc:
        if exc.permanent:
            numbers.job_fail(organization=organization, job_id=job_id, reason=exc.message)
            return
        # The job keeps its cursor and rows: the retry resumes where this attempt stopped.
        raise self.retry(exc=exc, countdown=min(600, 5 * 2 ** self.request.retries)) from None


@shared_task(base=TenantTask, bind=True, name="telephony.phone_number_platform_sync", **RETRY)
def phone_number_platform_sync(self, *, organization_id: str, phone_number_id: str):
    organization = Organization.objects.get(pk=organization_id)
    if not PhoneNumber.objects.filter(pk=phone_number_id).exists():
        return
    try:
        platform.phone_number_platform_sync(organization=organization, number_id=phone_number_id)
    except ProviderError as exc:
        _retry_if_transient(self, exc)


@shared_task(base=TenantTask, bind=True, name="telephony.phone_number_finish_removal", **RETRY)
def phone_number_finish_removal(self, *, organization_id: str, phone_number_id: str):
    number = PhoneNumber.objects.select_related("provider_account").filter(pk=phone_number_id).first()
    if number is None:
        return
    try:
        numbers.phone_number_finish_removal(organization=number.organization, number=number)
    except ProviderError as exc:
        _retry_if_transient(self, exc)


@shared_task(base=TenantTask, bind=True, name="telephony.provider_account_verify", **RETRY)
def provider_account_verify(self, *, organization_id: str, provider_account_id: str):
    account = ProviderAccount.objects.filter(pk=provider_account_id).first()
    if account is None:
        return
    try:
        accounts.provider_account_verify(organization=account.organization, account=account)
    except ProviderError as exc:
        _retry_if_transient(self, exc)


@shared_task(base=TenantTask, bind=True, name="telephony.provider_account_sync", **RETRY)
def provider_account_sync(self, *, organization_id: str, provider_account_id: str):
    account = ProviderAccount.objects.filter(pk=provider_account_id).first()
    if account is None:
        return
    try:
        if account.provider == Provider.TWILIO:
            sync.provider_account_sync(organization=account.organization, account=account)
        else:
            sync.vapi_sync(organization=account.organization)
    except ProviderError as exc:
        _retry_if_transient(self, exc)


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
            stalled = list(numbers.import_jobs_stalled(organization=organization).values_list("pk", flat=True))
        for job_id in stalled:
            phone_numbers_import.delay(organization_id=str(organization.pk), job_id=str(job_id))
