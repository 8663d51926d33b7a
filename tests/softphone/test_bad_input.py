"""Bad input is a 400 with a reason, never a 500, and nothing is stored (issue 13, item 7)."""

import pytest

from crm.models import Contact
from messaging.models import CannedReply
from telephony.models import PhoneNumber, ProviderAccount
from tenants import services
from tenants.models import Agent, AuditEvent, Client, Membership, Organization
from tenants.scoping import tenant_scope
from tests import factories
from tests.vendor_fixtures import ACME_SID, ACME_TOKEN

ASSISTANT = "3f2b8c1e-5d4a-4f6b-9a7e-1c2d3e4f5a6b"


def agents_in(org):
    with tenant_scope(org):
        return list(Agent.objects.values_list("name", flat=True))


# NUL characters ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_nul_in_the_contact_search_is_a_400_that_names_the_parameter(owner_client, org):
    response = owner_client.get("/api/acme/contacts?search=%00abc")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "The query parameter 'search' contains a NUL character (\\x00), which is not allowed."}


@pytest.mark.django_db
@pytest.mark.parametrize("url", [
    "/api/acme/agents?kind=%00",
    "/api/acme/phone-numbers?status=ai%00",
    "/api/acme/conversations?status=%00open",
    "/api/acme/contacts?sea%00rch=x",
])
def test_a_nul_in_any_api_query_parameter_is_a_400(owner_client, org, url):
    response = owner_client.get(url)
    assert response.status_code == 400
    assert "NUL character" in response.json()["detail"]


@pytest.mark.django_db
def test_a_nul_in_a_page_query_or_a_form_field_is_a_400_and_stores_nothing(owner_client, org):
    response = owner_client.get("/o/acme/numbers/?search=%00")
    assert response.status_code == 400
    assert "The query parameter 'search' contains a NUL character" in response.content.decode()
    response = owner_client.get("/webhooks/whatsapp/?hub.mode=subscribe&hub.verify_token=%00")
    assert response.status_code == 400
    response = owner_client.post("/o/acme/numbers/assign/", "numbers=x&next=%00",
                                 content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert "The form field 'next' contains a NUL character" in response.content.decode()
    with tenant_scope(org):
        assert list(AuditEvent.objects.values_list("verb", flat=True).order_by("verb")) == [
            "membership.created", "organization.created"]


@pytest.mark.django_db
def test_a_nul_anywhere_in_a_json_body_is_a_400_and_stores_nothing(owner_client, org, twilio):
    twilio.add_incoming_number(ACME_SID, "+14155550100")
    response = owner_client.post("/api/acme/phone-numbers", {
        "provider": "twilio", "phoneNumber": "+14155550100", "accountSid": ACME_SID, "authToken": ACME_TOKEN,
        "metadata": {"note\x00": "x"}}, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"detail": "The JSON body contains a NUL character (\\u0000), which is not allowed."}
    with tenant_scope(org):
        assert not PhoneNumber.objects.exists()


@pytest.mark.django_db
def test_json_nested_deeper_than_the_parser_goes_is_a_400(owner_client, org):
    response = owner_client.post("/api/acme/agents", b"[" * 100_000 + b"]" * 100_000, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"detail": "The JSON body is nested too deeply."}
    assert agents_in(org) == []


@pytest.mark.django_db
@pytest.mark.parametrize("path, body", [
    ("/api/acme/phone-numbers/twilio/available", {"accountSid": "\x1en", "authToken": "t\U000f1300ken"}),
    ("/api/acme/provider-accounts", {"provider": "twilio", "accountSid": "AC" + "a" * 32, "authToken": "tök€n"}),
    ("/api/acme/provider-accounts", {"provider": "vapi", "apiKey": "key with spaces"}),
])
def test_credentials_that_no_http_header_can_carry_are_a_400(owner_client, org, twilio, vapi, path, body):
    """Found by the fuzz: a token outside Latin-1 crashed the HTTP client building Basic auth (500)."""
    response = owner_client.post(path, body, content_type="application/json")
    assert response.status_code == 400
    assert "Credentials are letters, digits and punctuation only" in str(response.json())
    assert twilio.requests == []  # refused before anything was sent
    with tenant_scope(org):
        assert not ProviderAccount.objects.exists()


@pytest.mark.django_db
def test_a_query_without_nul_is_untouched(owner_client, org):
    response = owner_client.get("/api/acme/contacts?search=abc%2500")
    assert response.status_code == 200
    assert response.json()["count"] == 0


# Names a person types ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_agent_named_with_a_control_character_is_refused_with_a_reason(owner_client, org):
    response = owner_client.post("/api/acme/agents", {"name": "\x19", "kind": "ai", "assistantId": ASSISTANT},
                                 content_type="application/json")
    assert response.status_code == 400
    assert response.json()["name"] == ["Names cannot contain control characters (found U+0019 at position 1)."]
    response = owner_client.post("/api/acme/agents", {"name": "Night\u202ebot", "kind": "ai",
                                                      "assistantId": ASSISTANT}, content_type="application/json")
    assert response.status_code == 400
    assert "U+202E" in response.json()["name"][0]
    assert agents_in(org) == []


@pytest.mark.django_db
@pytest.mark.parametrize("assistant_id", ["garbage", "asst_123", "3f2b8c1e5d4a4f6b9a7e1c2d3e4f5a6b\n", "\x19"])
def test_an_assistant_id_that_is_not_a_uuid_is_refused(owner_client, org, assistant_id):
    response = owner_client.post("/api/acme/agents", {"name": "Night bot", "kind": "ai", "assistantId": assistant_id},
                                 content_type="application/json")
    assert response.status_code == 400
    assert response.json()["assistantId"][0].startswith("A VAPI assistant id is a UUID")
    assert agents_in(org) == []


@pytest.mark.django_db
def test_a_real_name_with_accents_and_emoji_and_a_uuid_assistant_is_accepted(owner_client, org):
    response = owner_client.post("/api/acme/agents", {"name": "Zoë 🌙 nuit", "kind": "ai", "assistantId": ASSISTANT},
                                 content_type="application/json")
    assert response.status_code == 201, response.json()
    assert agents_in(org) == ["Zoë 🌙 nuit"]


@pytest.mark.django_db
def test_the_agent_page_refuses_control_characters_and_a_bad_assistant_id(admin_client_org, org):
    response = admin_client_org.post("/o/acme/agents/new/", {"name": "Bot\x07", "kind": "ai",
                                                              "assistant_id": "garbage"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Names cannot contain control characters (found U+0007 at position 4)." in page
    assert "A VAPI assistant id is a UUID" in page
    assert agents_in(org) == []


@pytest.mark.django_db
def test_labels_and_friendly_names_refuse_control_characters(owner_client, org, owner):
    world = factories.build_world(org, owner)
    conversation, number = world["conversation"], world["phonenumber"]
    response = owner_client.patch(f"/api/acme/conversations/{conversation.pk}", {"labels": ["vip\x1b[31m"]},
                                  content_type="application/json")
    assert response.status_code == 400
    assert "control characters" in str(response.json()["labels"])
    response = owner_client.patch(f"/api/acme/phone-numbers/{number.pk}", {"friendlyName": "Main\nline"},
                                  content_type="application/json")
    assert response.status_code == 400
    assert response.json()["friendlyName"] == ["Names cannot contain control characters (found U+000A at position 5)."]
    response = owner_client.post(f"/o/acme/numbers/{number.pk}/rename/", {"friendly_name": "Main\x1fline"},
                                 follow=True)
    assert "Names cannot contain control characters (found U+001F at position 5)." in response.content.decode()
    with tenant_scope(org):
        conversation.refresh_from_db()
        assert conversation.labels == ["vip"]  # as the world made it: the refused labels changed nothing
        assert PhoneNumber.objects.get(pk=number.pk).friendly_name == ""


@pytest.mark.django_db
def test_canned_reply_titles_refuse_control_characters(owner_client, org):
    response = owner_client.post("/o/acme/canned-replies/", {"shortcut": "hours", "title": "Hours\x08",
                                                             "body": "9 to 5"})
    assert "Names cannot contain control characters" in response.content.decode()
    with tenant_scope(org):
        assert not CannedReply.objects.exists()


@pytest.mark.django_db
def test_the_admin_refuses_control_characters_in_organization_client_and_contact_names(client, staff_user, org):
    client.force_login(staff_user)
    response = client.post("/admin/tenants/organization/add/", {"name": "Evil\x1bCorp", "slug": "evil"})
    assert response.status_code == 200
    assert "Names cannot contain control characters" in response.content.decode()
    assert not Organization.objects.filter(slug="evil").exists()
    response = client.post("/admin/tenants/client/add/", {"name": "\x7f", "organization": str(org.pk)})
    assert "Names cannot contain control characters" in response.content.decode()
    response = client.post("/admin/crm/contact/add/", {"name": "Ann\x00", "phone_number": "+14155550199",
                                                        "organization": str(org.pk)})
    assert "control characters" in response.content.decode() or "Null characters" in response.content.decode()
    with tenant_scope(org):
        assert not Client.objects.exists()
        assert not Contact.objects.exists()


@pytest.mark.django_db
def test_a_new_member_cannot_register_a_name_with_control_characters(client, org, owner):
    with tenant_scope(org):
        invitation, token = services.invitation_create(organization=org, actor=owner, email="new@example.com",
                                                       role="agent")
    response = client.post(f"/invite/{token}/", {"full_name": "New\u2066Person", "password1": factories.PASSWORD,
                                                 "password2": factories.PASSWORD})
    assert "Names cannot contain control characters (found U+2066 at position 4)." in response.content.decode()
    with tenant_scope(org):
        assert Membership.objects.count() == 1
