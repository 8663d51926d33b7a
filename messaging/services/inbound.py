"""What providers tell us about messages we sent: delivery statuses, moved forward only. (Inbound
messages go through the pipeline, messaging/services/events.py.)"""

from __future__ import annotations

from django.utils import timezone

from messaging.models import STATUS_RANK, Direction, Message, MessageStatus
from tenants.models import Organization

from .live import inbox_changed


def status_update(*, organization: Organization, provider_sid: str, status: str, error_code: str = "",
                  error_message: str = "") -> bool:
    """Move a message's status forward, never back. Unknown sids change nothing, and no sid (a
    vendor's event without one) names no message: never the ones not sent yet, which have none. True
    if changed."""
    if status not in STATUS_RANK or not provider_sid:
        return False
    lower = [s for s, rank in STATUS_RANK.items() if rank < STATUS_RANK[status] and s != MessageStatus.RECEIVED]
    fields = {"status": status, "updated_at": timezone.now()}
    if status in (MessageStatus.FAILED, MessageStatus.UNDELIVERED):
        fields["error_code"] = str(error_code or "")
        fields["error_message"] = error_message  # readable: the adapter's words for the code (StatusUpdate)
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
