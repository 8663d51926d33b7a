"""A number's row from what its provider says about it: shared by adding, buying and importing."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.phones import describe
from telephony.models import PhoneNumber
from telephony.providers.base import IncomingNumber

# What a carrier says of a number that we keep: Twilio's origin and address requirements; the features
# of a messaging-only carrier's number (whose voice the softphone does not carry), and that it is one.
KEPT_METADATA = ("origin", "address_requirements", "carrier_features", "messaging_only")


def attrs_from_remote(remote: IncomingNumber, phone_number: str, *, geocode: bool = False) -> dict:
    metadata = describe(phone_number, geocode=geocode)
    metadata.update({k: v for k, v in remote.metadata.items() if k in KEPT_METADATA})
    return {
        "provider_sid": remote.sid,
        "friendly_name": (remote.friendly_name or "")[:100],
        "capabilities": remote.capabilities.as_dict(),
        "metadata": metadata,
    }


def number_create(*, organization, account, phone_number, client, source, attrs, previous_sms_url="",
                  previous_voice_url="") -> PhoneNumber:
    """One new row; a number another organization has already is refused in words."""
    try:
        with transaction.atomic():
            return PhoneNumber.objects.create(
                organization=organization, provider_account=account, provider=account.provider,
                phone_number=phone_number, client=client or account.client, source=source,
                previous_sms_url=previous_sms_url[:500], previous_voice_url=previous_voice_url[:500],
                last_verified_at=timezone.now(), **attrs,
            )
    except IntegrityError:
        raise ValidationError(
            {"phone_number": f"{phone_number} is already connected to another organization."}
        ) from None
