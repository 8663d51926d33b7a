"""Search the numbers a provider offers, and buy one (one call, which also sets our webhooks)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404

from core.phones import to_e164
from core.vendors import ProviderError
from telephony import providers
from telephony.models import PhoneNumber, Provider, ProviderAccount, WebhookMode
from tenants.models import Organization
from tenants.services import audit

from .records import attrs_from_remote, number_create
from .webhook_contract import webhook_urls


def available_numbers_search(*, account: ProviderAccount | None = None, provider: str = "",
                             credentials: dict[str, str] | None = None, country: str = "US",
                             number_type: str = "local", area_code: str = "", contains: str = "",
                             capabilities: tuple[str, ...] = ()):
    """Numbers `provider` offers, with a stored account of it or with its credentials given once (by
    the names its adapter takes). One call: a page never waits for more. `provider` defaults to the
    account's (and, without an account, to Twilio's)."""
    provider = provider or (account.provider if account is not None else Provider.TWILIO)
    if not providers.supports(provider):
        raise Http404(f"No phone-number provider is called '{provider}'.")
    if account is not None and account.provider != provider:
        raise ValidationError({"provider_account_id": f"That account is a {account.get_provider_display()} account, "
                                                      f"not {providers.adapter_class(provider).label}."})
    try:
        if account is not None:
            adapter = providers.for_account(account)
        else:
            fields = providers.adapter_class(provider).account_fields(credentials or {})
            if not (fields.get("account_sid") and fields.get("auth_token")):
                raise ValidationError({"credentials": f"Send the {providers.adapter_class(provider).label} "
                                                      "account's credentials, or providerAccountId."})
            adapter = providers.for_credentials(provider, **fields)
        return adapter.search_available(country=country, number_type=number_type, area_code=area_code or "",
                                        contains=contains or "", capabilities=capabilities)
    except ProviderError as exc:
        raise ValidationError(exc.message) from None


def phone_number_buy(*, organization: Organization, actor, account: ProviderAccount, phone_number: str,
                     client=None) -> PhoneNumber:
    """Buy an available number (one call, which also sets our webhooks) and add it."""
    e164 = to_e164(phone_number)
    ours = webhook_urls(account.provider) if account.webhook_mode == WebhookMode.PER_NUMBER else None
    try:
        remote = providers.for_account(account).buy_number(e164, ours)
    except ProviderError as exc:
        raise ValidationError({"phone_number": exc.message}) from None
    attrs = attrs_from_remote(remote, e164)
    with transaction.atomic():
        # A bought number had no URLs before ours.
        number = number_create(organization=organization, account=account, phone_number=e164, client=client,
                               source="bought", attrs=attrs)
        if ours is not None:
            PhoneNumber.objects.filter(pk=number.pk).update(
                webhook_configured=True, sms_url=ours.sms_url, status_callback_url=ours.status_callback,
                voice_url=ours.voice_url)
        audit(organization=organization, actor=actor, verb="phone_number.bought", target=number,
              data={"account": account.friendly_name})
    number.refresh_from_db()
    return number
