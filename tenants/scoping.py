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

from .models import Organization
from .rls import database_scope


@contextmanager
def tenant_scope(organization: Organization):
    """Make ``organization`` the only tenant whose rows the ORM will return.

    django-scopes treats a scope value of ``None`` as "no filter", so a missing organization must
    never reach it: refuse anything that is not a saved Organization.
    """
    if not isinstance(organization, Organization) or organization.pk is None:
        raise ValueError("tenant_scope() needs a saved Organization")
    with scope(organization=organization.pk), database_scope(organization_id=organization.pk):
        yield organization


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
