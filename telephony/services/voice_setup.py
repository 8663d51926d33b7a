"""Voice set-up of a Twilio account for the browser softphone, without copying ids.

Turning voice on creates, through Twilio's API, a TwiML App whose voice URL is our outbound route
and an API key that signs the softphone's access tokens; Twilio shows the key's secret once, in
its answer, and it is kept encrypted on the account. Turning voice off deletes both at Twilio.

A manager (or connecting an account) asks for it (`voice_request`); a worker does it
(`voice_enable` / `voice_disable`, from telephony.tasks), holding the account's row so two of
them never create two apps. Both are idempotent: enabling a ready account does nothing, and
enabling after a failure first removes what the failed attempt left at Twilio. The secret never
leaves the account row: not in a task's arguments, a log line, a message or the history.
"""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.db import transaction

from core.vendors import ProviderError
from telephony import jobs
from telephony.models import ProviderAccount, VoiceStatus
from telephony.providers import VOICE_ADAPTERS, voice_for_account
from telephony.providers.voice import VoiceSetupIncomplete
from tenants.models import Organization
from tenants.services import audit

from .webhook_contract import voice_url

logger = logging.getLogger(__name__)

VOICE_FIELDS = ["twiml_app_sid", "api_key_sid", "api_key_secret", "voice_status", "voice_error", "updated_at"]


def voice_possible(account: ProviderAccount) -> bool:
    """Whether the account's carrier takes calls in the browser softphone (Twilio does, VAPI does not)."""
    return account.provider in VOICE_ADAPTERS


def has_leftovers(account: ProviderAccount) -> bool:
    """Whether Twilio may still hold an app or key of ours for this account."""
    return bool(account.twiml_app_sid or account.api_key_sid)


def is_ready(account: ProviderAccount) -> bool:
    return (account.voice_status == VoiceStatus.READY and bool(account.twiml_app_sid and account.api_key_sid)
            and bool(account.api_key_secret))


def voice_request(*, organization: Organization, actor, account: ProviderAccount, enabled: bool) -> bool:
    """Ask for the softphone's set-up on this account (`enabled`) or for its removal. A worker does
    the work once the current transaction commits. Returns False when nothing needed asking (it is
    already so)."""
    if not voice_possible(account):
        raise ValidationError("The softphone works with Twilio accounts only.")
    if enabled and not account.auth_token:
        raise ValidationError("This Twilio account has no auth token, so the softphone cannot be set up.")
    if enabled and is_ready(account):
        return False
    if not enabled and account.voice_status == VoiceStatus.OFF and not has_leftovers(account):
        return False
    with transaction.atomic():
        audit(organization=organization, actor=actor, target=account,
              verb="provider_account.voice_requested" if enabled else "provider_account.voice_off_requested")
        if enabled:
            jobs.provider_account_voice_enable(organization.pk, account.pk)
        else:
            jobs.provider_account_voice_disable(organization.pk, account.pk)
    return True


def _locked(organization: Organization, account: ProviderAccount) -> ProviderAccount | None:
    return (ProviderAccount.objects.select_for_update().select_related("organization")
            .filter(organization=organization, pk=account.pk).first())


def _app_name(organization: Organization) -> str:
    return f"Softphone ({organization.name})"[:64]


def voice_enable(*, organization: Organization, actor, account: ProviderAccount) -> ProviderAccount:
    """Create the TwiML App and the API key at Twilio and keep them on the account (voice ready).

    On failure the account shows why (voice_status error, voice_error in words) and the error is
    raised (a worker retries what can be retried). What a failed attempt could not remove at
    Twilio stays named on the account, and the next attempt removes it first."""
    failure = None
    with transaction.atomic():
        locked = _locked(organization, account)
        if locked is None:  # deleted meanwhile
            return account
        if is_ready(locked):
            return locked
        try:
            carrier = voice_for_account(locked)
            if has_leftovers(locked):
                carrier.voice_deprovision(twiml_app_sid=locked.twiml_app_sid, api_key_sid=locked.api_key_sid)
                locked.twiml_app_sid, locked.api_key_sid, locked.api_key_secret = "", "", None
            setup = carrier.voice_provision(voice_url=voice_url("outbound"), status_url=voice_url("status"),
                                            friendly_name=_app_name(organization))
        except ProviderError as exc:
            failure = exc
            if isinstance(exc, VoiceSetupIncomplete):
                locked.twiml_app_sid = exc.twiml_app_sid or locked.twiml_app_sid
                locked.api_key_sid = exc.api_key_sid or locked.api_key_sid
            locked.voice_status, locked.voice_error = VoiceStatus.ERROR, exc.message
            locked.save(update_fields=VOICE_FIELDS)
            audit(organization=organization, actor=actor, verb="provider_account.voice_failed", target=locked,
                  data={"reason": exc.message})
        else:
            locked.twiml_app_sid, locked.api_key_sid = setup.twiml_app_sid, setup.api_key_sid
            locked.api_key_secret = setup.api_key_secret
            locked.voice_status, locked.voice_error = VoiceStatus.READY, ""
            try:
                locked.save(update_fields=VOICE_FIELDS)
                # The ids only: the secret never reaches the history.
                audit(organization=organization, actor=actor, verb="provider_account.voice_enabled", target=locked,
                      data={"twiml_app_sid": setup.twiml_app_sid, "api_key_sid": setup.api_key_sid})
            except Exception:
                # Nothing here will know these: take them back at Twilio before giving up.
                _deprovision_quietly(locked, setup.twiml_app_sid, setup.api_key_sid)
                raise
    if failure is not None:
        raise failure
    return locked


def voice_disable(*, organization: Organization, actor, account: ProviderAccount) -> ProviderAccount:
    """Delete the account's TwiML App and API key at Twilio and forget them (voice off). What Twilio
    no longer has counts as deleted. On failure the ids stay, the account shows why, and the error
    is raised (turning voice off again, or setting it up again, finishes the job)."""
    failure = None
    with transaction.atomic():
        locked = _locked(organization, account)
        if locked is None:
            return account
        if locked.voice_status == VoiceStatus.OFF and not has_leftovers(locked):
            return locked
        removed = {"twiml_app_sid": locked.twiml_app_sid, "api_key_sid": locked.api_key_sid}
        try:
            if has_leftovers(locked):
                voice_for_account(locked).voice_deprovision(twiml_app_sid=locked.twiml_app_sid,
                                                            api_key_sid=locked.api_key_sid)
        except ProviderError as exc:
            failure = exc
            locked.voice_status = VoiceStatus.ERROR
            locked.voice_error = f"Turning voice off did not finish: {exc.message}"
            locked.save(update_fields=VOICE_FIELDS)
            audit(organization=organization, actor=actor, verb="provider_account.voice_off_failed", target=locked,
                  data={"reason": exc.message})
        else:
            locked.twiml_app_sid, locked.api_key_sid, locked.api_key_secret = "", "", None
            locked.voice_status, locked.voice_error = VoiceStatus.OFF, ""
            locked.save(update_fields=VOICE_FIELDS)
            audit(organization=organization, actor=actor, verb="provider_account.voice_disabled", target=locked,
                  data=removed)
    if failure is not None:
        raise failure
    return locked


def voice_teardown(account: ProviderAccount) -> str:
    """Best effort, for an account about to be deleted: remove its app and key at Twilio. Returns
    '' when nothing is left there, else why it could not be done (the caller goes ahead anyway)."""
    if not (voice_possible(account) and has_leftovers(account)):
        return ""
    try:
        voice_for_account(account).voice_deprovision(twiml_app_sid=account.twiml_app_sid,
                                                     api_key_sid=account.api_key_sid)
    except ProviderError as exc:
        logger.warning("voice teardown of account %s left its app and key at Twilio: %s", account.pk, exc)
        return exc.message
    return ""


def _deprovision_quietly(account: ProviderAccount, twiml_app_sid: str, api_key_sid: str) -> None:
    try:
        voice_for_account(account).voice_deprovision(twiml_app_sid=twiml_app_sid, api_key_sid=api_key_sid)
    except ProviderError as exc:
        logger.warning("voice set-up of account %s: could not take back %s and %s at Twilio: %s", account.pk,
                       twiml_app_sid, api_key_sid, exc)
