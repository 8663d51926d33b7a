import pytest
from django.apps import apps
from django.contrib import admin


def registered_models():
    return [m for m in apps.get_models() if m._meta.app_label in {"tenants", "crm", "telephony", "messaging"}]


def test_every_model_of_ours_is_in_the_admin():
    missing = [m._meta.label for m in registered_models() if m not in admin.site._registry]
    assert missing == []


@pytest.mark.django_db
@pytest.mark.parametrize("model", registered_models(), ids=lambda m: m._meta.label)
def test_staff_can_open_every_admin_list(model, staff_user, client, org, agent):
    client.force_login(staff_user)
    response = client.get(f"/admin/{model._meta.app_label}/{model._meta.model_name}/")
    assert response.status_code == 200


@pytest.mark.django_db
def test_non_staff_members_cannot_use_the_admin(owner_client):
    response = owner_client.get("/admin/tenants/organization/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


@pytest.mark.django_db
def test_the_openapi_schema_describes_every_tenant_endpoint_in_camel_case(client, owner):
    client.force_login(owner)
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    assert "/api/{org_slug}/agents" in schema["paths"]
    assert "/api/{org_slug}/agents/{agent_id}" in schema["paths"]
    assert "/api/{org_slug}/members" in schema["paths"]
    agent = schema["components"]["schemas"]["AgentOutput"]["properties"]
    assert {"userId", "assistantId", "createdAt"} <= set(agent)
    assert "organization" not in agent and "organizationId" not in agent


@pytest.mark.django_db
def test_the_interactive_api_docs_load_without_inline_scripts(client, owner):
    client.force_login(owner)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert "swagger-ui" in response.content.decode()
