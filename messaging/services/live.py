"""What tells open inbox tabs that something changed.

Change counters in Redis, raised after every commit that changes a conversation or a message, one
per audience, so that a change wakes only the tabs that can show it:

- ``all``: every change (tabs on the All view);
- ``a:<agent id>`` and ``u``: changes to conversations assigned to that agent, or to nobody (tabs
  on Mine and Unassigned); a reassignment raises the old assignee's and the new one's;
- ``c:<conversation id>``: changes to one conversation (the tab that has it open, whatever its view);
- ``any``: changes whose audience is not known, or that touch many conversations at once (a snooze
  sweep, a contact opting out); every view but All watches it.

A tab polls with the version it last saw: the values of the counters it watches. While they are the
same, the answer is an empty 204 read from Redis alone (no database query); when one moved, the tab
gets the rows that changed since its cursor (see selectors.inbox_changes). The database stays the
truth: if Redis is down or was flushed, the version is simply unknown and every poll reads the
database, and a tab reads it at least every RECHECK_SECONDS anyway (which is also how the top bar's
unread total learns of conversations outside the tab's view).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone

from core import stamps
from tenants.membership_stamps import membership_stamp, membership_stamp_key

logger = logging.getLogger(__name__)

# A tab re-reads the database at least this often, even when no counter it watches has moved.
RECHECK_SECONDS = 30
CONVERSATION_KEY_SECONDS = 86400  # a conversation's own counter is forgotten a day after its last change

ALL, ANY, UNASSIGNED = "all", "any", "u"


def _key(organization_id, audience: str = ALL) -> str:
    if audience == ALL:
        return f"{settings.REDIS_KEY_PREFIX}softphone:inbox:{organization_id}:version"
    return f"{settings.REDIS_KEY_PREFIX}softphone:inbox:{organization_id}:{audience}"


def inbox_changed(organization, conversation=None, *, assignees=None) -> None:
    """Raise the change counters once the current transaction commits.

    ``conversation`` (a Conversation or its id) narrows who is told: its own tab, and the tabs of
    its assignee (or Unassigned). ``assignees`` are the agent ids (None for nobody) it belongs to, when
    a change moved it or only its id is at hand; a Conversation's own assignee is used otherwise.
    Without a conversation, every tab is told."""
    organization_id = getattr(organization, "pk", organization)
    audiences = _audiences(conversation, assignees)
    transaction.on_commit(lambda: _bump(organization_id, audiences))


def inbox_changed_many(organization, conversations: list[tuple]) -> None:
    """inbox_changed for many conversations at once, given as (conversation id, assignee id or None):
    once the transaction commits, every counter concerned is raised once, in one round trip (the
    inbound pipeline's batch)."""
    organization_id = getattr(organization, "pk", organization)
    audiences = sorted({audience for conversation_id, assignee_id in conversations
                        for audience in _audiences(conversation_id, [assignee_id])})
    if audiences:
        transaction.on_commit(lambda: _bump(organization_id, audiences))


def _audiences(conversation, assignees) -> list[str]:
    if conversation is None:
        return [ANY]
    conversation_id = getattr(conversation, "pk", conversation)
    if assignees is None and hasattr(conversation, "assignee_id"):
        assignees = [conversation.assignee_id]
    if assignees is None:
        return [f"c:{conversation_id}", ANY]
    return [f"c:{conversation_id}"] + sorted({f"a:{agent_id}" if agent_id else UNASSIGNED for agent_id in assignees})


def _bump(organization_id, audiences: list[str]) -> None:
    try:
        with stamps.redis_client().pipeline(transaction=False) as pipe:
            pipe.incr(_key(organization_id))
            for audience in audiences:
                pipe.incr(_key(organization_id, audience))
                if audience.startswith("c:"):
                    pipe.expire(_key(organization_id, audience), CONVERSATION_KEY_SECONDS)
            pipe.execute()
    except Exception as exc:  # Redis down: tabs fall back to reading the database on every poll
        logger.warning("could not signal an inbox change (%s: %s)", type(exc).__name__, exc)


def watched(*, view: str, agent_id=None, conversation_id=None) -> list[str]:
    """The counters a tab showing ``view`` (and perhaps one open conversation) watches."""
    view = view or ("mine" if agent_id else "all")  # the inbox's own default (views._filters)
    if view == "all":
        audiences = [ALL]
    elif view == "mine":
        audiences = [f"a:{agent_id}", ANY] if agent_id else [ANY]
    else:
        audiences = [UNASSIGNED, ANY]
    if conversation_id:
        try:
            audiences.append(f"c:{uuid.UUID(str(conversation_id))}")
        except ValueError:
            audiences.append("c:none")  # never raised: such a tab is sent to the poll, which says 404
    return audiences


def unchanged(version: str, seen: str | None, cursor: datetime | None) -> bool:
    """Whether a tab can be told "nothing new": Redis knows the version, it is the one the tab has
    seen, and the tab read the database less than RECHECK_SECONDS ago."""
    return (bool(version) and version == seen and cursor is not None
            and timezone.now() - cursor < timedelta(seconds=RECHECK_SECONDS))


def inbox_version(organization, audiences: list[str] | None = None) -> str:
    """The version of what a tab watches (by default every change), or "" when Redis cannot say."""
    return version_for(organization.pk, audiences or [ALL])


# The quiet path. A tab asks "anything new?" every 1.5 s; answering that through the session, the
# user and the membership costs about 10 ms of CPU (docs/benchmarks.md), most of a core for 200
# tabs. So the authenticated poll hands the tab a signed, short-lived token naming its
# organization, agent and user, and the tab asks `live/<token>/` first: one signature check and one
# Redis MGET, no database. It tells only whether a counter the tab watches moved; anything more, the
# tab fetches through the authenticated poll, which checks the membership as every page does.
# The token also carries the membership's stamp (tenants/membership_stamps.py), read in the same
# MGET: removing the member deletes the stamp, and their tokens stop working at once.
LIVE_TOKEN_SECONDS = 600
_LIVE_SALT = "softphone.inbox-live"


@dataclass(frozen=True)
class LiveAudience:
    organization_id: str
    agent_id: str  # "" when the tab's user is no agent
    user_id: str
    stamp: str


def live_token(organization, agent=None, *, user) -> str:
    """A signed token naming the organization, the agent the tab belongs to (for Mine), the user and
    the user's membership stamp."""
    stamp = membership_stamp(organization.pk, user.pk)
    return signing.dumps([str(organization.pk), str(agent.pk) if agent is not None else "", str(user.pk), stamp],
                         salt=_LIVE_SALT)


def live_token_audience(token: str) -> LiveAudience | None:
    """Whom a token was issued to, or None if it is forged, expired, or of an older kind."""
    try:
        value = signing.loads(token, salt=_LIVE_SALT, max_age=LIVE_TOKEN_SECONDS)
    except signing.BadSignature:
        return None
    if not (isinstance(value, list) and len(value) == 4 and all(isinstance(part, str) for part in value)):
        return None  # issued before tokens carried a membership stamp: the tab asks the real poll
    if not value[3]:
        return None  # issued while Redis could not answer
    return LiveAudience(*value)


def live_version(audience: LiveAudience, audiences: list[str]) -> str | None:
    """The version of what the tab watches; "" when Redis cannot say; None when the token's
    membership stamp is no longer the member's (removed, or Redis lost it)."""
    keys = [_key(audience.organization_id, name) for name in audiences]
    keys.append(membership_stamp_key(audience.organization_id, audience.user_id))
    try:
        values = stamps.redis_client().mget(keys)
    except Exception:
        return ""
    if (values[-1] or b"").decode() != audience.stamp:
        return None
    return _joined(values[:-1])


def version_for(organization_id: str, audiences: list[str]) -> str:
    try:
        values = stamps.redis_client().mget([_key(organization_id, audience) for audience in audiences])
    except Exception:
        return ""
    return _joined(values)


def _joined(values) -> str:
    return ".".join((value or b"0").decode() for value in values)
