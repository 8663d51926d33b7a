"""No `next` in a form or a link sends a person to another site (open redirect)."""

import pytest
from django.test import Client

from telephony.models import PhoneNumber
from tenants.scoping import tenant_scope
from tests import factories

HOSTILE = [
    "//evil.example",
    "//evil.example/o/acme/numbers/",
    "https://evil.example",
    "https://evil.example/o/acme/numbers/",
    "/\\evil.example",
    "\\\\evil.example",
    "javascript:alert(document.cookie)",
    " //evil.example",
    "\x01//evil.example",
    "http:///evil.example",
    "/o/globex/numbers/",  # a path of the site, but not of this organization
    "/o/acme/\r\nSet-Cookie: x=1",
]


@pytest.fixture
def two_numbers(org, twilio_account):
    with tenant_scope(org):
        return [PhoneNumber.objects.create(organization=org, provider_account=twilio_account,
                                           phone_number=factories.next_test_number(), provider_sid=f"PN{i}")
                for i in range(2)]


def bulk_assign(client, numbers, agent, next_url):
    return client.post("/o/acme/numbers/assign/", {"numbers": [n.pk for n in numbers], "agent": agent.pk,
                                                    "next": next_url})


@pytest.mark.django_db
@pytest.mark.parametrize("next_url", HOSTILE)
def test_bulk_assign_never_redirects_off_the_organizations_pages(owner_client, two_numbers, agent, next_url):
    response = bulk_assign(owner_client, two_numbers, agent, next_url)
    assert response.status_code == 302
    assert response["Location"] == "/o/acme/numbers/"
    with tenant_scope(agent.organization):
        assert set(PhoneNumber.objects.values_list("agent_id", flat=True)) == {agent.pk}  # the work was done


@pytest.mark.django_db
def test_bulk_assign_returns_to_the_filtered_list_it_came_from(owner_client, two_numbers, agent):
    response = bulk_assign(owner_client, two_numbers, agent, "/o/acme/numbers/?assigned=no&page=2")
    assert response.status_code == 302
    assert response["Location"] == "/o/acme/numbers/?assigned=no&page=2"


@pytest.mark.django_db
@pytest.mark.parametrize("next_url", HOSTILE[:10])
def test_login_never_redirects_to_another_site(owner, next_url):
    client = Client()
    response = client.post("/accounts/login/", {"username": owner.username, "password": factories.PASSWORD,
                                                "next": next_url})
    assert response.status_code == 302
    assert "evil.example" not in response["Location"]
    assert not response["Location"].startswith(("//", "javascript:", "http"))
