from __future__ import annotations

import pytest
from django.apps import apps
from django.forms.models import model_to_dict

from tenants.models import TenantModel
from tenants.scoping import platform_scope
from tests import factories


def tenant_models():
    return [m for m in apps.get_models() if issubclass(m, TenantModel)]


def snapshot(organization) -> dict:
    """Every tenant-owned row of ``organization`` with all its field values."""
    with platform_scope():
        return {
            model._meta.label: sorted(
                (str(obj.pk), repr(sorted(model_to_dict(obj).items(), key=lambda kv: kv[0])))
                for obj in model.objects.filter(organization=organization)
            )
            for model in tenant_models()
        }


def cross_tenant_references() -> list[str]:
    """Rows that point at a tenant-owned row of another organization: must always be empty."""
    problems = []
    with platform_scope():
        for model in tenant_models():
            for field in model._meta.concrete_fields:
                target = getattr(field, "related_model", None)
                if not field.is_relation or target is None or not issubclass(target, TenantModel):
                    continue
                bad = model.objects.exclude(**{f"{field.name}__isnull": True}).exclude(
                    **{f"{field.name}__organization": models_F("organization")}
                )
                problems += [f"{model._meta.label}.{field.name} of {obj.pk}" for obj in bad]
    return problems


def models_F(name):
    from django.db.models import F

    return F(name)


@pytest.fixture
def victim(org, owner):
    """Organization A (Acme) with one row of every tenant model."""
    return factories.build_world(org, owner)


@pytest.fixture
def attacker_client(outsider_client, other_org, outsider):
    """The owner of organization B (Globex), with B's own world, logged in."""
    factories.build_world(other_org, outsider)
    return outsider_client
