"""Add one number the organization already owns at its provider (REST POST with credentials)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from core.phones import to_e164
from core.vendors import ProviderError
from telephony import jobs, providers
from telephony.models import PhoneNumber, ProviderAccount
from tenants.models import Organization
from tenants.services import audit

from .accounts import account_fields, provider_account_connect
from .records import attrs_from_remote, number_create


def phone_number_add(*, organization: Organization, actor, provider: str, phone_number: str,
                     friendly_name: str = "", metadata: dict | None = None, client=None,
                     **credentials: str) -> PhoneNumber:
    """Add one number the organization owns at the provider, with that account's credentials (by
    the names its adapter takes: `TelephonyProvider.credential_fields`).

    The account is connected on first use (credentials verified first); the number must exist in
    it. Its webhooks are pointed at us by a worker after commit.
    """
    if not providers.supports(provider):
        raise ValidationError({"provider": f"{provider} does not hold phone numbers; choose "
                                           f"{', '.join(sorted(providers.ADAPTERS))}."})
    e164 = to_e164(phone_number)
    if PhoneNumber.objects.filter(organization=organization, phone_number=e164).exists():
        raise ValidationError({"phone_number": f"{e164} is already in this organization."})
    fields = account_fields(provider, credentials)
    account = ProviderAccount.objects.filter(organization=organization, provider=provider,
                                             account_sid=fields["account_sid"]).first()
    if account is None:
        account = provider_account_connect(organization=organization, actor=actor, provider=provider, client=client,
                                           **credentials)
    elif fields.get("auth_token") and fields["auth_token"] != account.auth_token:
        secret = next(name for name, field in providers.adapter_class(provider).credential_fields.items()
                      if field == "auth_token")
        raise ValidationError({secret: "That is not the secret this account was connected with."})
    try:
        remote = providers.for_account(account).find_incoming_number(e164)
    except ProviderError as exc:
        raise ValidationError({"credentials": exc.message}) from None
    if remote is None:
        label = providers.adapter_class(provider).label
        raise ValidationError({"phone_number": f"{e164} is not a number of this {label} account."})
    attrs = attrs_from_remote(remote, e164)
    attrs["metadata"].update(metadata or {})
    if friendly_name:
        attrs["friendly_name"] = friendly_name[:100]
    with transaction.atomic():
        number = number_create(organization=organization, account=account, phone_number=e164, client=client,
                               source="added", attrs=attrs, previous_sms_url=remote.sms_url,
                               previous_voice_url=remote.voice_url)
        audit(organization=organization, actor=actor, verb="phone_number.added", target=number,
              data={"account": account.friendly_name})
        jobs.phone_number_configure(organization.pk, number.pk)
    return number
