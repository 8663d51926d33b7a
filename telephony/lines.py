"""The stamp of a Twilio account's lines: which numbers it has and the auth token that signs their
webhooks.

The message webhooks cache, per process, which tenant owns a number and the account's auth token
(messaging/webhooks.py). Every write that changes either (a rotated auth token, an account deleted,
a number removed or released) bumps the account's stamp after commit; a webhook compares the stamp
its cache entry was made under with Redis's at each request, so every process drops the old token
at once (see softphone/stamps.py).
"""

from __future__ import annotations

from django.conf import settings

from core import stamps


def lines_stamp_key(account_sid: str) -> str:
    return f"{settings.REDIS_KEY_PREFIX}softphone:lines:{account_sid}"


def lines_stamp(account_sid: str) -> bytes | None:
    """The account's stamp now, or None when Redis cannot say (then nothing cached may be used)."""
    return stamps.read(lines_stamp_key(account_sid))


def lines_changed(account_sid: str) -> None:
    """Tell every process, once the transaction commits, to forget what it cached for the account."""
    if account_sid:
        stamps.bump_on_commit(lines_stamp_key(account_sid))
