"""The labels in use, for a label filter's suggestions (the inbox's conversations, the contacts page)."""

from __future__ import annotations

from django.db.models import Func, QuerySet

SUGGESTED_UP_TO = 200


def labels_in_use(*, counted: QuerySet, labelled: QuerySet, everything: bool) -> list[str]:
    """The labels in use, alphabetically. A member who sees every row reads `counted` (a table of
    label counts kept by a trigger, its rows with a count above zero: a few rows); one who sees only
    some rows reads the labels of `labelled` (the rows with a label they may see), so that no label
    of a row hidden from them is shown."""
    if everything:
        return list(counted.order_by("label").values_list("label", flat=True)[:SUGGESTED_UP_TO])
    # order_by("label") also replaces the model's default ordering, which DISTINCT would otherwise
    # include (one row per label and time, so a label could be listed twice and others cut off).
    labels = (labelled.annotate(label=Func("labels", function="unnest")).values_list("label", flat=True)
              .order_by("label").distinct())
    return list(labels[:SUGGESTED_UP_TO])
