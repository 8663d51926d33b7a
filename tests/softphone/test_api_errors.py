"""A service refuses with Django's ValidationError; the API's one exception handler (core.api) answers
a 400 in the shape core.schema documents: field errors under their camelCase field, anything about
the request as a whole as a list of messages under `detail`. No view translates it by hand."""

from __future__ import annotations

import jsonschema
import pytest
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from core.schema import VALIDATION_ERROR_SCHEMA
from telephony.models import PhoneNumber, ProviderAccount
from tenants import services as tenant_services
from tenants.models import Agent
from tenants.scoping import tenant_scope
from tests import factories
from tests.vendor_fixtures import ACME_SID

ASSISTANT = "3f2b8c1e-5d4a-4f6b-9a7e-1c2d3e4f5a6b"


def refused(response) -> dict:
    """The body of a 400, checked against the schema clients read."""
    assert response.status_code == 400, response.content
    body = response.json()
    jsonschema.validate(body, VALIDATION_ERROR_SCHEMA)
    return body


def agents_in(org):
    with tenant_scope(org):
        return list(Agent.objects.order_by("name").values_list("name", "kind", "assistant_id"))


@pytest.mark.django_db
def test_a_service_refusing_two_fields_answers_each_field_in_camel_case(owner_client, org, admin):
    response = owner_client.post("/api/acme/agents", {"name": "Bot", "kind": "ai", "userId": str(admin.pk)},
                                 content_type="application/json")
    assert refused(response) == {"user": ["An AI agent is not linked to a person."],
                                 "assistantId": ["An AI agent needs its VAPI assistant id."]}
    assert agents_in(org) == []


@pytest.mark.django_db
def test_a_service_refusing_with_a_plain_message_answers_it_under_detail(owner_client, org, twilio_account):
    with tenant_scope(org):
        PhoneNumber.objects.create(organization=org, provider_account=twilio_account, provider="twilio",
                                   phone_number=factories.next_test_number())
    response = owner_client.delete(f"/api/acme/provider-accounts/{twilio_account.pk}")
    assert refused(response) == {"detail": ["Remove this account's 1 phone number(s) first."]}
    with tenant_scope(org):
        assert ProviderAccount.objects.filter(pk=twilio_account.pk).exists()


@pytest.mark.django_db
def test_a_vendor_refusing_a_search_is_a_message_under_detail_like_any_other(owner_client, org, twilio):
    response = owner_client.post("/api/acme/phone-numbers/twilio/available", {
        "accountSid": ACME_SID, "authToken": "not-the-token", "country": "US"}, content_type="application/json")
    body = refused(response)
    assert list(body) == ["detail"] and len(body["detail"]) == 1
    assert "Twilio rejected the credentials" in body["detail"][0]
    assert "not-the-token" not in response.content.decode()


@pytest.mark.django_db
def test_a_service_refusing_with_a_list_of_messages_answers_them_all_under_detail(owner_client, org,
                                                                                   monkeypatch):
    agent = factories.make_agent(org, name="Night bot", kind="ai", assistant_id=ASSISTANT)

    def refuse(**kwargs):
        raise ValidationError(["The assistant is busy.", "Try again in a minute."])

    monkeypatch.setattr(tenant_services, "agent_update", refuse)
    response = owner_client.patch(f"/api/acme/agents/{agent.pk}", {"name": "Day bot"},
                                  content_type="application/json")
    assert refused(response) == {"detail": ["The assistant is busy.", "Try again in a minute."]}
    assert agents_in(org) == [("Night bot", "ai", ASSISTANT)]


@pytest.mark.django_db
def test_a_dict_with_errors_about_the_whole_request_puts_them_under_detail(owner_client, org, monkeypatch):
    """NON_FIELD_ERRORS ("__all__", what a model's clean() raises) is not a field a client sent; its
    messages go under `detail`, next to the fields, with their parameters filled in."""
    agent = factories.make_agent(org, name="Night bot", kind="ai", assistant_id=ASSISTANT)

    def refuse(**kwargs):
        raise ValidationError({
            NON_FIELD_ERRORS: ["This agent is being changed by someone else."],
            "assistant_id": [ValidationError("At most %(limit)d characters.", params={"limit": 100})],
        })

    monkeypatch.setattr(tenant_services, "agent_update", refuse)
    response = owner_client.patch(f"/api/acme/agents/{agent.pk}", {"name": "Day bot"},
                                  content_type="application/json")
    assert refused(response) == {"detail": ["This agent is being changed by someone else."],
                                 "assistantId": ["At most 100 characters."]}
    assert agents_in(org) == [("Night bot", "ai", ASSISTANT)]


@pytest.mark.django_db
def test_a_service_error_on_a_delete_is_a_400_too(owner_client, org, monkeypatch):
    """Every API view gets the translation, also those that never caught the error by hand (a 500 before)."""
    agent = factories.make_agent(org, name="Night bot", kind="ai", assistant_id=ASSISTANT)

    def refuse(**kwargs):
        raise ValidationError("Night bot still answers 2 numbers: unassign them first.")

    monkeypatch.setattr(tenant_services, "agent_delete", refuse)
    response = owner_client.delete(f"/api/acme/agents/{agent.pk}")
    assert refused(response) == {"detail": ["Night bot still answers 2 numbers: unassign them first."]}
    assert agents_in(org) == [("Night bot", "ai", ASSISTANT)]
