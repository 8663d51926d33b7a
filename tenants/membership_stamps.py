"""A membership's stamp: a random value in Redis that short-lived tokens issued to a member carry.

Some tokens are checked without the database, on paths too busy for it (the inbox's live token,
messaging/services/live.py). Each carries the stamp of the membership it was issued for, and is
honoured only while Redis holds that same stamp. Removing the member deletes the stamp after
commit, so every such token stops working at once, in every process. A stamp Redis lost (a flush, a
restart) fails the same way: a tab then goes back to the authenticated path, which checks the
membership in the database and issues a token with a new stamp.
"""

from __future__ import annotations

import secrets

import redis
from django.conf import settings

from core import stamps

# A stamp outlives every token issued under it (it is refreshed at each issue); tokens that carry
# it expire sooner (LIVE_TOKEN_SECONDS there).
STAMP_SECONDS = 3600


def membership_stamp_key(organization_id, user_id) -> str:
    return f"{settings.REDIS_KEY_PREFIX}softphone:member:{organization_id}:{user_id}"


def membership_stamp(organization_id, user_id) -> str:
    """The membership's stamp, made if it has none; "" when Redis cannot answer (no token made with
    it is ever honoured)."""
    key = membership_stamp_key(organization_id, user_id)
    try:
        with stamps.redis_client().pipeline(transaction=False) as pipe:
            pipe.set(key, secrets.token_urlsafe(12), nx=True, ex=STAMP_SECONDS)
            pipe.expire(key, STAMP_SECONDS)
            pipe.get(key)
            value = pipe.execute()[2]
    except redis.RedisError:
        return ""
    return value.decode() if value else ""


def membership_stamp_revoke(organization_id, user_id) -> None:
    """After commit: every token issued for this membership stops working."""
    stamps.delete_on_commit(membership_stamp_key(organization_id, user_id))
