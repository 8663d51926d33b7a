"""What providers tell us about messages we sent: delivery statuses, moved forward only. (Inbound
messages go through the pipeline, messaging/services/events.py; `message_receive` is the WhatsApp
Cloud API webhook's entry to it.)"""

from __future__ import annotations

import logging

from django.utils import timezone

from messaging.models import STATUS_RANK, Direction, Message, MessageStatus
from messaging.providers.base import readable_error
from tenants.models import Organization

from .events import message_receive
from .live import inbox_changed

__all__ = ["enqueue_for", "message_receive", "status_update"]

logger = logging.getLogger(__name__)


def enqueue_for(task, organization, row) -> None:
    """After commit: a broker outage must not lose the row, which is already stored."""
    try:
        task.delay(organization_id=str(organization.pk), message_id=str(row.pk))
    except Exception as exc:  # kombu raises several kinds; the sweeper catches up once Redis is back
        logger.warning("could not enqueue %s for %s (%s: %s); it will be swept", task.name, row.pk,
                       type(exc).__name__, exc)


def status_update(*, organization: Organization, provider_sid: str, status: str, error_code: str = "",
                  error_message: str = "") -> bool:
    """Move a message's status forward, never back. Unknown sids change nothing. True if changed."""
    if status not in STATUS_RANK:
        return False
    lower = [s for s, rank in STATUS_RANK.items() if rank < STATUS_RANK[status] and s != MessageStatus.RECEIVED]
    fields = {"status": status, "updated_at": timezone.now()}
    if status in (MessageStatus.FAILED, MessageStatus.UNDELIVERED):
        fields["error_code"] = str(error_code or "")
        # Our words for codes we know; the provider's own words otherwise.
        fields["error_message"] = readable_error(error_code, error_message) if error_code else error_message
    if status == MessageStatus.SENT:
        fields["sent_at"] = timezone.now()
    changed = Message.objects.filter(organization=organization, provider_sid=provider_sid,
                                     direction=Direction.OUTBOUND, status__in=lower).update(**fields)
    if changed:
        # Tell the tabs that can show it: the conversation's own and its assignee's.
        found = (Message.objects.filter(organization=organization, provider_sid=provider_sid)
                 .values_list("conversation_id", "conversation__assignee_id").first())
        if found:
            inbox_changed(organization, found[0], assignees=[found[1]])
    return changed > 0
