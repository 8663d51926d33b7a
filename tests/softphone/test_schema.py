"""/api/schema/ describes what the API answers (issue 13, item 9): regression tests for each
mismatch the fuzz found (tests/softphone/test_api_fuzz.py), each checking a real answer against the
schema."""

import pytest
from openapi_schema_validator import OAS30Validator, oas30_format_checker

from tests import factories

LISTS = {
    "/api/{org_slug}/agents": "AgentOutput",
    "/api/{org_slug}/members": "MemberOutput",
    "/api/{org_slug}/provider-accounts": "ProviderAccountOutput",
    "/api/{org_slug}/phone-numbers": "PhoneNumberOutput",
    "/api/{org_slug}/contacts": "ContactOutput",
    "/api/{org_slug}/conversations": "ConversationOutput",
}


@pytest.fixture
def schema(owner_client):
    response = owner_client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return response.json()


def conforms(schema: dict, ref: str, body) -> None:
    """Raise unless ``body`` is valid for the component ``ref`` (formats checked)."""
    OAS30Validator({"$ref": ref, "components": schema["components"]},
                   format_checker=oas30_format_checker).validate(body)


def answer_schema(schema: dict, path: str, method: str, status: str) -> dict:
    return schema["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]


def operations(schema: dict):
    for path, item in schema["paths"].items():
        for method in item:
            yield path, method


@pytest.mark.django_db
@pytest.mark.parametrize("path, item", LISTS.items())
def test_each_list_is_documented_as_the_page_it_answers(schema, owner_client, org, owner, path, item):
    factories.build_world(org, owner)
    ref = answer_schema(schema, path, "get", "200")["$ref"]
    page = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert set(page["properties"]) == {"count", "countExact", "next", "previous", "results"}
    assert page["properties"]["results"]["items"] == {"$ref": f"#/components/schemas/{item}"}
    params = {p["name"] for p in schema["paths"][path]["get"]["parameters"] if p["in"] == "query"}
    assert {"page", "pageSize"} <= params
    body = owner_client.get(path.replace("{org_slug}", "acme")).json()
    assert body["count"] >= 1
    conforms(schema, ref, body)


@pytest.mark.django_db
def test_every_operation_documents_its_error_answers(schema):
    for path, method in operations(schema):
        assert answer_schema(schema, path, method, "400") == {"$ref": "#/components/schemas/ValidationError"}
        for status in ("401", "403", "404"):
            assert answer_schema(schema, path, method, status) == {"$ref": "#/components/schemas/Error"}, (
                method, path, status)


@pytest.mark.django_db
def test_the_error_answers_conform_to_the_documented_errors(schema, client, owner_client, agent_client, org, agent):
    conforms(schema, "#/components/schemas/Error", client.get("/api/acme/agents").json())  # 401
    refused = agent_client.post("/api/acme/agents", {"name": "X", "kind": "human"}, content_type="application/json")
    assert refused.status_code == 403
    conforms(schema, "#/components/schemas/Error", refused.json())
    for missing in ("/api/acme/agents/0190f2a0-0000-7000-8000-000000000000", "/api/globex/agents",
                    "/api/acme/agents/not-an-id", "/api/acme/no-such-endpoint"):
        response = owner_client.get(missing)
        assert (response.status_code, response["Content-Type"]) == (404, "application/json"), missing
        conforms(schema, "#/components/schemas/Error", response.json())
    invalid = owner_client.patch(f"/api/acme/agents/{agent.pk}", {"name": "", "userId": "x"},
                                 content_type="application/json")
    assert invalid.status_code == 400
    conforms(schema, "#/components/schemas/ValidationError", invalid.json())
    labels = owner_client.get("/api/acme/conversations?status=nope")
    assert labels.status_code == 400
    conforms(schema, "#/components/schemas/ValidationError", labels.json())
    nul = owner_client.get("/api/acme/contacts?search=%00")
    assert nul.status_code == 400
    conforms(schema, "#/components/schemas/ValidationError", nul.json())


@pytest.mark.django_db
def test_blank_emails_and_urls_are_documented_as_allowed(schema, owner_client, org, owner):
    world = factories.build_world(org, owner)
    contact = owner_client.get(f"/api/acme/contacts/{world['contact'].pk}").json()
    assert (contact["email"], contact["profileImageUrl"]) == ("", "")
    conforms(schema, "#/components/schemas/ContactOutput", contact)
    number = owner_client.get(f"/api/acme/phone-numbers/{world['phonenumber'].pk}").json()
    assert number["voiceUrl"] == ""
    conforms(schema, "#/components/schemas/PhoneNumberOutput", number)


@pytest.mark.django_db
def test_a_conversations_messages_are_documented_as_the_page_they_answer(schema, owner_client, org, owner):
    world = factories.build_world(org, owner)
    path = "/api/{org_slug}/conversations/{conversation_id}/messages"
    ref = answer_schema(schema, path, "get", "200")["$ref"]
    body = owner_client.get(f"/api/acme/conversations/{world['conversation'].pk}/messages").json()
    assert set(body) == {"results", "previous"}
    conforms(schema, ref, body)


@pytest.mark.django_db
def test_a_sync_request_is_documented_with_the_body_it_answers(schema, owner_client, org, owner, twilio):
    world = factories.build_world(org, owner)
    path = "/api/{org_slug}/provider-accounts/{provider_account_id}/sync"
    response = owner_client.post(f"/api/acme/provider-accounts/{world['provideraccount'].pk}/sync")
    assert response.status_code == 202
    conforms(schema, answer_schema(schema, path, "post", "202")["$ref"], response.json())


@pytest.mark.django_db
def test_query_parameters_are_documented_with_their_types(schema):
    def query(path):
        return {p["name"]: p["schema"] for p in schema["paths"][path]["get"]["parameters"] if p["in"] == "query"}

    conversations = query("/api/{org_slug}/conversations")
    assert conversations["assigneeId"] == {"type": "string", "format": "uuid"}
    assert set(conversations["status"]["enum"]) == {"open", "pending", "snoozed", "done"}
    assert set(query("/api/{org_slug}/agents")["kind"]["enum"]) == {"human", "ai"}
    assert query("/api/{org_slug}/phone-numbers")["providerAccountId"] == {"type": "string", "format": "uuid"}
    assert query("/api/{org_slug}/conversations/{conversation_id}/messages")["before"]["format"] == "uuid"
