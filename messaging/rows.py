"""The inbox list's rows as HTML, written in Python rather than a template.

A list page is 50 rows, the live poll sends rows too, and Django's template engine spent about
250 microseconds on each (some 30 variable lookups, each through its resolution machinery): most of
the list's time. Here a row costs a few string joins. Every value that comes from a customer, an
agent or a label goes through ``escape``; the rest are our own constants, numbers and ids, and the
two routes a row links to (core.paths).

What a row shows, and the attributes static/js/inbox.js reads (``data-sort``, ``data-id``,
``data-updated``, ``aria-current``), are tested through the pages in tests/messaging/test_inbox.py.
"""

from __future__ import annotations

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator

from core.dates import short_datetime
from core.paths import FIRST_ID, path

BY_MEANING = ('<span class="chip by-meaning" title="Says something close to what you searched for, in other '
              'words">By meaning</span>')
WORDS_AND_MEANING = '<span class="chip by-meaning">Words and meaning</span>'


def row_html(row, *, org_slug: str, open_id: str = "") -> SafeString:
    pk = str(row.pk)
    at = row.last_message_at.isoformat() if row.last_message_at else ""
    updated = f"{row.updated_at.timestamp():.6f}" if row.updated_at else ""
    unread = row.unread_count
    contact = row.contact
    hit = getattr(row, "hit", None)
    if hit:
        preview = f'<span class="row-preview row-hit">{escape(Truncator(hit.message.body).chars(140))}</span>'
    else:
        preview = f'<span class="row-preview">{escape(row.last_message_preview or "—")}</span>'
    chips = [f'<span class="chip">{"WhatsApp" if row.channel == "whatsapp" else "SMS"} · {escape(row.line_label)}</span>']
    if contact.odd_address:
        chips.append(f'<span class="chip address-kind">{escape(contact.get_address_kind_display())}</span>')
    if row.status != "open":
        chips.append(f'<span class="chip status-{escape(row.status)}">{escape(row.get_status_display())}</span>')
    if row.assignee:
        chips.append(f'<span class="chip">{escape(row.assignee.name)}</span>')
    else:
        chips.append('<span class="chip muted">Unassigned</span>')
    chips += [f'<span class="chip label">{escape(label)}</span>' for label in row.labels]
    if hit and "meaning" in hit.matched_by:
        chips.append(BY_MEANING if "words" not in hit.matched_by else WORDS_AND_MEANING)
    if unread:
        chips.append(f'<span class="unread-badge" aria-label="{unread} unread">{unread}</span>')
    href = f'{escape(path("messaging:inbox", org_slug=org_slug))}?c={pk}'
    hx_get = escape(path("messaging:conversation-open", org_slug=org_slug, conversation_id=FIRST_ID).replace(FIRST_ID, pk))
    current = ' aria-current="true"' if open_id == pk else ""
    time = f'<time class="row-time" datetime="{at}" data-relative>{short_datetime(row.last_message_at)}</time>' if at else (
        '<time class="row-time" datetime="" data-relative></time>')
    return mark_safe(  # noqa: S308 - every value from outside is escaped above
        f'<li id="row-{pk}" class="row-item{" unread" if unread else ""}" data-sort="{at}|{pk}" data-id="{pk}" '
        f'data-updated="{updated}">'
        f'<a class="conv-link" href="{href}" hx-get="{hx_get}" '
        f'hx-target="#thread-pane" hx-swap="innerHTML"{current}>'
        f'<span class="row-top"><span class="row-name">{escape(str(contact))}</span>{time}</span>'
        f'{preview}<span class="row-meta">{"".join(chips)}</span></a></li>\n'
    )


def rows_html(rows, *, org_slug: str, open_id: str = "") -> SafeString:
    return mark_safe("".join(row_html(row, org_slug=org_slug, open_id=open_id) for row in rows))  # noqa: S308
