"""Who answers a number: assignment to an agent (person or AI), one at a time."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from telephony import jobs
from telephony.models import NumberStatus, PhoneNumber, PlatformState
from tenants.models import Agent, AgentKind, Organization
from tenants.selectors import member_sees_client
from tenants.services import audit

from .platform import platform_account


def _wants_platform(number: PhoneNumber, agent: Agent | None) -> bool:
    return agent is not None and agent.kind == AgentKind.AI and number.status == NumberStatus.ACTIVE


def phone_number_assign(*, organization: Organization, actor, number: PhoneNumber, agent: Agent | None,
                        only_if_unassigned: bool = False) -> PhoneNumber:
    """Give ``number`` to ``agent`` (None unassigns). The number row is locked for the change, so two
    concurrent assignments are applied one after the other, never interleaved; VAPI follows in a
    worker after commit. With ``only_if_unassigned`` a number someone else just assigned is left
    alone (bulk assignment from a list that may be stale)."""
    with transaction.atomic():
        locked = PhoneNumber.objects.select_for_update().get(organization=organization, pk=number.pk)
        if agent is not None:
            if agent.organization_id != organization.pk:
                raise ValidationError({"agent_id": "No such agent."})
            if locked.client_id and agent.client_id and agent.client_id != locked.client_id:
                raise ValidationError({"agent_id": "This agent works for another client than the number."})
            if agent.user_id and not member_sees_client(organization=organization, user_id=agent.user_id,
                                                        client_id=locked.client_id):
                raise ValidationError({"agent_id": f"{agent.name} is limited to other clients and could not see "
                                                   "this number's conversations."})
            if locked.status == NumberStatus.INACTIVE:
                raise ValidationError({"agent_id": "This number is inactive and cannot be assigned."})
            if agent.kind == AgentKind.AI and platform_account(organization) is None:
                raise ValidationError({"agent_id": "Connect a VAPI account before assigning numbers to AI agents."})
            if agent.kind == AgentKind.AI and not locked.can("voice"):
                raise ValidationError({"agent_id": "This number cannot take calls, so an AI voice agent cannot answer it."})
        if only_if_unassigned and locked.agent_id is not None and locked.agent_id != getattr(agent, "pk", None):
            return locked
        if locked.agent_id == getattr(agent, "pk", None):
            return locked
        previous = locked.agent
        locked.agent = agent
        needs_platform = _wants_platform(locked, agent) or bool(locked.platform_id)
        if needs_platform:
            locked.platform_state = PlatformState.PENDING
            locked.platform_error = ""
        locked.save(update_fields=["agent", "platform_state", "platform_error", "updated_at"])
        audit(organization=organization, actor=actor,
              verb="phone_number.assigned" if agent else "phone_number.unassigned", target=locked,
              data={"from": previous.name if previous else None, "to": agent.name if agent else None,
                    "to_kind": agent.kind if agent else None})
        if needs_platform:
            jobs.phone_number_platform_sync(organization.pk, locked.pk)
    return locked


def phone_numbers_bulk_assign(*, organization: Organization, actor, numbers: list[PhoneNumber],
                              agent: Agent | None, only_if_unassigned: bool = True) -> dict:
    """Assign several numbers; each is its own change (and its own history line)."""
    result = {"assigned": 0, "skipped": 0, "errors": []}
    for number in numbers:
        try:
            after = phone_number_assign(organization=organization, actor=actor, number=number, agent=agent,
                                        only_if_unassigned=only_if_unassigned)
        except ValidationError as exc:
            result["errors"].append({"item": number.phone_number, "error": " ".join(exc.messages)})
            continue
        if after.agent_id == getattr(agent, "pk", None):
            result["assigned"] += 1
        else:
            result["skipped"] += 1
    return result


def agent_numbers_resync(*, organization: Organization, agent: Agent) -> int:
    """The agent changed in a way VAPI must hear of (its assistant, or its kind): every number of
    the agent that is, or should be, on the platform is synced again by a worker after commit
    (an AI agent's new assistant then answers each of them). Returns how many were asked for."""
    numbers = list(PhoneNumber.objects.select_for_update().filter(organization=organization, agent=agent))
    asked = 0
    for number in numbers:
        if not (_wants_platform(number, agent) or number.platform_id):
            continue
        PhoneNumber.objects.filter(organization=organization, pk=number.pk).update(
            platform_state=PlatformState.PENDING, platform_error="")
        jobs.phone_number_platform_sync(organization.pk, number.pk)
        asked += 1
    return asked


def agent_numbers_unassign(*, organization: Organization, actor, agent: Agent) -> int:
    """The agent is about to be deleted: each of its numbers is unassigned as a person would do it
    (a history line each; a number on VAPI leaves it and gets our voice routing back). Returns how
    many."""
    numbers = list(PhoneNumber.objects.filter(organization=organization, agent=agent))
    for number in numbers:
        phone_number_assign(organization=organization, actor=actor, number=number, agent=None)
    return len(numbers)
