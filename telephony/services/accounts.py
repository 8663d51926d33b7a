"""Provider accounts: connect (verified before anything is saved), update, verify, delete.

A connected Twilio account gets its softphone set up by a worker (voice_setup); deleting one
removes that set-up at Twilio first, as well as it can."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.vendors import ProviderError
from telephony import jobs, platforms, providers
from telephony.lines import lines_changed
from telephony.models import AccountStatus, NumberStatus, PhoneNumber, ProviderAccount, WebhookMode
from tenants.models import Organization
from tenants.services import audit

from . import voice_setup
from .configuring import provider_account_restore_webhooks
from .webhook_contract import new_webhook_secret


def _verify_credentials(provider: str, fields: dict[str, str], *, api_key: str = "") -> str:
    """One short call to the vendor with a numbers provider's account `fields` (or a platform's
    `api_key`); returns the account's name, or raises ValidationError."""
    try:
        if providers.supports(provider):
            adapter = providers.adapter_class(provider)
            problems = adapter.credential_errors(**fields)
            if problems:
                raise ValidationError(problems)
            info = providers.for_credentials(provider, **fields).verify()
            if info.status != "active":
                raise ValidationError({_id_input(provider): f"This {adapter.label} account is {info.status}."})
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


def account_fields(provider: str, credentials: dict[str, str]) -> dict[str, str]:
    """What a person typed to connect a numbers provider's account, as ProviderAccount fields."""
    return providers.adapter_class(provider).account_fields(credentials)


def _id_input(provider: str) -> str:
    """The input a carrier's account is identified by (Twilio's account_sid, Vonage's api_key)."""
    fields = providers.adapter_class(provider).credential_fields
    return next((name for name, field in fields.items() if field == "account_sid"), "credentials")


def _already(provider: str) -> ValidationError:
    return ValidationError({_id_input(provider): f"This {providers.adapter_class(provider).label} account is "
                                                 "already connected."})


def provider_account_connect(*, organization: Organization, actor, provider: str, friendly_name: str = "",
                             webhook_mode: str = WebhookMode.PER_NUMBER, client=None,
                             **credentials: str) -> ProviderAccount:
    """Verify the credentials with the vendor, then save the account. Bad credentials save nothing.

    `credentials` are what a person typed, by the names the carrier's adapter takes
    (`credential_fields`: Twilio's account_sid and auth_token, Vonage's api_key, api_secret and
    signature_secret, Bandwidth's account_id, username, password and application_id), or a voice-AI
    platform's api_key. A Twilio account's softphone is then set up through Twilio's API, and a
    carrier whose webhooks live on the account (Bandwidth's messaging application) is pointed at us,
    in a worker."""
    api_key = (credentials.get("api_key") or "").strip()
    fields = account_fields(provider, credentials) if providers.supports(provider) else {}
    if fields and ProviderAccount.objects.filter(
        organization=organization, provider=provider, account_sid=fields.get("account_sid", "")
    ).exists():
        raise _already(provider)
    vendor_name = _verify_credentials(provider, fields, api_key=api_key)
    with transaction.atomic():
        try:
            account = ProviderAccount.objects.create(
                organization=organization, client=client, provider=provider,
                friendly_name=(friendly_name or vendor_name or provider).strip()[:200],
                api_key=(api_key or None) if not fields else None, webhook_mode=webhook_mode,
                status=AccountStatus.ACTIVE, last_verified_at=timezone.now(), created_by=actor,
                **{"webhook_secret": None,
                   # A voice-AI platform presents this to our webhook with every report of a call on
                   # the organization's numbers (set on each number there when it is attached).
                   **({"webhook_secret": new_webhook_secret()} if platforms.supports(provider) else {}),
                   **{name: value or (None if name in SECRET_FIELDS else "") for name, value in fields.items()}},
            )
        except IntegrityError:
            raise _already(provider) from None
        audit(organization=organization, actor=actor, verb="provider_account.connected", target=account,
              data={"provider": provider, "friendly_name": account.friendly_name})
        if voice_setup.voice_possible(account):
            voice_setup.voice_request(organization=organization, actor=actor, account=account, enabled=True)
        if fields and providers.adapter_class(provider).account_webhooks_kind:
            jobs.provider_account_configure(organization.pk, account.pk)
    return account


# ProviderAccount's encrypted fields: None when empty, never ''.
SECRET_FIELDS = frozenset({"auth_token", "api_key", "api_key_secret", "webhook_secret"})


# What a connected carrier account may have changed: its secrets and how they are used, never the
# account it is (its id, Bandwidth's application: another account is another connection).
ROTATABLE = frozenset({"auth_token", "webhook_secret", "signature_method", "api_username"})


def _rotated(account: ProviderAccount, credentials: dict[str, str]) -> dict[str, str]:
    """The ProviderAccount fields `credentials` (input names, as the carrier's adapter takes them; or
    auth_token, Twilio's name, for any carrier's API secret) would change."""
    if not providers.supports(account.provider):
        return {}
    adapter = providers.adapter_class(account.provider)
    changes = {}
    given = set(adapter.credential_fields.values())  # what a person gives (not what we generate)
    for name, value in credentials.items():
        if not value:
            continue
        field = adapter.credential_fields.get(name) or ("auth_token" if name == "auth_token" else None)
        if field not in ROTATABLE or field not in given:
            raise ValidationError({name: f"A {adapter.label} account's {name} cannot be changed: connect the other "
                                         "account instead."})
        changes[field] = value.strip()
    return changes


def provider_account_update(*, organization: Organization, actor, account: ProviderAccount, friendly_name=None,
                            webhook_mode=None, api_key=None, **credentials) -> ProviderAccount:
    """Change names and settings, and rotate secrets (`credentials`, by the carrier's input names:
    Twilio's auth_token, Vonage's api_secret, signature_secret and signature_method, Bandwidth's
    api_client_id and api_client_secret). New API credentials are verified with the carrier before
    they replace the old ones; a new webhook secret takes effect for every process at once."""
    changes = _rotated(account, credentials)
    if api_key and providers.supports(account.provider):
        raise ValidationError({"api_key": f"A {providers.adapter_class(account.provider).label} account's API key "
                                          "cannot be changed: connect the other account instead."})
    if changes.keys() & {"auth_token", "api_username"} or api_key:
        fields = {}
        if providers.supports(account.provider):
            adapter = providers.adapter_class(account.provider)
            fields = {field: getattr(account, field) or "" for field in set(adapter.credential_fields.values())}
            fields.update(changes)
        _verify_credentials(account.provider, fields, api_key=api_key or "")
    elif changes and providers.supports(account.provider):
        adapter = providers.adapter_class(account.provider)
        fields = {field: getattr(account, field) or "" for field in set(adapter.credential_fields.values())}
        problems = adapter.credential_errors(**{**fields, **changes})
        if problems:
            raise ValidationError(problems)
    with transaction.atomic():
        locked = ProviderAccount.objects.select_for_update().get(organization=organization, pk=account.pk)
        changed = []
        for field, value in (("friendly_name", friendly_name), ("webhook_mode", webhook_mode)):
            if value is not None and getattr(locked, field) != value:
                setattr(locked, field, value)
                changed.append(field)
        for field, value in (*changes.items(), ("api_key", api_key)):
            if value:
                setattr(locked, field, value)
                changed.append(field)
        if changes.keys() & {"auth_token", "api_username"} or api_key:
            locked.status, locked.last_error, locked.last_verified_at = AccountStatus.ACTIVE, "", timezone.now()
        if webhook_mode is not None and webhook_mode not in WebhookMode.values:
            raise ValidationError({"webhook_mode": "Choose per_number or global."})
        if changed:
            locked.save()
            if changes.keys() & {"auth_token", "webhook_secret", "signature_method"}:
                lines_changed(locked.account_sid)  # webhooks signed with the old secret fail at once
            # Field names only: the values of secrets never reach the history.
            audit(organization=organization, actor=actor, verb="provider_account.updated", target=locked,
                  data={"fields": changed})
    return locked


def provider_account_delete(*, organization: Organization, actor, account: ProviderAccount) -> str:
    """Disconnect the account. A Twilio account's softphone set-up is removed at Twilio first, as
    well as it can be: a failure there never blocks the delete, and is returned (in words, '' when
    all went well) so the person can remove the leftovers in Twilio's Console."""
    with transaction.atomic():
        locked = ProviderAccount.objects.select_for_update().filter(organization=organization, pk=account.pk).first()
        if locked is None:
            return ""
        if providers.supports(locked.provider):
            count = PhoneNumber.objects.filter(organization=organization, provider_account=locked).count()
            if count:
                raise ValidationError(f"Remove this account's {count} phone number(s) first.")
        elif PhoneNumber.objects.filter(organization=organization, platform=locked.provider).exclude(
            platform_id=""
        ).exists():
            raise ValidationError("Numbers are still on VAPI: assign them to people or unassign them first.")
        # Holding the row: a voice set-up running meanwhile waits, then finds the account gone.
        voice_problem = voice_setup.voice_teardown(locked)
        webhooks_problem = provider_account_restore_webhooks(locked)
        data = {"provider": locked.provider, "friendly_name": locked.friendly_name}
        if webhooks_problem:
            data["webhooks_left_at_carrier"] = {"reason": webhooks_problem}
        if voice_problem:
            data["voice_left_at_twilio"] = {"twiml_app_sid": locked.twiml_app_sid, "api_key_sid": locked.api_key_sid,
                                            "reason": voice_problem}
        audit(organization=organization, actor=actor, verb="provider_account.deleted", target=locked, data=data)
        ProviderAccount.objects.filter(organization=organization, pk=locked.pk).delete()
        lines_changed(locked.account_sid)
    if webhooks_problem:
        label = providers.adapter_class(locked.provider).label
        return (f"Its messaging application at {label} still calls Softphone ({webhooks_problem}); point it "
                f"elsewhere in {label}'s dashboard.")
    if voice_problem:
        return (f"Its TwiML App {locked.twiml_app_sid or '-'} and API key {locked.api_key_sid or '-'} could not be "
                f"removed from Twilio ({voice_problem}); delete them in Twilio's Console.")
    return ""


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
