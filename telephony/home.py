"""The calls panels of an organization's home page (tenants.signals.home_panels_requested): missed
calls (today, not yet looked at, the latest), and the calls of each day over the last four weeks.
Read through the asking member's access."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from core.charts import Series, daily_bars
from core.dates import day_start
from tenants.models import Organization
from tenants.signals import HomePanel

from .models import Call, CallDirection
from .selectors import MISSED, missed_calls_unseen_count

CHART_DAYS = 28
LATEST_MISSED = 5


def calls_per_day(*, organization: Organization, days: int = CHART_DAYS) -> tuple[list, list[Series]]:
    today = timezone.localdate()
    dates = [today - timedelta(days=days - 1 - i) for i in range(days)]
    rows = (Call.objects.filter(organization=organization, created_at__gte=day_start(dates[0]))
            .annotate(day=TruncDate("created_at")).order_by().values("day")
            .annotate(missed=Count("id", filter=MISSED),
                      answered=Count("id", filter=Q(direction=CallDirection.INBOUND) & ~MISSED),
                      outbound=Count("id", filter=Q(direction=CallDirection.OUTBOUND))))
    by_day = {row["day"]: row for row in rows}
    series = [Series(key, label, tuple(by_day.get(day, {}).get(key, 0) for day in dates))
              for key, label in (("answered", "Answered"), ("missed", "Missed"), ("outbound", "Outbound"))]
    return dates, series


def home_panels(sender, organization: Organization, **kwargs) -> list[HomePanel]:
    today = day_start(timezone.localdate())
    missed = Call.objects.filter(MISSED, organization=organization)
    dates, series = calls_per_day(organization=organization)
    return [
        HomePanel(20, "telephony/_home_calls.html", {
            "missed_today": missed.filter(created_at__gte=today).count(),
            "unseen": missed_calls_unseen_count(organization=organization),
            "calls_today": Call.objects.filter(organization=organization, created_at__gte=today).count(),
            "latest_missed": list(missed.select_related("contact", "phone_number").order_by("-created_at")[:LATEST_MISSED]),
        }),
        HomePanel(40, "telephony/_home_calls_chart.html", {
            "chart": daily_bars(title=f"Calls per day, last {len(dates)} days", days=dates, series=series),
            "rows": list(zip(dates, *(s.values for s in series), strict=True)), "series": series}),
    ]
