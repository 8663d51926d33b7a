"""Who can take a call right now: people with a live, registered softphone in an open tab.

The dialer in every page sends a heartbeat while its Twilio Device is registered (and one saying
it went away when it unregisters or the tab closes). The server keeps, per organization, the last
heartbeat of each agent in a Redis sorted set; an agent whose last heartbeat is older than
PRESENCE_TTL seconds is unreachable, so a tab that went silent (closed, asleep, offline) stops
receiving calls within a minute. Live calls are kept beside it, so the top bar and the team page
can say "in a call".

What a person chose (available or away, `Agent.availability`) is theirs; what this module knows is
whether their softphone is there. `status_of` combines both into what others see.

Redis is shared by every web process and worker. When it cannot answer, nobody is reachable:
routing then sends callers to voicemail rather than ringing a browser that may not be there.
"""

from __future__ import annotations

import logging
import time

import redis
from django.conf import settings

from core import stamps

logger = logging.getLogger(__name__)

PRESENCE_TTL = 45  # seconds without a heartbeat before an agent's softphone counts as gone
HEARTBEAT_INTERVAL = 15  # what the page uses; three missed heartbeats make the agent unreachable

AVAILABLE = "available"
AWAY = "away"
IN_CALL = "in_call"
OFFLINE = "offline"  # no live softphone: shown as away, with the reason
LABELS = {AVAILABLE: "Available", AWAY: "Away", IN_CALL: "In a call", OFFLINE: "Away (softphone offline)"}


def _key(organization_id, kind: str) -> str:
    return f"{settings.REDIS_KEY_PREFIX}softphone:presence:{kind}:{organization_id}"


def heartbeat(organization_id, agent_id) -> bool:
    """The agent's softphone is registered now. False when Redis could not record it."""
    try:
        stamps.redis_client().zadd(_key(organization_id, "seen"), {str(agent_id): time.time()})
        return True
    except redis.RedisError:
        logger.warning("presence: could not record a heartbeat (Redis unavailable)")
        return False


def gone(organization_id, agent_id) -> None:
    """The agent's softphone unregistered (tab closed, signed out)."""
    try:
        stamps.redis_client().zrem(_key(organization_id, "seen"), str(agent_id))
    except redis.RedisError:
        logger.warning("presence: could not record a softphone going away (Redis unavailable)")


def reachable(organization_id, agent_ids) -> set[str]:
    """Which of these agents have a live softphone (ids as strings)."""
    agent_ids = [str(a) for a in agent_ids]
    if not agent_ids:
        return set()
    try:
        scores = stamps.redis_client().zmscore(_key(organization_id, "seen"), agent_ids)
    except redis.RedisError:
        logger.warning("presence: cannot tell who is reachable (Redis unavailable)")
        return set()
    cutoff = time.time() - PRESENCE_TTL
    return {agent for agent, score in zip(agent_ids, scores, strict=True) if score is not None and score >= cutoff}


def in_call_set(organization_id, agent_id, call_id) -> None:
    """The agent is on this call (answered it, or placed it)."""
    try:
        stamps.redis_client().hset(_key(organization_id, "calls"), str(agent_id), str(call_id))
    except redis.RedisError:
        logger.warning("presence: could not record a live call (Redis unavailable)")


def in_call_clear(organization_id, agent_id, call_id=None) -> None:
    """The agent's call ended. With `call_id`, only if it is still the call recorded (a late
    callback of an earlier call must not clear a newer one)."""
    try:
        client = stamps.redis_client()
        key = _key(organization_id, "calls")
        if call_id is None:
            client.hdel(key, str(agent_id))
        else:
            # Compare-and-delete in one step, so a newer call recorded meanwhile survives.
            client.eval("if redis.call('hget', KEYS[1], ARGV[1]) == ARGV[2] then "
                        "return redis.call('hdel', KEYS[1], ARGV[1]) end return 0",
                        1, key, str(agent_id), str(call_id))
    except redis.RedisError:
        logger.warning("presence: could not clear a live call (Redis unavailable)")


def in_call(organization_id, agent_ids) -> dict[str, str]:
    """{agent id: call id} for the agents among these who are on a call."""
    agent_ids = [str(a) for a in agent_ids]
    if not agent_ids:
        return {}
    try:
        values = stamps.redis_client().hmget(_key(organization_id, "calls"), agent_ids)
    except redis.RedisError:
        return {}
    return {agent: value.decode() for agent, value in zip(agent_ids, values, strict=True) if value is not None}


def status_of(agents, organization_id) -> dict[str, str]:
    """What others see of each agent: available, away, in_call or offline. AI agents are always
    available (VAPI answers for them)."""
    agents = list(agents)
    people = [a for a in agents if a.kind == "human"]
    live = reachable(organization_id, [a.pk for a in people])
    calls = in_call(organization_id, [a.pk for a in people])
    result = {}
    for agent in agents:
        key = str(agent.pk)
        if agent.kind != "human":
            result[key] = AVAILABLE
        elif key in calls:
            result[key] = IN_CALL
        elif agent.availability == AWAY:
            result[key] = AWAY
        elif key not in live:
            result[key] = OFFLINE
        else:
            result[key] = AVAILABLE
    return result


def can_ring(agent, organization_id) -> bool:
    """Whether an incoming call should ring this person's browser now: they chose available, their
    softphone is live, and they are not on another call. (An AI agent is always available, as in
    status_of.)"""
    if agent.kind != "human":
        return True
    return can_ring_agent(organization_id, agent.pk, agent.availability)


def can_ring_agent(organization_id, agent_id, availability: str) -> bool:
    """can_ring, for a person known by id and their chosen availability: one Redis round trip (the
    inbound call's webhook asks it while the caller hears silence)."""
    if availability == AWAY:
        return False
    agent = str(agent_id)
    try:
        pipeline = stamps.redis_client().pipeline(transaction=False)
        pipeline.zscore(_key(organization_id, "seen"), agent)
        pipeline.hexists(_key(organization_id, "calls"), agent)
        seen, calling = pipeline.execute()
    except redis.RedisError:
        logger.warning("presence: cannot tell who is reachable (Redis unavailable)")
        return False
    return seen is not None and seen >= time.time() - PRESENCE_TTL and not calling
