"""The background work telephony's services ask for, by task name (see core.jobs). Every function
sends after the current transaction commits; the task modules are never imported from here."""

from __future__ import annotations

from core.jobs import enqueue


def phone_number_configure(organization_id, phone_number_id) -> None:
    enqueue("telephony.phone_number_configure", organization_id=str(organization_id),
            phone_number_id=str(phone_number_id))


def phone_numbers_import(organization_id, job_id) -> None:
    enqueue("telephony.phone_numbers_import", organization_id=str(organization_id), job_id=str(job_id))


def phone_number_platform_sync(organization_id, phone_number_id) -> None:
    enqueue("telephony.phone_number_platform_sync", organization_id=str(organization_id),
            phone_number_id=str(phone_number_id))


def phone_number_finish_removal(organization_id, phone_number_id) -> None:
    enqueue("telephony.phone_number_finish_removal", organization_id=str(organization_id),
            phone_number_id=str(phone_number_id))


def provider_account_sync(organization_id, provider_account_id) -> None:
    enqueue("telephony.provider_account_sync", organization_id=str(organization_id),
            provider_account_id=str(provider_account_id))


def call_conference_continue(organization_id, call_id) -> None:
    enqueue("telephony.call_conference_continue", organization_id=str(organization_id), call_id=str(call_id))


def call_place(organization_id, call_id) -> None:
    enqueue("telephony.call_place", organization_id=str(organization_id), call_id=str(call_id))


def provider_account_voice_enable(organization_id, provider_account_id) -> None:
    enqueue("telephony.provider_account_voice_enable", organization_id=str(organization_id),
            provider_account_id=str(provider_account_id))


def provider_account_voice_disable(organization_id, provider_account_id) -> None:
    enqueue("telephony.provider_account_voice_disable", organization_id=str(organization_id),
            provider_account_id=str(provider_account_id))


def provider_account_configure(organization_id, provider_account_id) -> None:
    enqueue("telephony.provider_account_configure", organization_id=str(organization_id),
            provider_account_id=str(provider_account_id))
