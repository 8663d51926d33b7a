"""Filters for the inbox's hot templates (a list page renders 50 rows, a thread 50 bubbles).

Django's `date` filter looks its format up through the localisation machinery on every call; these
fixed formats cost a strftime. The times are only a fallback: static/js/inbox.js rewrites them in
the agent's own time zone and language (`data-relative`, `data-clock`).
"""

from __future__ import annotations

import re
from datetime import datetime

from django import template
from django.template.defaultfilters import linebreaksbr
from django.urls import reverse
from django.utils import timezone
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe

from core.dates import short_datetime
from messaging.rows import rows_html
from messaging.services.attachments import attachment_fresh_link
from messaging.services.policy import whatsapp_window_closes_at
from telephony.models import Call

register = template.Library()


@register.filter(expects_localtime=True)
def clock(value: datetime | None) -> str:
    """14:05"""
    return value.strftime("%H:%M") if value else ""


@register.filter(expects_localtime=True)
def day(value: datetime | None) -> str:
    """2026-11-22 (the thread's day separators group bubbles by it)"""
    return value.strftime("%Y-%m-%d") if value else ""


@register.filter(expects_localtime=True)
def when(value: datetime | None) -> str:
    """Nov 22, 14:05"""
    return short_datetime(value) if value else ""


@register.filter
def stamp(value: datetime | None) -> str:
    """Seconds since the epoch with microseconds: a row's or header's `updated_at`, which the page
    compares to ignore an answer older than what it shows."""
    return f"{value.timestamp():.6f}" if value else ""


@register.filter
def attachment_href(url: str) -> str:
    """A link to an outbound attachment that works now: links to our files expire, so a thread
    shows a freshly signed one (the stored link stays expired)."""
    return attachment_fresh_link(url or "")


@register.filter
def is_call(item) -> bool:
    """Whether a thread item is a call (templates/messaging/_call.html) rather than a message."""
    return isinstance(item, Call)


# "#1042" in a message: a link to that order (crm's order-by-number page resolves it, or says there
# is none). Not after "&" or a letter: an escaped entity or a word such as "abc#12" is left alone.
ORDER_REFERENCE = re.compile(r"(?<![&\w])#(\d{3,9})\b")


@register.filter
def message_text(body: str, org_slug: str) -> str:
    """A message's text as HTML: escaped, line breaks kept, order numbers linked (found in the text as
    the customer wrote it, so "&#1001;" stays text)."""
    parts, end = [], 0
    for match in ORDER_REFERENCE.finditer(body):
        url = reverse("crm:order-by-number", kwargs={"org_slug": org_slug, "number": int(match.group(1))})
        parts += [conditional_escape(body[end:match.start()]), f'<a class="order-ref" href="{url}">#{match.group(1)}</a>']
        end = match.end()
    parts.append(conditional_escape(body[end:]))
    # Each piece of the customer's text is escaped; only our own links are added.
    return mark_safe(linebreaksbr("".join(parts), autoescape=False))  # noqa: S308


TEMPLATE_VARIABLE = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")


@register.filter
def template_text(text: str) -> str:
    """A WhatsApp template's text as HTML: escaped, line breaks kept, each {{variable}} marked."""
    parts, end = [], 0
    for match in TEMPLATE_VARIABLE.finditer(text or ""):
        parts += [conditional_escape(text[end:match.start()]),
                  f'<mark class="variable">{{{{{conditional_escape(match.group(1))}}}}}</mark>']
        end = match.end()
    parts.append(conditional_escape((text or "")[end:]))
    # The template's text is escaped piece by piece; only our own <mark> is added.
    return mark_safe(linebreaksbr("".join(parts), autoescape=False))  # noqa: S308


@register.filter
def whatsapp_window(conversation) -> dict:
    """A WhatsApp conversation's 24-hour window: when it closes (or closed; None before the customer
    ever wrote) and whether it is open now."""
    closes = whatsapp_window_closes_at(conversation)
    return {"closes": closes, "open": closes is not None and closes > timezone.now()}


@register.simple_tag(takes_context=True)
def inbox_rows(context, rows, open_id="") -> str:
    """The list's rows (messaging/rows.py renders them, far faster than a template per row)."""
    return rows_html(rows, org_slug=context["request"].organization.slug, open_id=str(open_id or ""))
