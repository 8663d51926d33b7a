"""Days as the person asking reads them."""

from __future__ import annotations

from datetime import date, datetime, time

from django.utils import timezone


def day_start(day: date) -> datetime:
    """Midnight of `day` in the current time zone."""
    return timezone.make_aware(datetime.combine(day, time.min))


def short_datetime(value: datetime) -> str:
    """Nov 22, 14:05 in the current time zone (lists and rows; the browser rewrites it in the
    reader's own time zone and language where a script runs)."""
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return f"{value.strftime('%b')} {value.day}, {value.strftime('%H:%M')}"
