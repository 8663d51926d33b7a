"""Factories shared by the suite. Tenant-owned rows are created inside their tenant's scope."""

from __future__ import annotations

import itertools

from django.contrib.auth import get_user_model

from tenants import services
from tenants.models import Agent, AgentKind, Membership, Organization, Role
from tenants.scoping import tenant_scope

_seq = itertools.count(1)
PASSWORD = "correct horse battery staple"


def make_user(username: str | None = None, **extra):
    n = next(_seq)
    username = username or f"user{n}"
    user = get_user_model().objects.create_user(
        username=username, email=extra.pop("email", f"{username}@example.com"), password=PASSWORD, **extra
    )
    return user


def make_organization(name: str, owner=None, slug: str | None = None) -> Organization:
    owner = owner or make_user()
    return services.organization_create(name=name, slug=slug, owner=owner)


def add_member(organization: Organization, user, role: str = Role.AGENT) -> Membership:
    with tenant_scope(organization):
        return Membership.objects.create(organization=organization, user=user, role=role)


def make_agent(organization: Organization, *, user=None, name: str | None = None, kind: str = AgentKind.HUMAN,
               assistant_id: str = "") -> Agent:
    with tenant_scope(organization):
        return Agent.objects.create(
            organization=organization, user=user, name=name or (user.username if user else "AI agent"), kind=kind,
            assistant_id=assistant_id,
        )
