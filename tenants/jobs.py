"""The background work tenants' services ask for, by task name (see core.jobs)."""

from __future__ import annotations

from core.jobs import enqueue


def invitation_send(organization_id, invitation_id) -> None:
    enqueue("tenants.invitation_send", organization_id=str(organization_id), invitation_id=str(invitation_id))


def password_reset_send(user_id) -> None:
    # Nothing is written before it: sent at once, not on a commit that may never come.
    enqueue("tenants.password_reset_send", on_commit=False, user_id=str(user_id))
