import pytest
from django.apps import apps
from django_scopes import ScopeError

from tenants.models import Agent, Organization, TenantModel
from tenants.scoping import get_for_org, tenant_scope
from tests import factories


def tenant_owned_models():
    """Every concrete model with an `organization` foreign key: all must be tenant models."""
    found = []
    for model in apps.get_models():
        field_names = {f.name for f in model._meta.get_fields()}
        if "organization" in field_names and model is not Organization:
            found.append(model)
    return found


def test_every_model_with_an_organization_is_a_tenant_model():
    offenders = [m._meta.label for m in tenant_owned_models() if not issubclass(m, TenantModel)]
    assert offenders == []


@pytest.mark.django_db
@pytest.mark.parametrize("model", tenant_owned_models(), ids=lambda m: m._meta.label)
def test_querying_a_tenant_model_outside_a_scope_raises(model):
    with pytest.raises(ScopeError):
        list(model.objects.all())
    with pytest.raises(ScopeError):
        model.objects.filter(pk=None).exists()
    with pytest.raises(ScopeError):
        model.objects.count()


@pytest.mark.django_db
def test_a_scope_shows_only_its_own_organizations_rows(org, other_org, agent_user):
    factories.make_agent(org, user=agent_user, name="Acme agent")
    factories.make_agent(other_org, name="Globex bot", kind="ai", assistant_id="asst_1")
    with tenant_scope(org):
        assert [a.name for a in Agent.objects.all()] == ["Acme agent"]
    with tenant_scope(other_org):
        assert [a.name for a in Agent.objects.all()] == ["Globex bot"]


def test_a_scope_without_an_organization_is_refused():
    # django-scopes would treat None as "no filter": our entry point must refuse it.
    with pytest.raises(ValueError):
        with tenant_scope(None):
            pass
    with pytest.raises(ValueError):
        with tenant_scope(Organization(name="unsaved", slug="unsaved", id=None)):
            pass


@pytest.mark.django_db
def test_lookup_helpers_404_for_another_tenants_id_and_malformed_ids(org, other_org):
    from django.http import Http404

    theirs = factories.make_agent(other_org, name="Globex bot", kind="ai", assistant_id="asst_1")
    with tenant_scope(org):
        for bad in (theirs.pk, "not-a-uuid", None, 42):
            with pytest.raises(Http404):
                get_for_org(Agent.objects.all(), org, bad)
