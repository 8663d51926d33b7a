"""Which tenant's line a vendor's webhook is about, and the secret that must have signed it.

The message and voice webhooks (messaging/webhooks.py, telephony/webhooks_voice.py) find the
number a request names, its organization and its account's auth token before anything is stored,
and a vendor calls for the same numbers many times a second when busy. Each process keeps the
answer (`line_for`) under the account's stamp: every write that changes either (a rotated auth
token, an account deleted, a number removed or released) bumps the stamp after commit; a webhook
compares the stamp its cache entry was made under with Redis's at each request (one GET), so every
process drops the old token at once (see core/stamps.py). When Redis cannot answer, nothing cached
is used. Entries still live at most LINE_CACHE_SECONDS, for changes no service makes (an edit in
the database by hand).

Only who owns the line and who signs for it are cached: what a call or message does on the line
(its agent, its greeting) is read from the database with the request's own write.

The inbound voice webhook, where every round trip is heard as silence, skips the stamp: it takes the
cached line as it is (`cached_line`) and has its one round trip to PostgreSQL confirm it, by the
number still being the organization's and the account's stored token still being the one the line
was read with (`Line.token_digest`, a digest of the ciphertext, never of the token). When either
changed it reads the line again (`fresh_line`) and verifies the signature again before anything is
stored (see telephony/sql/voice.sql).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.db.models import CharField, F, Func

from core import stamps
from telephony import providers
from telephony.models import NumberStatus, PhoneNumber
from tenants.models import Organization
from tenants.scoping import platform_scope

LINE_CACHE_SECONDS = 30
LINE_CACHE_ENTRIES = 10000


@dataclass(frozen=True)
class Line:
    """What a webhook needs to know about the number it was sent to."""

    organization: Organization
    number_id: object
    auth_token: str  # the secret the carrier's webhooks are checked with (its adapter's `webhook_secret_of`)
    token_digest: str = ""  # md5 of the account's stored (encrypted) auth token, as PostgreSQL computes it
    signature_method: str = ""  # how the carrier signs with it, where the account chooses (Vonage)


_lines: dict[tuple[str, str, str], tuple[float, bytes, Line]] = {}


def _find_number(provider: str, account: str, addresses: tuple[str, ...]) -> PhoneNumber | None:
    """Which tenant's number is this? Crosses tenants on purpose (read-only), before the scope."""
    candidates = [a for a in addresses if a and "\x00" not in a]  # PostgreSQL's text holds no NUL: not ours
    if not candidates or not account or "\x00" in account:
        return None
    with platform_scope():
        return (PhoneNumber.objects.select_related("organization", "provider_account")
                .annotate(token_digest=Func(F("provider_account__auth_token"), function="md5",
                                            output_field=CharField()))
                .filter(phone_number__in=candidates, provider_account__account_sid=account,
                        provider_account__provider=provider)
                .exclude(status=NumberStatus.INACTIVE).first())


def line_for(provider: str, account: str, addresses: tuple[str, ...]) -> Line | None:
    """The line (one of our numbers, not released) among `addresses` of the vendor account `account`,
    or None when it is nobody's."""
    now = time.monotonic()
    stamp = lines_stamp(account)
    if stamp is not None:
        for address in addresses:
            hit = _lines.get((provider, account, address))
            if hit is not None and hit[0] > now and hit[1] == stamp:
                return hit[2]
    return _read(provider, account, addresses, stamp, now)


def _read(provider: str, account: str, addresses: tuple[str, ...], stamp: bytes | None, now: float) -> Line | None:
    number = _find_number(provider, account, addresses)
    if number is None:
        return None
    owner = number.provider_account
    adapter = providers.ADAPTERS.get(provider)
    line = Line(organization=number.organization, number_id=number.pk,
                auth_token=adapter.webhook_secret_of(owner) if adapter else owner.auth_token or "",
                token_digest=number.token_digest or "", signature_method=owner.signature_method)
    if stamp is not None:  # read before the database: a change made meanwhile moves it on again
        if len(_lines) > LINE_CACHE_ENTRIES:
            _lines.clear()
        _lines[(provider, account, number.phone_number)] = (now + LINE_CACHE_SECONDS, stamp, line)
    return line


def cached_line(provider: str, account: str, addresses: tuple[str, ...]) -> Line | None:
    """The line as this process last read it (at most LINE_CACHE_SECONDS ago), whatever has changed
    since, else as the database has it now. Only for a caller whose own write confirms the line
    (the number's organization, the account's token digest) and who reads it again with
    `fresh_line` when that fails."""
    now = time.monotonic()
    for address in addresses:
        hit = _lines.get((provider, account, address))
        if hit is not None and hit[0] > now:
            return hit[2]
    return fresh_line(provider, account, addresses)


def cached_line_stale(provider: str, account: str, addresses: tuple[str, ...]) -> bool:
    """Whether what `cached_line` gave may be out of date: the account's stamp moved since the entry
    was made, or Redis cannot say. One GET, asked only when a signature did not match the cached
    token (a forged request costs no database read)."""
    stamp = lines_stamp(account)
    for address in addresses:
        hit = _lines.get((provider, account, address))
        if hit is not None:
            return stamp is None or hit[1] != stamp
    return True


def fresh_line(provider: str, account: str, addresses: tuple[str, ...]) -> Line | None:
    """The line as the database has it now (and so cached, for `line_for` under the stamp read first)."""
    return _read(provider, account, addresses, lines_stamp(account), time.monotonic())


def forget_lines() -> None:
    _lines.clear()


def lines_stamp_key(account_sid: str) -> str:
    return f"{settings.REDIS_KEY_PREFIX}softphone:lines:{account_sid}"


def lines_stamp(account_sid: str) -> bytes | None:
    """The account's stamp now, or None when Redis cannot say (then nothing cached may be used)."""
    return stamps.read(lines_stamp_key(account_sid))


def lines_changed(account_sid: str) -> None:
    """Tell every process, once the transaction commits, to forget what it cached for the account."""
    if account_sid:
        stamps.bump_on_commit(lines_stamp_key(account_sid))
