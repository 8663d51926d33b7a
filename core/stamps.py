"""Stamps in Redis: small shared values that tell every process at once that something it caches
or trusts has changed.

A web process keeps some answers in memory (which account a number belongs to, and its auth token)
or hands out short-lived signed tokens (the inbox's live token). The web server runs several processes,
on several machines, so clearing one process's memory is not enough: the write bumps or deletes a
stamp in the Redis they all share, after its transaction commits, and each reader compares the
stamp it saw with the one Redis holds now, in a round trip it makes anyway or in one GET.

When Redis cannot answer, ``read`` says so (``None``) and callers fall back to the database: a
stamp that cannot be read never makes an old answer valid.
"""

from __future__ import annotations

import logging

import redis
from django.conf import settings
from django.db import transaction
from redis.backoff import NoBackoff
from redis.retry import Retry

logger = logging.getLogger(__name__)

_client: redis.Redis | None = None


def redis_client() -> redis.Redis:
    global _client
    if _client is None:
        _client = client_for(settings.REDIS_URL)
    return _client


def client_for(url: str) -> redis.Redis:
    """A client that gives up at once: one second to connect or answer, and no retry, since every
    caller has the database to fall back to. (redis-py 8's `Redis()` retries ten times with growing
    pauses: two seconds or more per call while Redis is down, on every request; `from_url` does not, as
    of 8.1. Said here, not left to a default.)"""
    return redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))


def read(key: str) -> bytes | None:
    """The stamp's value (b"" when it was never set), or None when Redis cannot say."""
    try:
        value = redis_client().get(key)
    except redis.RedisError:
        return None
    return value if value is not None else b""


def bump_on_commit(key: str) -> None:
    """Change the stamp once the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(lambda: _run(lambda client: client.incr(key), key))


def delete_on_commit(key: str) -> None:
    transaction.on_commit(lambda: _run(lambda client: client.delete(key), key))


def _run(command, key: str) -> None:
    try:
        command(redis_client())
    except redis.RedisError as exc:
        # Readers of a missing or unreadable stamp go back to the database; log for the operator.
        logger.error("could not update the stamp %s (%s: %s)", key, type(exc).__name__, exc)
