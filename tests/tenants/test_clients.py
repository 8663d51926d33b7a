"""Clients (seed 001), the accounts an organization manages for others: added, edited and archived by
owners and admins on their pages and through the API; a client's page shows its numbers (with their
conversations one click away) and agents."""

from __future__ import annotations

import pytest
from django.test import Client as HttpClient

from telephony.models import PhoneNumber, Provider, ProviderAccount
from tenants.models import Agent, AgentKind, Client, Role
from tenants.scoping import tenant_scope
from tests import factories

pytestmark = pytest.mark.django_db


def clients_of(org) -> dict[str, Client]:
    with tenant_scope(org):
        return {c.name: c for c in Client.objects.all()}


def test_an_owner_adds_edits_and_archives_a_client_on_its_pages(owner_client, agent_client, org):
    added = owner_client.post(f"/o/{org.slug}/clients/", {"name": "  Bright   Dental ", "email": "ops@bright.test"})
    client = clients_of(org)["Bright Dental"]
    assert added.status_code == 302 and added["Location"] == f"/o/{org.slug}/clients/{client.pk}/"
    twice = owner_client.post(f"/o/{org.slug}/clients/", {"name": "bright dental"})
    assert twice.status_code == 400 and "A client named &#x27;bright dental&#x27; already exists." in twice.content.decode()

    saved = owner_client.post(f"/o/{org.slug}/clients/{client.pk}/", {"name": "Bright Dental Group", "notes": "VIP"})
    assert saved.status_code == 302
    assert clients_of(org)["Bright Dental Group"].notes == "VIP"
    page = agent_client.get(f"/o/{org.slug}/clients/").content.decode()
    assert "Bright Dental Group" in page and "Add a client" not in page  # agents read, managers change

    owner_client.post(f"/o/{org.slug}/clients/{client.pk}/archive/")
    assert clients_of(org)["Bright Dental Group"].archived_at is not None
    row = f'id="client-{client.pk}"'
    assert row not in owner_client.get(f"/o/{org.slug}/clients/").content.decode()
    assert row in owner_client.get(f"/o/{org.slug}/clients/?archived=1").content.decode()
    # No longer offered for new assignments: the account form's choice of clients leaves it out.
    assert "Bright Dental Group" not in owner_client.get(f"/o/{org.slug}/numbers/accounts/").content.decode()
    owner_client.post(f"/o/{org.slug}/clients/{client.pk}/archive/", {"archived": "0"})
    assert clients_of(org)["Bright Dental Group"].archived_at is None


def test_a_client_s_page_shows_its_numbers_with_their_conversations_and_its_agents(owner_client, org):
    with tenant_scope(org):
        client = Client.objects.create(organization=org, name="Bright Dental")
        account = ProviderAccount.objects.create(organization=org, client=client, provider=Provider.TWILIO,
                                                 friendly_name="Bright's Twilio", account_sid="AC" + "b" * 32,
                                                 auth_token="t")
        number = PhoneNumber.objects.create(organization=org, client=client, provider_account=account,
                                            provider=Provider.TWILIO, phone_number="+14155550177",
                                            provider_sid="PN" + "b" * 32, friendly_name="Front desk")
        PhoneNumber.objects.create(organization=org, provider_account=account, provider=Provider.TWILIO,
                                   phone_number="+14155550178", provider_sid="PN" + "c" * 32)
        Agent.objects.create(organization=org, name="Bright's receptionist", kind=AgentKind.AI, client=client,
                             assistant_id="5b3f7c1e-0000-4000-8000-000000000001")
    page = owner_client.get(f"/o/{org.slug}/clients/{client.pk}/").content.decode()
    assert "+14155550177" in page and "Front desk" in page and "+14155550178" not in page
    assert f"/o/{org.slug}/inbox/?view=all&amp;line=n:{number.pk}" in page
    assert "Bright&#x27;s receptionist" in page


def test_the_api_lists_adds_changes_and_archives_clients(owner_client, org, other_org):
    made = owner_client.post(f"/api/{org.slug}/clients", {"name": "Bright Dental", "email": "ops@bright.test"},
                             content_type="application/json")
    assert made.status_code == 201
    body = made.json()
    assert (body["name"], body["email"], body["archived"]) == ("Bright Dental", "ops@bright.test", False)
    twice = owner_client.post(f"/api/{org.slug}/clients", {"name": "BRIGHT DENTAL"}, content_type="application/json")
    assert twice.status_code == 400 and "already exists" in twice.content.decode()
    empty = owner_client.post(f"/api/{org.slug}/clients", {"name": "   "}, content_type="application/json")
    assert empty.status_code == 400

    url = f"/api/{org.slug}/clients/{body['id']}"
    archived = owner_client.patch(url, {"archived": True, "notes": "Paused contract"}, content_type="application/json")
    assert archived.status_code == 200 and archived.json()["archived"] is True
    assert archived.json()["notes"] == "Paused contract"
    names = [c["name"] for c in owner_client.get(f"/api/{org.slug}/clients").json()["results"]]
    assert "Bright Dental" not in names
    names = [c["name"] for c in owner_client.get(f"/api/{org.slug}/clients?archived=true").json()["results"]]
    assert names == ["Bright Dental"]

    with tenant_scope(other_org):
        theirs = Client.objects.create(organization=other_org, name="Globex's client")
    assert owner_client.get(f"/api/{org.slug}/clients/{theirs.pk}").status_code == 404
    assert owner_client.patch(f"/api/{org.slug}/clients/{theirs.pk}", {"notes": "x"},
                              content_type="application/json").status_code == 404


CLIENT_SID = "AC" + "c" * 32
CLIENT_TOKEN = "c" * 32


def test_a_clients_numbers_imported_with_its_own_twilio_credentials_land_under_it(
        owner_client, org, owner, twilio, django_capture_on_commit_callbacks):
    """Seed 001's flow: the client's own Twilio account, connected for the client; its numbers, imported,
    are the client's; an agent limited to the client sees them, one limited to another client does not."""
    twilio.add_account(CLIENT_SID, CLIENT_TOKEN, friendly_name="Bright Dental's Twilio")
    twilio.add_incoming_numbers(CLIENT_SID, 3, start="+14155550300")
    client = owner_client.post("/api/acme/clients", {"name": "Bright Dental"}, content_type="application/json").json()
    other = owner_client.post("/api/acme/clients", {"name": "Other Co"}, content_type="application/json").json()
    account = owner_client.post("/api/acme/provider-accounts", {
        "provider": "twilio", "friendlyName": "Bright Dental", "accountSid": CLIENT_SID, "authToken": CLIENT_TOKEN,
        "clientId": client["id"]}, content_type="application/json")
    assert account.status_code == 201, account.json()
    assert account.json()["clientId"] == client["id"]
    with django_capture_on_commit_callbacks(execute=True):
        job = owner_client.post("/api/acme/phone-numbers/import", {"providerAccountId": account.json()["id"],
                                                                   "numbers": "all"}, content_type="application/json")
    assert owner_client.get(f"/api/acme/jobs/{job.json()['id']}").json()["status"] == "done"
    with tenant_scope(org):
        assert sorted(PhoneNumber.objects.filter(client_id=client["id"]).values_list("phone_number", flat=True)) == [
            "+14155550300", "+14155550301", "+14155550302"]
    page = owner_client.get(f"/o/acme/clients/{client['id']}/").content.decode()
    assert "+14155550300" in page and "+14155550302" in page
    # Only the client's people see them.
    for name, clients, expected in (("mia", [client["id"]], 3), ("otto", [other["id"]], 0)):
        user = factories.make_user(name)
        membership = factories.add_member(org, user, Role.AGENT)
        assert owner_client.patch(f"/api/acme/members/{membership.pk}", {"limitedToClients": True,
                                                                         "clientIds": clients},
                                  content_type="application/json").status_code == 200
        seen = HttpClient()
        seen.force_login(user)
        assert seen.get("/api/acme/phone-numbers").json()["count"] == expected
