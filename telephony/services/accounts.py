"""Provider accounts: connect (verified before anything is saved), update, verify, delete."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.vendors import ProviderError
from telephony import platforms, providers
from telephony.lines import lines_changed
from telephony.models import AccountStatus, NumberStatus, PhoneNumber, ProviderAccount, WebhookMode
from tenants.models import Organization
from tenants.services import audit

from .webhook_contract import new_webhook_secret


def _verify_credentials(provider: str, *, account_sid: str = "", auth_token: str = "", api_key: str = "") -> str:
    """One short call to the vendor; returns the account's name, or raises ValidationError."""
    try:
        if providers.supports(provider):
            adapter = providers.adapter_class(provider)
            problems = adapter.credential_errors(account_sid=account_sid, auth_token=auth_token)
            if problems:
                raise ValidationError(problems)
            info = providers.for_credentials(provider, account_sid=account_sid, auth_token=auth_token).verify()
            if info.status != "active":
                raise ValidationError({"account_sid": f"This {adapter.label} account is {info.status}."})
            return info.friendly_name
        if platforms.supports(provider):
            platform = platforms.adapter_class(provider)
            if not api_key:
                raise ValidationError({"api_key": f"Enter the {platform.label} private API key."})
            platforms.for_credentials(provider, api_key=api_key).verify()
            return platform.label
    except ProviderError as exc:
        raise ValidationError({"credentials": exc.message}) from None
    raise ValidationError({"provider": f"Unknown provider '{provider}'."})


def provider_account_connect(*, organization: Organization, actor, provider: str, friendly_name: str = "",
                             account_sid: str = "", auth_token: str = "", api_key_sid: str = "",
                             api_key_secret: str = "", twiml_app_sid: str = "", api_key: str = "",
                             webhook_mode: str = WebhookMode.PER_NUMBER, client=None) -> ProviderAccount:
    """Verify the credentials with the vendor, then save the account. Bad credentials save nothing."""
    account_sid = (account_sid or "").strip()
    if providers.supports(provider) and ProviderAccount.objects.filter(
        organization=organization, provider=provider, account_sid=account_sid
    ).exists():
        raise ValidationError({"account_sid": "This Twilio account is already connected."})
    vendor_name = _verify_credentials(provider, account_sid=account_sid, auth_token=auth_token, api_key=api_key)
    with transaction.atomic():
        try:
            account = ProviderAccount.objects.create(
                organization=organization, client=client, provider=provider,
                friendly_name=(friendly_name or vendor_name or provider).strip()[:200],
                account_sid=account_sid if providers.supports(provider) else "",
                auth_token=auth_token or None, api_key_sid=api_key_sid.strip(), api_key_secret=api_key_secret or None,
                twiml_app_sid=twiml_app_sid.strip(), api_key=api_key or None, webhook_mode=webhook_mode,
                # A voice-AI platform presents this to our webhook with every report of a call on
                # the organization's numbers (set on each number there when it is attached).
                webhook_secret=new_webhook_secret() if platforms.supports(provider) else None,
                status=AccountStatus.ACTIVE, last_verified_at=timezone.now(), created_by=actor,
            )
        except IntegrityError:
            raise ValidationError({"account_sid": "This Twilio account is already connected."}) from None
        audit(organization=organization, actor=actor, verb="provider_account.connected", target=account,
              data={"provider": provider, "friendly_name": account.friendly_name})
    return account


def provider_account_update(*, organization: Organization, actor, account: ProviderAccount, friendly_name=None,
                            webhook_mode=None, auth_token=None, api_key_sid=None, api_key_secret=None,
                            twiml_app_sid=None, api_key=None) -> ProviderAccount:
    """Change names and settings; new credentials are verified before they replace the old ones."""
    if auth_token or api_key:
        _verify_credentials(account.provider, account_sid=account.account_sid, auth_token=auth_token or "",
                            api_key=api_key or "")
    with transaction.atomic():
        locked = ProviderAccount.objects.select_for_update().get(organization=organization, pk=account.pk)
        changed = []
        for field, value in (("friendly_name", friendly_name), ("webhook_mode", webhook_mode),
                             ("api_key_sid", api_key_sid), ("twiml_app_sid", twiml_app_sid)):
            if value is not None and getattr(locked, field) != value:
                setattr(locked, field, value)
                changed.append(field)
        for field, value in (("auth_token", auth_token), ("api_key_secret", api_key_secret), ("api_key", api_key)):
            if value:
                setattr(locked, field, value)
                changed.append(field)
        if auth_token or api_key:
            locked.status, locked.last_error, locked.last_verified_at = AccountStatus.ACTIVE, "", timezone.now()
        if webhook_mode is not None and webhook_mode not in WebhookMode.values:
            raise ValidationError({"webhook_mode": "Choose per_number or global."})
        if changed:
            locked.save()
            if auth_token:
                lines_changed(locked.account_sid)  # webhooks signed with the old token fail at once
            # Field names only: the values of secrets never reach the history.
            audit(organization=organization, actor=actor, verb="provider_account.updated", target=locked,
                  data={"fields": changed})
    return locked


@transaction.atomic
def provider_account_delete(*, organization: Organization, actor, account: ProviderAccount) -> None:
    if providers.supports(account.provider):
        count = PhoneNumber.objects.filter(organization=organization, provider_account=account).count()
        if count:
            raise ValidationError(f"Remove this account's {count} phone number(s) first.")
    elif PhoneNumber.objects.filter(organization=organization, platform=account.provider).exclude(
        platform_id=""
    ).exists():
        raise ValidationError("Numbers are still on VAPI: assign them to people or unassign them first.")
    audit(organization=organization, actor=actor, verb="provider_account.deleted", target=account,
          data={"provider": account.provider, "friendly_name": account.friendly_name})
    ProviderAccount.objects.filter(organization=organization, pk=account.pk).delete()
    lines_changed(account.account_sid)


def provider_account_verify(*, organization: Organization, account: ProviderAccount) -> bool:
    """Re-check stored credentials (daily, from beat). A permanent failure marks the account and its
    numbers `error` with the reason; a transient one changes nothing and is raised for a retry."""
    try:
        if providers.supports(account.provider):
            info = providers.for_account(account).verify()
            label = providers.adapter_class(account.provider).label
            problem = "" if info.status == "active" else f"The {label} account is {info.status}."
        else:
            platforms.for_account(account).verify()
            problem = ""
    except ProviderError as exc:
        if not exc.permanent:
            raise
        problem = exc.message
    with transaction.atomic():
        locked = ProviderAccount.objects.select_for_update().get(organization=organization, pk=account.pk)
        numbers = PhoneNumber.objects.filter(organization=organization, provider_account=locked)
        if problem:
            locked.status, locked.last_error = AccountStatus.ERROR, problem
            locked.save(update_fields=["status", "last_error", "updated_at"])
            numbers.filter(status=NumberStatus.ACTIVE).update(
                status=NumberStatus.ERROR, status_reason=f"Account problem: {problem}", updated_at=timezone.now()
            )
            audit(organization=organization, actor=None, verb="provider_account.verification_failed",
                  target=locked, data={"reason": problem})
            return False
        was_error = locked.status == AccountStatus.ERROR
        locked.status, locked.last_error, locked.last_verified_at = AccountStatus.ACTIVE, "", timezone.now()
        locked.save(update_fields=["status", "last_error", "last_verified_at", "updated_at"])
        if was_error:
            numbers.filter(status=NumberStatus.ERROR, status_reason__startswith="Account problem").update(
                status=NumberStatus.ACTIVE, status_reason="", updated_at=timezone.now()
            )
            audit(organization=organization, actor=None, verb="provider_account.recovered", target=locked)
    return True
