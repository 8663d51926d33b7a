"""Validators for what people type, shared by forms, serializers and the admin.

Names are shown to other people (lists, the inbox, notifications, exports): a control character
in one hides or garbles what follows it, and a right-to-left override makes "report<RLO>fdp.exe"
read as "reportexe.pdf". Neither belongs in a name, so both are refused with a message saying which
character and where.
"""

from __future__ import annotations

import re
import unicodedata

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible

# Invisible characters that reorder the text around them (the "Trojan Source" set).
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Cc: C0 and C1 controls, including tab, newline and DEL; Cs: lone surrogates, which no
# database encoding can store.
REFUSED_CATEGORIES = frozenset({"Cc", "Cs"})


def _refused(character: str) -> bool:
    return character in BIDI_CONTROLS or unicodedata.category(character) in REFUSED_CATEGORIES


@deconstructible
class NoControlCharacters:
    message = "Names cannot contain control characters (found U+{code:04X} at position {position})."
    code = "control_characters"

    def __call__(self, value) -> None:
        for position, character in enumerate(str(value), start=1):
            if _refused(character):
                raise ValidationError(self.message.format(code=ord(character), position=position),
                                      code=self.code, params={"value": value})

    def __eq__(self, other) -> bool:
        return isinstance(other, NoControlCharacters)


validate_name = NoControlCharacters()

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def validate_vapi_id(value) -> None:
    """VAPI names its resources (assistants, phone numbers, squads) by UUID."""
    if value and not _UUID.match(str(value)):
        raise ValidationError("A VAPI assistant id is a UUID, e.g. 3f2b8c1e-5d4a-4f6b-9a7e-1c2d3e4f5a6b: copy it "
                              "from the assistant's page in the VAPI dashboard.", code="invalid_vapi_id")


_CREDENTIAL = re.compile(r"^[\x21-\x7e]+$")


def validate_credential(value) -> None:
    """Vendor ids and secrets (SIDs, auth tokens, API keys) travel in HTTP headers (Basic or Bearer
    authorization), which carry ASCII: anything else cannot be a real credential and would fail in
    the HTTP client instead of at the vendor."""
    if value and not _CREDENTIAL.match(str(value)):
        raise ValidationError("Credentials are letters, digits and punctuation only (no spaces or other "
                              "characters): copy them again from the provider's console.", code="invalid_credential")


_META_ID = re.compile(r"^[0-9]{1,64}$")


def validate_meta_id(value) -> None:
    """Meta's ids (a WhatsApp phone number id, a business account id) are digits; they become a path
    segment of a Graph API URL, so nothing else is let through."""
    if value and not _META_ID.match(str(value)):
        raise ValidationError("Meta's ids are digits only, e.g. 106540352242922: copy it from WhatsApp Manager "
                              "or the app's API Setup page.", code="invalid_meta_id")
