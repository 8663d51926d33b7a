"""Benchmark: how inbox search finds each kind of match, each way, and whether it chose well (issue 21).

A search is a union of branches, one per kind of match (a contact's name, a number's digits, a
message's words). Each branch either sorts its matching conversations or walks the conversations
newest first until a page matches, testing each on its own row where it can (the words of its
contact and of its messages, kept on the row by migration messaging 0015); a message word the
planner's statistics say nothing about is looked for in the newest WINDOW conversations first, and
sorted only when they held less than a page. messaging.selectors._search_order chooses. For each
term this times every branch every way (each way's first run, as an agent's search meets it;
parallel workers off, as the page runs it) and prints which way was chosen; at the end, how many
branches were chosen more than 25 ms slower than the fastest other way, and the sum per term of
the chosen ways.

    BENCH_SIZE=10m .venv/bin/python -m bench.bench_search_plans [TERM ...]

Without terms: the sixty first names the inbox benchmark searches for, and a few other kinds.
Uses the inbox benchmark's data (bench/inbox_data.py, generated when missing).
"""

from __future__ import annotations

import os
import random
import sys
import time
from dataclasses import replace

import django

from bench.common import prepare_database, use_bench_database

os.environ["DJANGO_SETTINGS_MODULE"] = "bench.inbox_settings"
use_bench_database(sized=True)
django.setup()

from django.db import connection, transaction  # noqa: E402

from bench import inbox_data  # noqa: E402
from core import counts  # noqa: E402
from messaging import selectors  # noqa: E402
from tenants.scoping import tenant_scope  # noqa: E402

WORSE_BY_MS = 25.0
OTHER_TERMS = ["Mary Smith", "order 41234", "order 4", "4", "hi", "thanks", "delivery", "j", "jo", "4155550",
               "thanks order", "jennifer refund"]


def first_run(qs) -> float:
    """The query's time the first time it runs, as an agent's search meets it: what it reads is
    seldom in memory already (a best of three timed the sorts of a first name's messages at 3 µs a
    match, a page at 20 to 40)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("set local max_parallel_workers_per_gather = 0")
        started = time.perf_counter()
        list(qs.all())
        return (time.perf_counter() - started) * 1000


def window_run(shown, match, limit: int) -> tuple[float, int]:
    """The newest conversations looked through first (messaging.selectors._window): ms, rows found."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("set local max_parallel_workers_per_gather = 0")
        started = time.perf_counter()
        rows = selectors._window(cursor, shown, match, limit)
        return (time.perf_counter() - started) * 1000, len(rows)


def main() -> int:
    prepare_database()
    organization = inbox_data.ensure_inbox_data().organization
    terms = sys.argv[1:]
    if not terms:
        firsts = inbox_data.FIRST_NAMES[:80]
        random.Random(7).shuffle(firsts)  # the inbox benchmark's choice (bench_inbox.search_terms)
        terms = firsts[:60] + OTHER_TERMS
    print(f"{'term':<14} {'branch':<12} {'estimate':>9} {'walk':>8} {'sort':>8} {'window':>8}  chosen")
    worse, per_term = [], {}
    with tenant_scope(organization):
        for term in terms:
            filters = selectors.InboxFilters(q=term)
            shown = selectors.inbox_filtered(organization=organization, agent=None,
                                             filters=replace(filters, q="", status=""))
            conversations = counts.estimated(shown)
            for match in selectors._search_matches(organization, term) or []:
                limit = selectors.INBOX_PAGE + 1
                _, order, windowed = selectors._search_order(match, conversations, limit)
                sorts = order[0] != "-last_message_at"
                window, found = window_run(shown, match, limit) if match.window else (None, 0)
                walk = first_run(shown.filter(match.walk_condition()).order_by("-last_message_at", "-id")
                                 .values_list("last_message_at", "pk")[:limit])
                sort = first_run(shown.filter(match.condition())
                                 .order_by(selectors._Unindexed("last_message_at").desc(), "-id")
                                 .values_list("last_message_at", "pk")[:limit])
                if window is not None and found < limit:
                    window += sort  # the window held less than a page: its matches are sorted after
                ways = {"walk": walk, "sort": sort, **({"window": window} if window is not None else {})}
                how = "window" if windowed else "sort" if sorts else "walk"
                chosen, other = ways[how], min(t for way, t in ways.items() if way != how)
                per_term[term] = per_term.get(term, 0.0) + chosen
                if chosen - other > WORSE_BY_MS:
                    worse.append((term, match.column, how, round(chosen, 1), round(other, 1)))
                print(f"{term[:14]:<14} {match.column:<12} {counts.estimated(match.values):>9.0f} {walk:>8.1f} "
                      f"{sort:>8.1f} {'' if window is None else f'{window:.1f}':>8}  {how}", flush=True)
    sums = sorted(per_term.values())
    print(f"\n{len(per_term)} terms; per term, the chosen branches together: median {sums[len(sums) // 2]:.1f} ms, "
          f"p95 {sums[int(len(sums) * 0.95)]:.1f} ms, max {sums[-1]:.1f} ms")
    print(f"branches chosen more than {WORSE_BY_MS:.0f} ms slower than the other way: {len(worse)} {worse or ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
