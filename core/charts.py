"""Small charts drawn on the server as SVG: no chart library, nothing from a CDN, nothing to run in the
browser. A chart is an image with a title and a description for screen readers, and its numbers are
also given as a table by the templates that use it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH, HEIGHT = 560, 160
LEFT, BOTTOM, TOP = 32, 20, 8


@dataclass(frozen=True)
class Series:
    key: str  # a CSS class: .chart-<key> colours its bars and its key in the legend
    label: str
    values: tuple[int, ...]  # one per day


def _nice_top(value: int) -> int:
    """The y axis's top: the largest value rounded up to 1, 2 or 5 times a power of ten."""
    if value <= 0:
        return 1
    magnitude = 10 ** (len(str(value)) - 1)
    return next(step * magnitude for step in (1, 2, 5, 10) if step * magnitude >= value)


def daily_bars(*, title: str, days: list[date], series: list[Series]) -> SafeString:
    """Stacked bars, one per day, the series stacked in the order given."""
    totals = [sum(s.values[i] for s in series) for i in range(len(days))]
    top = _nice_top(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - 4, HEIGHT - BOTTOM - TOP
    slot = plot_w / max(len(days), 1)
    bar_w = max(slot * 0.7, 1)
    bars = []
    for i, day in enumerate(days):
        base = 0
        for s in series:
            value = s.values[i]
            if value:
                height = value / top * plot_h
                y = TOP + plot_h - (base + value) / top * plot_h
                bars.append((f"chart-{s.key}", f"{LEFT + i * slot + (slot - bar_w) / 2:.1f}", f"{y:.1f}",
                             f"{bar_w:.1f}", f"{height:.1f}", f"{day:%b %-d}: {value} {s.label.lower()}"))
            base += value
    ticks = [(f"{LEFT + i * slot + slot / 2:.1f}", f"{day:%b %-d}") for i, day in enumerate(days)
             if i % 7 == 0 or i == len(days) - 1]
    total = sum(totals)
    description = (f"{total} in {len(days)} days, at most {max(totals, default=0)} in a day; "
                   + ", ".join(f"{s.label.lower()}: {sum(s.values)}" for s in series))
    return format_html(
        '<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-labelledby="{id}-t {id}-d">'
        '<title id="{id}-t">{title}</title><desc id="{id}-d">{desc}</desc>'
        '<line class="chart-axis" x1="{left}" y1="{base}" x2="{right}" y2="{base}"></line>'
        '<text class="chart-label" x="{lx}" y="{ty}" text-anchor="end">{top}</text>'
        '<text class="chart-label" x="{lx}" y="{base}" text-anchor="end">0</text>'
        '{bars}{ticks}</svg>',
        w=WIDTH, h=HEIGHT, id=_slug(title), title=title, desc=description, left=LEFT, base=TOP + plot_h,
        right=WIDTH - 4, lx=LEFT - 4, ty=TOP + 8, top=top,
        bars=format_html_join("", '<rect class="{}" x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>',
                              bars),
        ticks=format_html_join("", '<text class="chart-label" x="{}" y="' + str(HEIGHT - 4) + '" text-anchor="middle">{}</text>',
                               ticks),
    )


def _slug(text: str) -> str:
    return "chart-" + "".join(c if c.isalnum() else "-" for c in text.lower())[:40]
