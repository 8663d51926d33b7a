"""What people do with calls after the fact: write notes on them, and look at missed ones.

Looking is team-wide, like reading a conversation: one person opening the log clears the missed-call
badge for everyone (the log is where the badge leads)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from telephony.models import Call
from telephony.selectors import MISSED
from tenants.models import Organization
from tenants.services import audit

NOTES_LONGEST = 10_000


@transaction.atomic
def call_notes_update(*, organization: Organization, actor, call: Call, notes: str) -> Call:
    """Replace the call's notes (audited: who wrote what on a customer's call matters later)."""
    notes = (notes or "").strip()
    if len(notes) > NOTES_LONGEST:
        raise ValidationError({"notes": f"Notes can be at most {NOTES_LONGEST:,} characters."})
    locked = Call.objects.select_for_update().get(organization=organization, pk=call.pk)
    if locked.notes != notes:
        locked.notes = notes
        locked.save(update_fields=["notes", "updated_at"])
        audit(organization=organization, actor=actor, verb="call.notes_updated", target=locked,
              data={"length": len(notes)})
    return locked


def missed_calls_mark_seen(*, organization: Organization, calls: QuerySet[Call]) -> int:
    """Mark the unseen missed calls among `calls` (a call_list queryset, filters and all) as seen.
    One UPDATE through the partial index call_unseen_missed_idx; returns how many were new."""
    ids = calls.filter(MISSED, seen_at__isnull=True).order_by().values("pk")
    return Call.objects.filter(organization=organization, pk__in=ids, seen_at__isnull=True).update(
        seen_at=timezone.now())


def missed_call_mark_seen(*, organization: Organization, call: Call) -> bool:
    """Someone opened this call: if it was a missed one nobody had looked at, it no longer counts."""
    if not call.missed or call.seen_at is not None:
        return False
    return bool(Call.objects.filter(organization=organization, pk=call.pk, seen_at__isnull=True).update(
        seen_at=timezone.now()))
