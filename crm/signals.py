"""What crm tells the apps above it, which it does not know (core <- tenants <- crm <- … <- messaging).

`contact_changed` (keyword argument `contact`) is sent after a write that changes what is shown of
a contact beside its conversations (its opt-outs, its notes), inside the writer's transaction:
messaging listens and tells the open inbox tabs once it commits (messaging/apps.py)."""

from __future__ import annotations

from django.dispatch import Signal

contact_changed = Signal()

# `contacts_merging` (keyword arguments `organization`, `survivor`, `duplicate`, `moved`) is sent by
# crm.merges.contact_merge inside its transaction, both contacts locked, before it moves the rows that
# point at the duplicate to the survivor. A receiver settles what a plain move would break (messaging:
# two conversations of the person on the same line of ours become one) and counts what it did in
# `moved` (a dict: what was moved -> how many), which the merge's record shows.
contacts_merging = Signal()
