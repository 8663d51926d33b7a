"""Phone numbers as E.164 strings, validated with Google's libphonenumber (`phonenumbers`)."""

from __future__ import annotations

import phonenumbers
from django.core.exceptions import ValidationError


def to_e164(value: str, *, default_region: str | None = None, field: str = "phone_number") -> str:
    """Parse and validate ``value``; return it in E.164 or raise a ValidationError a person can read."""
    raw = (value or "").strip()
    if raw.startswith("whatsapp:"):
        raw = raw[len("whatsapp:"):]
    if not raw:
        raise ValidationError({field: "Enter a phone number."})
    try:
        parsed = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException:
        raise ValidationError({field: f"'{value}' is not a phone number. Use E.164, e.g. +14155551234."}) from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError({field: f"'{value}' is not a valid phone number. Use E.164, e.g. +14155551234."})
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def region_of(e164: str) -> str | None:
    """The country (ISO 3166 alpha-2) a number in E.164 belongs to, or None."""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164, None)) or None
    except phonenumbers.NumberParseException:
        return None


def describe(e164: str, *, geocode: bool = False) -> dict:
    """Country, area code and type of a number, for PhoneNumber.metadata; with ``geocode`` also its
    region ("San Francisco, CA"). Geocoding loads libphonenumber's geocoding data, about 6 s and
    150 MB the first time in a process: workers do it, web requests do not."""
    parsed = phonenumbers.parse(e164, None)
    kind = phonenumbers.number_type(parsed)
    kinds = {
        phonenumbers.PhoneNumberType.MOBILE: "mobile", phonenumbers.PhoneNumberType.FIXED_LINE: "local",
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE: "local", phonenumbers.PhoneNumberType.TOLL_FREE: "toll_free",
    }
    national = str(parsed.national_number)
    area_len = phonenumbers.length_of_geographical_area_code(parsed)
    described = {
        "iso_country": phonenumbers.region_code_for_number(parsed) or "",
        "area_code": national[:area_len] if area_len else "",
        "number_type": kinds.get(kind, "other"),
    }
    if geocode:
        from phonenumbers import geocoder

        described["region"] = geocoder.description_for_number(parsed, "en")
    return described


def canonical_contact_number(value: str, *, default_region: str | None = None) -> str:
    """The one E.164 form we keep for a person, so that one person is one contact.

    Two countries write the same mobile line two ways, and WhatsApp ids use the other way:
    - Mexico: mobiles used to be dialled as +52 1 XXXXXXXXXX; since 2019 the "1" is gone. Keep +52XXXXXXXXXX.
    - Brazil: mobiles gained a ninth digit (+55 AA 9XXXX-XXXX), but WhatsApp ids of older accounts
      still lack it (+55 AA XXXX-XXXX). Keep the nine-digit form.
    """
    raw = (value or "").strip().removeprefix("whatsapp:")
    digits = "".join(ch for ch in raw if ch.isdigit())
    international = raw.startswith("+") or default_region is None
    if international and digits.startswith("521") and len(digits) == 13:
        raw = "+52" + digits[3:]
    elif international and digits.startswith("55") and len(digits) == 12 and digits[4] in "6789":
        # area code (2 digits) + an 8-digit mobile starting 6-9: the form without the ninth digit
        raw = "+55" + digits[2:4] + "9" + digits[4:]
    elif international and not raw.startswith("+"):
        raw = "+" + digits  # WhatsApp ids are E.164 digits without the plus
    return to_e164(raw, default_region=default_region)


# What a sender's address is, when it is not a number libphonenumber accepts. Carriers deliver
# messages from short codes (3 to 8 digits: banks, delivery services, one-time codes), from
# alphanumeric sender ids ("ACMEBANK") and from numbers whose range libphonenumber does not know (or
# not yet): all of them are real senders, kept exactly as they arrived. The values are
# crm.models.AddressKind's.
PHONE, SHORT_CODE, ALPHANUMERIC, UNRECOGNISED = "phone", "short_code", "alphanumeric", "unrecognised"
ADDRESS_LONGEST = 20  # crm.Contact.phone_number


def contact_address(value: str) -> tuple[str, str]:
    """(address, kind) for whoever sent us a message: the canonical E.164 form of a valid number
    (see canonical_contact_number), or the address as given with what kind of sender it is. Raises
    a ValidationError only when there is no address at all, or one too long to be any sender's."""
    raw = (value or "").strip().removeprefix("whatsapp:").strip()
    if not raw:
        raise ValidationError({"phone_number": "The sender's address is missing."})
    try:
        return canonical_contact_number(raw), PHONE
    except ValidationError:
        pass
    if len(raw) > ADDRESS_LONGEST:
        raise ValidationError({"phone_number": f"The sender's address is longer than {ADDRESS_LONGEST} "
                                               f"characters: {raw[:40]!r}."})
    digits = raw.removeprefix("+")
    if any(ch.isalpha() for ch in raw):
        return raw, ALPHANUMERIC
    if digits.isdigit() and 3 <= len(digits) <= 8:
        return raw, SHORT_CODE
    return raw, UNRECOGNISED
