"""Reads. Every function takes the organization first and filters by it explicitly."""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS
from django.db.models import Prefetch, QuerySet

from . import presence
from .models import Agent, AuditEvent, Client, ClientAccess, Invitation, Membership, Organization, Role
from .rls import execute_bypassing
from .scoping import get_for_org, tenant_scope
from .signals import AssistantCatalog, HomePanel, assistants_requested, home_panels_requested


def organizations_for_user(user) -> list[Organization]:
    """The organizations a person may enter, for the switcher and the home page.

    Crosses tenants on purpose, but only along the person's own memberships (or every organization
    for staff); listed among the bypass uses.
    """
    if user.is_staff:
        return list(Organization.objects.all())
    # Every page's top bar asks: one round trip (four with platform_scope around an ORM query). Only
    # what the switcher and the home page show is loaded; any other field loads when read.
    rows = execute_bypassing(
        "select o.id, o.name, o.slug from tenants_organization o where o.id in "
        "(select m.organization_id from tenants_membership m where m.user_id = %s) order by o.name, o.id",
        [user.pk])
    return [Organization.from_db(DEFAULT_DB_ALIAS, ["id", "name", "slug"], row) for row in rows]


def lands_in_inbox(user, organization: Organization) -> bool:
    """Whether the person lands in the inbox rather than on the home page: agents work the inbox;
    owners and admins (and staff) start from the organization's figures."""
    if user.is_staff:
        return False
    with tenant_scope(organization):
        return Membership.objects.filter(user=user, role=Role.AGENT).exists()


def home_panels(*, organization: Organization) -> list[HomePanel]:
    """The home page's panels, from every app that has figures to show (tenants.signals)."""
    panels = [panel for _, answer in home_panels_requested.send(sender=Organization, organization=organization)
              for panel in (answer or [])]
    return sorted(panels, key=lambda panel: panel.order)


def membership_list(*, organization: Organization) -> QuerySet[Membership]:
    """The members, with the clients the limited ones see (of those the asking member sees)."""
    return (Membership.objects.filter(organization=organization).select_related("user").order_by("created_at")
            .prefetch_related(Prefetch("client_access", ClientAccess.objects.select_related("client")
                                       .filter(client__in=Client.objects.values("pk")).order_by("client__name"))))


def membership_clients(membership: Membership) -> list[Client]:
    """The clients a member is limited to (empty when limited to none), from membership_list's prefetch."""
    return [access.client for access in membership.client_access.all()]


def get_membership_for_org(organization: Organization, public_id) -> Membership:
    return get_for_org(membership_list(organization=organization), organization, public_id)


def member_sees_client(*, organization: Organization, user_id, client_id) -> bool:
    """Whether the member ``user_id`` may see rows of ``client_id`` (None: the organization's own), by
    the per-client access of tenants.access; for checks about someone other than the person asking
    (a colleague a call is transferred to)."""
    membership = Membership.objects.filter(organization=organization, user_id=user_id).first()
    if membership is None:
        return False
    if membership.can_manage or not membership.limited_to_clients:
        return True
    return client_id is not None and ClientAccess.objects.filter(membership=membership, client_id=client_id).exists()


def invitation_pending_list(*, organization: Organization) -> QuerySet[Invitation]:
    return Invitation.objects.filter(
        organization=organization, accepted_at__isnull=True, revoked_at__isnull=True
    ).select_related("invited_by")


def get_invitation_for_org(organization: Organization, public_id) -> Invitation:
    return get_for_org(Invitation.objects.all(), organization, public_id)


def agent_list(*, organization: Organization, filters: dict | None = None) -> QuerySet[Agent]:
    filters = filters or {}
    qs = Agent.objects.filter(organization=organization).select_related("user", "client")
    if filters.get("kind"):
        qs = qs.filter(kind=filters["kind"])
    if filters.get("client"):
        qs = qs.filter(client=filters["client"])
    return qs.order_by("name")


def agent_list_with_presence(*, organization: Organization) -> list[Agent]:
    """The agents, each with what colleagues see of it (`presence_status`: available, away, in_call
    or offline; `presence_label`: its words), for the team page. One Redis round trip per list."""
    agents = list(agent_list(organization=organization))
    statuses = presence.status_of(agents, organization.pk)
    for agent in agents:
        agent.presence_status = statuses[str(agent.pk)]
        agent.presence_label = presence.LABELS[agent.presence_status]
    return agents


def agent_for_user(*, organization: Organization, user) -> Agent | None:
    """The person's own agent in this organization, if they are one."""
    if not getattr(user, "is_authenticated", False):
        return None
    return Agent.objects.filter(organization=organization, user=user).first()


def request_agent(request) -> Agent | None:
    """The signed-in person's own agent in the request's organization, read once per request
    (the inbox and the top bar's softphone both ask). For reading: a view that changes the agent
    reads it with agent_for_user."""
    if not hasattr(request, "_softphone_agent"):
        request._softphone_agent = agent_for_user(organization=request.organization, user=request.user)
    return request._softphone_agent


def get_agent_for_org(organization: Organization, public_id) -> Agent:
    return get_for_org(Agent.objects.select_related("user", "client"), organization, public_id)


def client_list(*, organization: Organization, archived: bool | None = False) -> QuerySet[Client]:
    """The organization's clients by name: the current ones (default), the archived ones (True), or
    all (None). Forms offer the current ones only."""
    qs = Client.objects.filter(organization=organization)
    if archived is not None:
        qs = qs.filter(archived_at__isnull=not archived)
    return qs.order_by("name")



def get_client_for_org(organization: Organization, public_id) -> Client:
    return get_for_org(Client.objects.all(), organization, public_id)


def audit_for_target(*, organization: Organization, target) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(
        organization=organization, target_type=target._meta.label_lower, target_id=target.pk
    ).select_related("actor")


def assistant_catalog(*, organization: Organization, fresh: bool = False) -> AssistantCatalog | None:
    """The AI assistants the organization can give an AI agent, as its connected voice-AI platform
    lists them; None when no platform is connected (telephony answers, tenants.signals)."""
    for _, answer in assistants_requested.send(sender=Organization, organization=organization, fresh=fresh):
        if answer is not None:
            return answer
    return None
