"""Entering a tenant, at the edges only.

The scope is entered by the request middleware (after checking membership), by webhook views
(after resolving the tenant from the called number and verifying the signature), by the tenant task
base, and for staff in the admin. Code in between never chooses a tenant itself.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager

from django.http import Http404
from django_scopes import scope, scopes_disabled
from django_scopes.state import get_scope

from .access import DIMENSION, EVERYTHING, Access
from .models import Agent, AgentVisibility, ClientAccess, Membership, Organization
from .rls import database_scope


@contextmanager
def tenant_scope(organization: Organization, access: Access | None = None):
    """Make ``organization`` the only tenant whose rows the ORM will return, and inside it what
    ``access`` allows (tenants.access: a member limited to some clients, an agent who sees only their
    own conversations).

    Without ``access``, a scope entered inside a scope of the same organization keeps the access of
    the one around it (a helper re-entering the scope never widens what a member sees); a scope
    entered afresh (a task, a webhook, a command) sees the whole organization. Refuse anything that
    is not a saved Organization: django-scopes would read a missing one as "no filter".
    """
    if not isinstance(organization, Organization) or organization.pk is None:
        raise ValueError("tenant_scope() needs a saved Organization")
    if access is None:
        around = get_scope()
        same = around.get("_enabled", True) and around.get("organization") == organization.pk
        access = around.get(DIMENSION) if same else None
        access = access or EVERYTHING
    with scope(organization=organization.pk, **{DIMENSION: access}), \
            database_scope(organization_id=organization.pk):
        yield organization


def access_of(organization: Organization, membership: Membership) -> Access:
    """What ``membership`` may see in ``organization`` (tenants.access), read inside its scope: a
    query for a member limited to clients, one for an agent of an organization that keeps agents'
    customers apart, none for everyone else."""
    if membership.pk is None or membership.can_manage:
        return EVERYTHING  # owners, admins and staff (who enter as owners) see the whole organization
    clients = None
    if membership.limited_to_clients:
        clients = frozenset(ClientAccess.objects.filter(membership=membership).values_list("client_id", flat=True))
    if organization.agent_visibility == AgentVisibility.OWN:
        agent = Agent.objects.filter(user_id=membership.user_id).values_list("pk", flat=True).first()
        return Access(clients=clients, own_only=True, own_agent=agent, user=membership.user_id)
    return Access(clients=clients, user=membership.user_id) if clients is not None else EVERYTHING


@contextmanager
def platform_scope():
    """Cross every tenant, in the ORM and in the database (RLS bypass): staff in the admin,
    migrations and platform maintenance only.

    Each use is listed by tests/security/test_bypass_uses.py, so a new one is a visible change.
    """
    with scopes_disabled(), database_scope(bypass=True):
        yield


def parse_public_id(value) -> uuid.UUID:
    """A UUID from a URL or a request body, or 404 (never a 500 for a malformed id)."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        raise Http404("No such object.") from None


def get_for_org(queryset, organization: Organization, public_id):
    """One object of ``organization`` by its public id, or 404. The tenant filter is explicit here
    as well as in the scope, so a helper used in the wrong scope still cannot cross tenants."""
    try:
        return queryset.get(organization=organization, pk=parse_public_id(public_id))
    except queryset.model.DoesNotExist:
        raise Http404("No such object.") from None
