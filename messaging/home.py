"""The messaging panels of an organization's home page (tenants.signals.home_panels_requested): open
conversations by status, the customers waiting for an answer (longest first), today's first-response
time, and the messages of each day over the last four weeks. Read through the asking member's access."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, OuterRef, Q, Subquery
from django.db.models.functions import TruncDate
from django.utils import timezone

from core.charts import Series, daily_bars
from core.dates import day_start
from tenants.models import Organization
from tenants.signals import HomePanel

from .models import Conversation, ConversationStatus, Direction, Message

CHART_DAYS = 28
WAITING_SHOWN = 5


def conversation_figures(*, organization: Organization) -> dict:
    counts = dict(Conversation.objects.filter(organization=organization).order_by()
                  .values_list("status").annotate(n=Count("id")))
    # Unanswered: open, and the customer wrote last.
    unanswered = Conversation.objects.filter(organization=organization, status=ConversationStatus.OPEN,
                                             last_inbound_at__isnull=False, last_inbound_at__gte=F("last_message_at"))
    return {
        "by_status": [(label, counts.get(value, 0), value) for value, label in ConversationStatus.choices],
        "unanswered": unanswered.count(),
        "waiting": list(unanswered.select_related("contact", "phone_number", "whatsapp_sender")
                        .order_by("last_inbound_at")[:WAITING_SHOWN]),
    }


def first_response_today(*, organization: Organization) -> dict:
    """Of the conversations a customer wrote in today, how long the team took, on average, from the
    customer's first message today to a person's first answer after it; and how many are still
    waiting for that answer."""
    start = day_start(timezone.localdate())
    first_in = (Message.objects.filter(organization=organization, conversation=OuterRef("pk"),
                                       direction=Direction.INBOUND, created_at__gte=start)
                .order_by("created_at").values("created_at")[:1])
    first_out = (Message.objects.filter(organization=organization, conversation=OuterRef("pk"),
                                        direction=Direction.OUTBOUND, created_by__isnull=False,
                                        created_at__gt=OuterRef("first_in"))
                 .order_by("created_at").values("created_at")[:1])
    rows = (Conversation.objects.filter(organization=organization, last_inbound_at__gte=start)
            .annotate(first_in=Subquery(first_in)).filter(first_in__isnull=False)
            .annotate(first_out=Subquery(first_out)))
    figures = rows.aggregate(
        average=Avg(ExpressionWrapper(F("first_out") - F("first_in"), output_field=DurationField()),
                    filter=Q(first_out__isnull=False)),
        answered=Count("pk", filter=Q(first_out__isnull=False)),
        waiting=Count("pk", filter=Q(first_out__isnull=True)))
    return figures


def messages_per_day(*, organization: Organization, days: int = CHART_DAYS) -> tuple[list, dict]:
    today = timezone.localdate()
    dates = [today - timedelta(days=days - 1 - i) for i in range(days)]
    rows = (Message.objects.filter(organization=organization, created_at__gte=day_start(dates[0]))
            .exclude(direction=Direction.NOTE).annotate(day=TruncDate("created_at")).order_by()
            .values_list("day", "direction").annotate(n=Count("id")))
    counts = {(day, direction): n for day, direction, n in rows}
    return dates, {direction: tuple(counts.get((day, direction), 0) for day in dates)
                   for direction in (Direction.INBOUND, Direction.OUTBOUND)}


def _duration(value: timedelta | None) -> str:
    if value is None:
        return "—"
    seconds = int(value.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def home_panels(sender, organization: Organization, **kwargs) -> list[HomePanel]:
    figures = conversation_figures(organization=organization)
    response = first_response_today(organization=organization)
    dates, per_direction = messages_per_day(organization=organization)
    series = [Series("inbound", "From customers", per_direction[Direction.INBOUND]),
              Series("outbound", "From the team", per_direction[Direction.OUTBOUND])]
    return [
        HomePanel(10, "messaging/_home_conversations.html", {
            **figures, "first_response": _duration(response["average"]), "answered_today": response["answered"],
            "waiting_today": response["waiting"]}),
        HomePanel(30, "messaging/_home_messages.html", {
            "chart": daily_bars(title=f"Messages per day, last {len(dates)} days", days=dates, series=series),
            "rows": list(zip(dates, *(s.values for s in series), strict=True)), "series": series}),
    ]
