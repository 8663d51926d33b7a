"""What crm tells the apps above it, which it does not know (core <- tenants <- crm <- … <- messaging).

`contact_changed` (keyword argument `contact`) is sent after a write that changes what is shown of
a contact beside its conversations (its opt-outs, its notes), inside the writer's transaction:
messaging listens and tells the open inbox tabs once it commits (messaging/apps.py)."""

from __future__ import annotations

from django.dispatch import Signal

contact_changed = Signal()
