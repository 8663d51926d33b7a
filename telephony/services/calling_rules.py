"""Where the organization's agents may call from the browser (VoicePolicy), checked before any
call leaves: by the TwiML App's outbound route and by a call placed through the API.

Premium-rate ranges cost the caller (and us) by the minute and are the classic target of toll
fraud from a stolen session; emergency short codes from a browser reach a dispatcher with no
location to send help to. Both are refused unless the organization allowed them; a prefix the
organization listed is always allowed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction

from core.phones import region_of, to_e164
from telephony.models import VoicePolicy
from tenants.models import Organization
from tenants.services import audit

# Emergency and special-service short codes around the world (dialled as they are, no plus).
EMERGENCY_CODES = frozenset({"911", "112", "999", "000", "110", "119", "118", "100", "101", "102", "108", "933",
                             "060", "066", "065", "15", "17", "18", "08", "190", "192", "193", "199"})

# Premium-rate ranges as E.164 prefixes (national premium ranges of the countries we see most).
PREMIUM_PREFIXES = (
    "+1900", "+1976",  # North America: 900 pay-per-call, 976 information services
    "+4490", "+4491", "+4498", "+44871", "+44872", "+44873",  # UK premium rate and 087x
    "+3389",  # France 089x
    "+49900", "+49137",  # Germany 0900, 0137 televoting
    "+34803", "+34806", "+34807", "+34905",  # Spain
    "+39899", "+39892", "+39895",  # Italy
    "+61190",  # Australia 190x
)


@dataclass(frozen=True)
class Verdict:
    number: str  # the destination in E.164 ('' when refused before it was read)
    refusal: str = ""  # a sentence for the caller; '' when the call may go ahead

    @property
    def allowed(self) -> bool:
        return not self.refusal


def policy_of(organization: Organization) -> VoicePolicy:
    """The organization's rules; the defaults (nothing extra allowed) when it never set any."""
    return VoicePolicy.objects.filter(organization=organization).first() or VoicePolicy(organization=organization)


def destination_check(*, organization: Organization, destination: str, policy: VoicePolicy | None = None,
                      calling_from: str = "") -> Verdict:
    """Whether `destination` may be called. A number typed without its country code is read as one
    of the country of the number calling (`calling_from`), as a desk phone would."""
    policy = policy or policy_of(organization)
    raw = (destination or "").strip().replace(" ", "").replace("-", "").replace("(", "").replace(")", "")
    if raw in EMERGENCY_CODES:
        if policy.allow_emergency:
            return Verdict(number=raw)
        return Verdict(number=raw, refusal="Emergency numbers cannot be called from the browser. "
                                           "Please use a phone that can give your location.")
    try:
        number = to_e164(raw, default_region=region_of(calling_from) if calling_from else None)
    except ValidationError:
        return Verdict(number="", refusal="That number is not valid. Please check it and call again.")
    if any(number.startswith(prefix) for prefix in policy.allowed_prefixes):
        return Verdict(number=number)
    if any(number.startswith(prefix) for prefix in PREMIUM_PREFIXES) and not policy.allow_premium_rate:
        return Verdict(number=number, refusal="Premium-rate numbers cannot be called from this organization.")
    return Verdict(number=number)


PREFIX = re.compile(r"\+[1-9]\d{0,14}")
MAX_PREFIXES = 100


def allowed_prefixes_parse(text: str) -> list[str]:
    """E.164 prefixes written one a line (or separated by commas), spaces and dashes allowed;
    raises with a sentence naming the first that is not one."""
    prefixes = []
    for item in re.split(r"[,\n]", text or ""):
        prefix = re.sub(r"[\s().-]", "", item)
        if not prefix:
            continue
        if not PREFIX.fullmatch(prefix):
            raise ValidationError({"allowed_prefixes": f"“{item.strip()[:30]}” is not a number prefix: write a + "
                                                       "and the digits, e.g. +1900555."})
        if prefix not in prefixes:
            prefixes.append(prefix)
    if len(prefixes) > MAX_PREFIXES:
        raise ValidationError({"allowed_prefixes": f"List at most {MAX_PREFIXES} prefixes."})
    return prefixes


def voice_policy_update(*, organization: Organization, actor, allow_premium_rate: bool, allow_emergency: bool,
                        allowed_prefixes: list[str]) -> VoicePolicy:
    """Change where the organization's agents may call; the history keeps what changed."""
    for prefix in allowed_prefixes:
        if not PREFIX.fullmatch(prefix):
            raise ValidationError({"allowed_prefixes": f"“{prefix[:30]}” is not a number prefix."})
    with transaction.atomic():
        policy, _ = VoicePolicy.objects.select_for_update().get_or_create(organization=organization)
        changes = {}
        for field, value in (("allow_premium_rate", bool(allow_premium_rate)),
                             ("allow_emergency", bool(allow_emergency)), ("allowed_prefixes", list(allowed_prefixes))):
            if getattr(policy, field) != value:
                changes[field] = {"from": getattr(policy, field), "to": value}
                setattr(policy, field, value)
        if changes:
            policy.save()
            audit(organization=organization, actor=actor, verb="voice_policy.changed", target=policy, data=changes)
    return policy
