"""Counts for badges, counted only as far as a badge shows them.

A top bar badge says "999+" past a point; counting further costs the database a row per row (at a
million conversations, 30,000 unread ones took 11 ms to count, the first thousand well under one).
A selector counts ``up_to(queryset, limit)``, which stops at limit + 1, and the page shows
``shown(count, limit)``.
"""

from __future__ import annotations


def up_to(queryset, limit: int) -> int:
    """How many rows ``queryset`` has, or ``limit + 1`` if more than ``limit``."""
    return queryset[: limit + 1].count()


def shown(count: int, limit: int) -> str:
    """``count`` as a badge says it: "1,234" up to ``limit``, then "999+"."""
    return f"{limit:,}+" if count > limit else f"{count:,}"
