"""What tells open inbox tabs that something changed.

Each organization has a change counter in Redis, raised after every commit that changes a
conversation or a message. An inbox tab polls with the counter it last saw: while the counter is the
same, the answer is an empty 204 read from Redis alone (no database query); when it moved, the tab
gets the rows that changed since its cursor (see selectors.inbox_changes). The database stays the
truth: if Redis is down or was flushed, the counter is simply unknown and every poll reads the
database, and a tab reads it at least every RECHECK_SECONDS anyway.
"""

from __future__ import annotations

import logging

from django.db import transaction

logger = logging.getLogger(__name__)

# A tab re-reads the database at least this often, even when the counter has not moved.
RECHECK_SECONDS = 30


def _key(organization_id) -> str:
    return f"softphone:inbox:{organization_id}:version"


def inbox_changed(organization) -> None:
    """Raise the organization's change counter once the current transaction commits."""
    organization_id = getattr(organization, "pk", organization)
    transaction.on_commit(lambda: _bump(organization_id))


def _bump(organization_id) -> None:
    from .events import redis_client

    try:
        redis_client().incr(_key(organization_id))
    except Exception as exc:  # Redis down: tabs fall back to reading the database on every poll
        logger.warning("could not signal an inbox change (%s: %s)", type(exc).__name__, exc)


def inbox_version(organization) -> str:
    """The organization's change counter, or "" when Redis cannot say."""
    return version_for(organization.pk)


# The quiet path. A tab asks "anything new?" every 1.5 s; answering that through the session, the
# user and the membership costs about 10 ms of CPU (docs/benchmarks.md), most of a core for 200
# tabs. So the authenticated poll hands the tab a signed, short-lived token naming its
# organization, and the tab asks `live/<token>/` first: one signature check and one Redis GET, no
# database. It tells only whether the organization's counter moved; anything more, the tab fetches
# through the authenticated poll, which checks the membership as every page does.
LIVE_TOKEN_SECONDS = 600
_LIVE_SALT = "softphone.inbox-live"


def live_token(organization) -> str:
    from django.core import signing

    return signing.dumps(str(organization.pk), salt=_LIVE_SALT)


def live_token_organization(token: str) -> str | None:
    """The organization id a token was issued for, or None if it is forged or expired."""
    from django.core import signing

    try:
        return signing.loads(token, salt=_LIVE_SALT, max_age=LIVE_TOKEN_SECONDS)
    except signing.BadSignature:
        return None


def version_for(organization_id: str) -> str:
    from .events import redis_client

    try:
        value = redis_client().get(_key(organization_id))
    except Exception:
        return ""
    return (value or b"0").decode()
