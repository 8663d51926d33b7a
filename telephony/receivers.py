"""What telephony does when tenants tells it something (tenants.signals; connected in apps.ready).

Receivers only translate the signal into one service call each: numbers follow their agent."""

from __future__ import annotations

from tenants.models import Agent
from tenants.signals import AssistantCatalog

from .services import assignment, assistants


def agent_changed(sender, *, agent: Agent, changed: frozenset, **_) -> None:
    if changed & {"kind", "assistant_id"}:
        assignment.agent_numbers_resync(organization=agent.organization, agent=agent)


def agent_deleting(sender, *, agent: Agent, actor=None, **_) -> None:
    assignment.agent_numbers_unassign(organization=agent.organization, actor=actor, agent=agent)


def assistants_requested(sender, *, organization, fresh: bool = False, **_) -> AssistantCatalog | None:
    return assistants.assistant_catalog(organization=organization, fresh=fresh)
