"""Counts for badges, counted only as far as a badge shows them.

A top bar badge says "999+" past a point (and a long list's pager "2,000+ calls"); counting further costs the database a row per row (at a
million conversations, 30,000 unread ones took 11 ms to count, the first thousand well under one).
A selector counts ``up_to(queryset, limit)``, which stops at limit + 1, and the page shows
``shown(count, limit)``.
"""

from __future__ import annotations

import json
import sys

from django.core.paginator import Page, Paginator
from django.utils.functional import cached_property


def up_to(queryset, limit: int) -> int:
    """How many rows ``queryset`` has, or ``limit + 1`` if more than ``limit``."""
    return queryset[: limit + 1].count()


def estimated(queryset) -> float:
    """How many rows the planner expects ``queryset`` to return: one EXPLAIN, nothing run (about
    0.2 ms). For choosing between two plans PostgreSQL itself cannot tell apart (docs/benchmarks.md)."""
    if queryset.query.is_empty():
        return 0
    plan = json.loads(queryset.order_by().explain(format="json"))
    return plan[0]["Plan"]["Plan Rows"]


def shown(count: int, limit: int) -> str:
    """``count`` as a badge says it: "1,234" up to ``limit``, then "999+"."""
    return f"{limit:,}+" if count > limit else f"{count:,}"


class CappedPaginator(Paginator):
    """Django's Paginator without the exact count of a long list: it counts up to ``cap`` rows, and
    past that its pages are found by offset, each asking for one row more than it shows to know
    whether a next page exists. Under the cap it is the Paginator it always was. (A call log of
    700,000 calls spent 176 of its 186 ms in PostgreSQL counting them.)"""

    def __init__(self, object_list, per_page, *, cap: int):
        super().__init__(object_list, per_page)
        self.cap = cap

    @cached_property
    def count(self) -> int:
        return up_to(self.object_list, self.cap)

    @property
    def capped(self) -> bool:
        return self.count > self.cap

    @property
    def count_text(self) -> str:
        return shown(self.count, self.cap)

    @cached_property
    def num_pages(self) -> int:
        return sys.maxsize if self.capped else super().num_pages

    def page(self, number):
        if not self.capped:
            return super().page(number)
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        rows = list(self.object_list[bottom:bottom + self.per_page + 1])
        return _CappedPage(rows[: self.per_page], number, self, more=len(rows) > self.per_page)


class _CappedPage(Page):
    def __init__(self, object_list, number, paginator, *, more: bool):
        super().__init__(object_list, number, paginator)
        self.more = more

    def has_next(self) -> bool:
        return self.more
