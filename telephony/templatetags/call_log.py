"""Calls in templates: their outcome in words, lengths, the other party, and the missed-call badge; and
what a number's carrier carries (`carrier`)."""

from __future__ import annotations

from django import template

from core import counts
from telephony import presentation, selectors
from telephony.rows import call_rows_html

register = template.Library()

register.filter("call_outcome", presentation.call_outcome)
register.filter("call_kind", presentation.call_kind)
register.filter("counterpart", presentation.counterpart)
register.filter("duration", presentation.duration_text)
register.filter("carrier", presentation.carrier_traits)


@register.simple_tag(takes_context=True)
def missed_calls_unseen(context) -> int:
    """The top bar's missed-call count for the organization of the page (0 for anyone else)."""
    request = context.get("request")
    organization = getattr(request, "organization", None)
    user = getattr(request, "user", None)
    if organization is None or getattr(request, "membership", None) is None or not getattr(
            user, "is_authenticated", False):
        return 0
    return selectors.missed_calls_unseen_count(organization=organization)


@register.filter
def missed_text(count: int) -> str:
    """A missed-call count as the badge says it: up to 99, then "99+"."""
    return counts.shown(count, selectors.MISSED_SHOWN_UP_TO)


@register.simple_tag(takes_context=True)
def call_rows(context, rows) -> str:
    """The call log's rows (telephony/rows.py renders them, far faster than the template did)."""
    return call_rows_html(rows, org_slug=context["organization"].slug)
