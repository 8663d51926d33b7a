"""Days as the person asking reads them."""

from __future__ import annotations

from datetime import date, datetime, time

from django.utils import timezone


def day_start(day: date) -> datetime:
    """Midnight of `day` in the current time zone."""
    return timezone.make_aware(datetime.combine(day, time.min))
