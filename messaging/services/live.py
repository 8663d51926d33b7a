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
    from .events import redis_client

    try:
        value = redis_client().get(_key(organization.pk))
    except Exception:
        return ""
    return (value or b"0").decode()
