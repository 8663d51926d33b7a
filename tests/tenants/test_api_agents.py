import uuid

import pytest
from rest_framework.authtoken.models import Token

from tenants.models import Agent, AuditEvent
from tenants.scoping import tenant_scope
from tests import factories

ASSISTANT = "3f2b8c1e-5d4a-4f6b-9a7e-1c2d3e4f5a6b"  # VAPI names assistants by UUID
ASSISTANT_2 = "9d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"


@pytest.fixture
def api(owner_client):
    return owner_client


def agents_in(org):
    with tenant_scope(org):
        return list(Agent.objects.order_by("name").values_list("name", "kind", "user_id", "assistant_id"))


@pytest.mark.django_db
def test_list_agents_in_camel_case(api, org, agent, agent_user):
    response = api.get("/api/acme/agents")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    item = body["results"][0]
    assert item["name"] == "Dana Agent"
    assert item["kind"] == "human"
    assert item["userId"] == str(agent_user.pk)
    assert item["assistantId"] == ""
    assert set(item) == {"id", "name", "kind", "userId", "assistantId", "clientId", "createdById", "createdAt",
                         "updatedAt"}


@pytest.mark.django_db
def test_create_an_ai_agent_and_a_person_agent(api, org, owner, admin):
    response = api.post("/api/acme/agents", {"name": "Night bot", "kind": "ai", "assistantId": ASSISTANT},
                        content_type="application/json")
    assert response.status_code == 201, response.json()
    assert response.json()["assistantId"] == ASSISTANT
    assert response.json()["createdById"] == str(owner.pk)

    response = api.post("/api/acme/agents", {"name": "Bob", "kind": "human", "userId": str(admin.pk)},
                        content_type="application/json")
    assert response.status_code == 201, response.json()
    assert agents_in(org) == [("Bob", "human", admin.pk, ""), ("Night bot", "ai", None, ASSISTANT)]
    with tenant_scope(org):
        assert AuditEvent.objects.filter(verb="agent.created").count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("body, field, message", [
    ({"name": "Bot", "kind": "ai"}, "assistantId", "An AI agent needs its VAPI assistant id."),
    ({"name": "Person", "kind": "human"}, "user", "A person agent needs a member of the organization."),
    ({"name": "X", "kind": "robot"}, "kind", '"robot" is not a valid choice.'),
    ({"kind": "ai", "assistantId": "a"}, "name", "This field is required."),
])
def test_invalid_agents_get_a_readable_400_and_nothing_is_saved(api, org, body, field, message):
    response = api.post("/api/acme/agents", body, content_type="application/json")
    assert response.status_code == 400
    assert message in response.json()[field]
    assert agents_in(org) == []


@pytest.mark.django_db
def test_a_person_of_another_organization_cannot_become_our_agent(api, org, outsider, other_org):
    response = api.post("/api/acme/agents", {"name": "Spy", "kind": "human", "userId": str(outsider.pk)},
                        content_type="application/json")
    assert response.status_code == 400
    assert response.json()["userId"] == ["No member of this organization has that id."]
    assert agents_in(org) == []


@pytest.mark.django_db
def test_a_writable_organization_in_the_body_is_ignored(api, org, other_org):
    response = api.post("/api/acme/agents", {"name": "Bot", "kind": "ai", "assistantId": ASSISTANT,
                                             "organization": str(other_org.pk), "organizationId": str(other_org.pk)},
                        content_type="application/json")
    assert response.status_code == 201
    assert agents_in(org) == [("Bot", "ai", None, ASSISTANT)]
    assert agents_in(other_org) == []


@pytest.mark.django_db
def test_patch_and_delete_an_agent(api, org, agent):
    response = api.patch(f"/api/acme/agents/{agent.pk}", {"name": "Dana B."}, content_type="application/json")
    assert response.status_code == 200
    assert response.json()["name"] == "Dana B."
    response = api.patch(f"/api/acme/agents/{agent.pk}", {"kind": "ai", "assistantId": ASSISTANT_2},
                         content_type="application/json")
    assert response.status_code == 200
    assert response.json()["userId"] is None
    assert agents_in(org) == [("Dana B.", "ai", None, ASSISTANT_2)]
    assert api.delete(f"/api/acme/agents/{agent.pk}").status_code == 204
    assert agents_in(org) == []
    assert api.get(f"/api/acme/agents/{agent.pk}").status_code == 404


@pytest.mark.django_db
def test_another_tenants_agent_is_404_by_id(api, org, other_org):
    theirs = factories.make_agent(other_org, name="Globex bot", kind="ai", assistant_id="asst_x")
    for method in ("get", "patch", "delete"):
        response = getattr(api, method)(f"/api/acme/agents/{theirs.pk}", {"name": "pwned"},
                                        content_type="application/json")
        assert response.status_code == 404
    assert agents_in(other_org) == [("Globex bot", "ai", None, "asst_x")]
    assert api.get(f"/api/acme/agents/{uuid.uuid4()}").status_code == 404


@pytest.mark.django_db
def test_agents_may_read_but_not_manage(agent_client, org, agent):
    assert agent_client.get("/api/acme/agents").status_code == 200
    response = agent_client.post("/api/acme/agents", {"name": "Bot", "kind": "ai", "assistantId": ASSISTANT},
                                 content_type="application/json")
    assert response.status_code == 403
    assert response.json()["detail"] == "Only owners and admins of this organization can do that."
    assert agent_client.delete(f"/api/acme/agents/{agent.pk}").status_code == 403
    assert agents_in(org) == [("Dana Agent", "human", agent.user_id, "")]


@pytest.mark.django_db
def test_malformed_json_is_a_readable_400(api, org):
    response = api.post("/api/acme/agents", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["detail"]
    assert agents_in(org) == []


@pytest.mark.django_db
def test_token_authentication(org, owner, client):
    token = Token.objects.create(user=owner)
    response = client.get("/api/acme/agents", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200
    response = client.post("/api/acme/agents", {"name": "Bot", "kind": "ai", "assistantId": ASSISTANT},
                           content_type="application/json", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 201
    response = client.get("/api/acme/agents", HTTP_AUTHORIZATION="Token wrong")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}


@pytest.mark.django_db
def test_members_list(api, org, owner, admin):
    response = api.get("/api/acme/members")
    assert response.status_code == 200
    rows = [(m["username"], m["role"]) for m in response.json()["results"]]
    assert rows == [("alice", "owner"), ("bob", "admin")]


@pytest.mark.django_db
def test_staff_may_enter_any_organization(staff_user, org, client):
    client.force_login(staff_user)
    assert client.get("/api/acme/agents").status_code == 200
    assert client.get("/o/acme/").status_code == 200
