"""Access inside an organization, as the people using it see it: an agent limited to some clients
(seed 001), and an organization whose agents see only their own conversations (seed 003).

Customers write through Twilio's signed webhooks to two numbers of Acme, one per client; what each
person sees is read off the pages, the live poll, the CSV export and the API. (Every route of the
project is walked by such members in tests/security/test_client_access.py.)
"""

from __future__ import annotations

import re

import pytest
from django.test import Client as HttpClient

from messaging.models import Conversation
from telephony.models import PhoneNumber, Provider
from tenants import services as tenant_services
from tenants.models import AgentVisibility, AuditEvent, ClientAccess, Membership, Role
from tenants.scoping import tenant_scope
from tests import factories
from tests.vendor_fixtures import ACME_SID, ACME_TOKEN

from .conftest import OUR_NUMBER

OTHER_NUMBER = "+14155550166"
ATLAS_CUSTOMER = "+14155550171"
BOREALIS_CUSTOMER = "+14155550172"


@pytest.fixture
def two_clients(org, owner, our_number, twilio, twilio_account, twilio_posts):
    """Atlas owns our_number, Borealis another number of the same account; a customer of each has written."""
    remote = twilio.add_incoming_number(ACME_SID, OTHER_NUMBER)
    atlas, borealis = factories.make_client(org, "Atlas Outfitters"), factories.make_client(org, "Borealis Books")
    with tenant_scope(org):
        PhoneNumber.objects.filter(pk=our_number.pk).update(client=atlas)
        other = PhoneNumber.objects.create(
            organization=org, client=borealis, provider_account=twilio_account, provider=Provider.TWILIO,
            phone_number=OTHER_NUMBER, provider_sid=remote["sid"],
            capabilities={"voice": True, "sms": True, "mms": True, "fax": False})
    twilio_posts.inbound(ACME_TOKEN, from_=ATLAS_CUSTOMER, to=OUR_NUMBER, body="Where is my tent order?",
                         profile_name=None)
    twilio_posts.inbound(ACME_TOKEN, from_=BOREALIS_CUSTOMER, to=OTHER_NUMBER, body="Is the novel in stock?")
    return atlas, borealis, other


def _member(org, username: str, role=Role.AGENT):
    user = factories.make_user(username, first_name=username.title())
    membership = factories.add_member(org, user, role)
    http = HttpClient()
    http.force_login(user)
    return membership, http


def _limit(org, owner, membership, clients):
    with tenant_scope(org):
        tenant_services.membership_set_clients(organization=org, actor=owner, membership=membership, limited=True,
                                               clients=clients)


def _live_place(page: str) -> tuple[str, str]:
    return (re.search(r'data-version="([^"]*)"', page).group(1), re.search(r'data-cursor="([^"]*)"', page).group(1))


def test_a_limited_agent_sees_only_their_clients_in_the_inbox_search_and_live_updates(
        org, owner, two_clients, twilio_posts):
    atlas, borealis, other = two_clients
    membership, lena = _member(org, "lena")
    _limit(org, owner, membership, [atlas])

    page = lena.get(f"/o/{org.slug}/inbox/?view=all").content.decode()
    assert "Where is my tent order?" in page
    assert "Is the novel in stock?" not in page
    assert "Borealis" not in page  # nor the other client's number in the line filter
    # Search by words, by the customer's digits, by the number line: nothing of Borealis.
    assert "Is the novel" not in lena.get(f"/o/{org.slug}/inbox/?view=all&q=novel").content.decode()
    assert "tent order" in lena.get(f"/o/{org.slug}/inbox/?view=all&q=tent").content.decode()
    assert "Is the novel" not in lena.get(f"/o/{org.slug}/inbox/?view=all&q=550172").content.decode()
    assert "Is the novel" not in lena.get(f"/o/{org.slug}/inbox/?view=all&line=n:{other.pk}").content.decode()

    # Live: Borealis's customer writes again; Lena's poll brings nothing of it. Atlas's does: it comes.
    version, cursor = _live_place(page)
    poll = f"/o/{org.slug}/inbox/poll/"
    twilio_posts.inbound(ACME_TOKEN, from_=BOREALIS_CUSTOMER, to=OTHER_NUMBER, body="Hello again from Borealis")
    with tenant_scope(org):
        hidden = Conversation.objects.get(phone_number=other)
        shown = Conversation.objects.get(phone_number__client=atlas)
    answer = lena.get(poll, {"v": version, "cursor": cursor, "view": "all"})
    assert answer.status_code in (200, 204)
    if answer.status_code == 200:  # the counter moved: what comes is never the other client's
        assert "Hello again from Borealis" not in answer.content.decode()
        assert {row["id"] for row in answer.json()["rows"]} <= {str(shown.pk)}
    twilio_posts.inbound(ACME_TOKEN, from_=ATLAS_CUSTOMER, to=OUR_NUMBER, body="Any news on the tent?")
    rows = lena.get(poll, {"v": version, "cursor": cursor, "view": "all"}).json()["rows"]
    assert len(rows) == 1 and "Any news on the tent?" in rows[0]["html"]

    # The other client's conversation, by its id: not found, in the page and in the API.
    assert lena.get(f"/o/{org.slug}/inbox/c/{hidden.pk}/").status_code == 404
    assert lena.get(f"/api/{org.slug}/conversations/{hidden.pk}").status_code == 404
    assert lena.get(f"/o/{org.slug}/inbox/c/{shown.pk}/").status_code in (200, 302)
    assert "Where is my tent order?" in lena.get(f"/o/{org.slug}/inbox/?view=all&c={shown.pk}").content.decode()
    listed = lena.get(f"/api/{org.slug}/conversations").json()
    assert [row["id"] for row in listed["results"]] == [str(shown.pk)]


def test_a_limited_agent_sees_only_their_clients_customers_numbers_and_export(org, owner, two_clients):
    atlas, borealis, other = two_clients
    membership, lena = _member(org, "lena")
    _limit(org, owner, membership, [atlas])
    contacts = lena.get(f"/o/{org.slug}/contacts/").content.decode()
    assert "550171" in contacts.replace(" ", "").replace("-", "").replace("(", "").replace(")", "")
    assert "550172" not in contacts.replace(" ", "").replace("-", "").replace("(", "").replace(")", "")
    export = b"".join(lena.get(f"/o/{org.slug}/contacts/export.csv").streaming_content).decode("utf-8-sig")
    assert ATLAS_CUSTOMER in export and BOREALIS_CUSTOMER not in export
    numbers = lena.get(f"/api/{org.slug}/phone-numbers").json()
    assert [row["phoneNumber"] for row in numbers["results"]] == [OUR_NUMBER]
    clients = lena.get(f"/api/{org.slug}/clients").json()
    assert [row["name"] for row in clients["results"]] == ["Atlas Outfitters"]
    # The owner, unlimited, sees both.
    everyone = HttpClient()
    everyone.force_login(owner)
    export = b"".join(everyone.get(f"/o/{org.slug}/contacts/export.csv").streaming_content).decode("utf-8-sig")
    assert ATLAS_CUSTOMER in export and BOREALIS_CUSTOMER in export


def test_limited_to_no_client_a_member_sees_no_clients_rows(org, owner, two_clients):
    membership, nora = _member(org, "nora")
    _limit(org, owner, membership, [])
    page = nora.get(f"/o/{org.slug}/inbox/?view=all").content.decode()
    assert "Where is my tent order?" not in page and "Is the novel in stock?" not in page
    assert nora.get(f"/api/{org.slug}/contacts").json()["results"] == []
    assert nora.get(f"/api/{org.slug}/calls").json()["results"] == []


def test_writing_to_another_clients_customer_finds_the_one_contact(org, owner, two_clients, twilio,
                                                                   django_capture_on_commit_callbacks):
    """One person is one contact: a limited agent writing from their client's number to a customer of
    another client reaches the same contact (no duplicate, no error) and sees only their own conversation."""
    atlas, borealis, other = two_clients
    membership, lena = _member(org, "lena")
    _limit(org, owner, membership, [atlas])
    with tenant_scope(org):
        number = PhoneNumber.objects.get(phone_number=OUR_NUMBER)
    with django_capture_on_commit_callbacks(execute=True):
        response = lena.post(f"/api/{org.slug}/messages", {"fromNumberId": str(number.pk), "to": BOREALIS_CUSTOMER,
                                                           "body": "Atlas here: we stock novels too."},
                             content_type="application/json")
    assert response.status_code == 202, response.content
    assert [m["to"] for m in twilio.messages(ACME_SID) if m["body"].startswith("Atlas here")] == [BOREALIS_CUSTOMER]
    with tenant_scope(org):
        conversations = Conversation.objects.filter(contact__phone_number=BOREALIS_CUSTOMER)
        assert sorted(c.phone_number.phone_number for c in conversations) == sorted([OUR_NUMBER, OTHER_NUMBER])
        assert len({c.contact_id for c in conversations}) == 1
    page = lena.get(f"/o/{org.slug}/inbox/?view=all").content.decode()
    assert "we stock novels too" in page and "Is the novel in stock?" not in page
    # Writing from the other client's number is refused as if it did not exist.
    response = lena.post(f"/api/{org.slug}/messages", {"fromNumberId": str(other.pk), "to": ATLAS_CUSTOMER,
                                                       "body": "x"}, content_type="application/json")
    assert response.status_code == 400 and "fromNumberId" in response.json()


def test_owners_set_the_clients_a_member_sees_on_the_team_page(org, owner, owner_client, two_clients):
    atlas, borealis, other = two_clients
    membership, lena = _member(org, "lena")
    url = f"/o/{org.slug}/team/members/{membership.pk}/clients/"
    form = owner_client.get(url).content.decode()
    assert "Atlas Outfitters" in form and "Borealis Books" in form
    response = owner_client.post(url, {"access": "some", "clients": [str(atlas.pk)]})
    assert response.status_code == 302
    team = owner_client.get(f"/o/{org.slug}/team/").content.decode()
    assert "Only Atlas Outfitters" in team
    assert "Is the novel in stock?" not in lena.get(f"/o/{org.slug}/inbox/?view=all").content.decode()
    with tenant_scope(org):
        event = AuditEvent.objects.filter(verb="membership.clients_changed").get()
        assert event.data == {"limited": True, "clients": ["Atlas Outfitters"]}
    # Every client again.
    owner_client.post(url, {"access": "all"})
    assert "Is the novel in stock?" in lena.get(f"/o/{org.slug}/inbox/?view=all").content.decode()
    with tenant_scope(org):
        assert not Membership.objects.get(pk=membership.pk).limited_to_clients
        assert not ClientAccess.objects.filter(membership=membership).exists()


def test_only_agents_can_be_limited_and_the_api_says_why(org, owner, owner_client, two_clients):
    atlas, borealis, other = two_clients
    membership, _ = _member(org, "adam", Role.ADMIN)
    response = owner_client.patch(f"/api/{org.slug}/members/{membership.pk}",
                                  {"limitedToClients": True, "clientIds": [str(atlas.pk)]},
                                  content_type="application/json")
    assert response.status_code == 400
    assert "Only agents can be limited" in response.content.decode()
    page = owner_client.post(f"/o/{org.slug}/team/members/{membership.pk}/clients/",
                             {"access": "some", "clients": [str(atlas.pk)]})
    assert page.status_code == 400 and "Only agents can be limited" in page.content.decode()
    agent_membership, _ = _member(org, "lena")
    unknown = owner_client.patch(f"/api/{org.slug}/members/{agent_membership.pk}",
                                 {"limitedToClients": True, "clientIds": [str(owner.pk)]},
                                 content_type="application/json")
    assert unknown.status_code == 400 and "No client of this organization" in unknown.content.decode()
    done = owner_client.patch(f"/api/{org.slug}/members/{agent_membership.pk}",
                              {"limitedToClients": True, "clientIds": [str(borealis.pk)]},
                              content_type="application/json")
    assert done.status_code == 200
    assert done.json()["limitedToClients"] is True and done.json()["clientIds"] == [str(borealis.pk)]


# Agents' visibility -----------------------------------------------------------------------------------


@pytest.fixture
def two_agents(org, two_clients):
    """Ann answers our_number, Ben the other number."""
    atlas, borealis, other = two_clients
    ann_membership, ann = _member(org, "ann")
    ben_membership, ben = _member(org, "ben")
    ann_agent = factories.make_agent(org, user=ann_membership.user, name="Ann Agent")
    ben_agent = factories.make_agent(org, user=ben_membership.user, name="Ben Agent")
    with tenant_scope(org):
        PhoneNumber.objects.filter(phone_number=OUR_NUMBER).update(agent=ann_agent)
        PhoneNumber.objects.filter(pk=other.pk).update(agent=ben_agent)
    return ann, ben, ann_agent, ben_agent, other


def test_agents_see_only_their_own_when_the_organization_says_so(org, owner, owner_client, two_agents, twilio_posts):
    ann, ben, ann_agent, ben_agent, other = two_agents
    # By default every agent sees every conversation.
    assert "Is the novel in stock?" in ann.get(f"/o/{org.slug}/inbox/?view=all").content.decode()
    response = owner_client.patch(f"/api/{org.slug}/settings", {"agentVisibility": "own"},
                                  content_type="application/json")
    assert response.status_code == 200 and response.json()["agentVisibility"] == "own"

    page = ann.get(f"/o/{org.slug}/inbox/?view=all").content.decode()
    assert "Where is my tent order?" in page and "Is the novel in stock?" not in page
    assert "Is the novel in stock?" not in ann.get(f"/o/{org.slug}/inbox/?view=all&q=novel").content.decode()
    assert "Is the novel in stock?" in ben.get(f"/o/{org.slug}/inbox/?view=all&q=novel").content.decode()
    assert "Where is my tent order?" not in ben.get(f"/o/{org.slug}/inbox/?view=all").content.decode()
    # A conversation of Ben's number assigned to Ann is hers too.
    with tenant_scope(org):
        Conversation.objects.filter(phone_number=other).update(assignee=ann_agent)
    assert "Is the novel in stock?" in ann.get(f"/o/{org.slug}/inbox/?view=all").content.decode()
    with tenant_scope(org):
        Conversation.objects.filter(phone_number=other).update(assignee=ben_agent)

    # Live: Ben's customer writes; Ann's poll brings nothing of it, Ben's does.
    page = ann.get(f"/o/{org.slug}/inbox/?view=all").content.decode()
    version, cursor = _live_place(page)
    ben_version, ben_cursor = _live_place(ben.get(f"/o/{org.slug}/inbox/?view=all").content.decode())
    twilio_posts.inbound(ACME_TOKEN, from_=BOREALIS_CUSTOMER, to=OTHER_NUMBER, body="Second question for Ben")
    answer = ann.get(f"/o/{org.slug}/inbox/poll/", {"v": version, "cursor": cursor, "view": "all"})
    with tenant_scope(org):
        anns = str(Conversation.objects.get(phone_number__phone_number=OUR_NUMBER).pk)
    if answer.status_code == 200:  # the counter moved: what comes is never Ben's
        assert "Second question for Ben" not in answer.content.decode()
        assert {row["id"] for row in answer.json()["rows"]} <= {anns}
    else:
        assert answer.status_code == 204
    rows = ben.get(f"/o/{org.slug}/inbox/poll/", {"v": ben_version, "cursor": ben_cursor, "view": "all"}).json()["rows"]
    assert any("Second question for Ben" in row["html"] for row in rows)

    # Owners and admins still see everything; back to "all", Ann does too.
    assert "Second question for Ben" in owner_client.get(f"/o/{org.slug}/inbox/?view=all").content.decode()
    owner_client.post(f"/o/{org.slug}/team/agent-visibility/", {"agent_visibility": AgentVisibility.ALL})
    assert "Second question for Ben" in ann.get(f"/o/{org.slug}/inbox/?view=all").content.decode()
    with tenant_scope(org):
        verbs = list(AuditEvent.objects.filter(verb="organization.agent_visibility_changed")
                     .order_by("created_at").values_list("data", flat=True))
    assert verbs == [{"from": "all", "to": "own"}, {"from": "own", "to": "all"}]


def test_an_agent_without_an_agent_profile_sees_no_conversation_when_agents_see_their_own(org, owner, two_clients):
    membership, nobody = _member(org, "nobody")
    with tenant_scope(org):
        tenant_services.organization_set_agent_visibility(organization=org, actor=owner,
                                                          visibility=AgentVisibility.OWN)
    page = nobody.get(f"/o/{org.slug}/inbox/?view=all").content.decode()
    assert "Where is my tent order?" not in page and "Is the novel in stock?" not in page


def test_a_limit_that_would_hide_numbers_the_member_answers_is_refused(org, owner, owner_client, two_clients):
    atlas, borealis, other = two_clients
    membership, _ = _member(org, "ben")
    ben = factories.make_agent(org, user=membership.user, name="Ben Agent")
    with tenant_scope(org):
        PhoneNumber.objects.filter(pk=other.pk).update(agent=ben)
    response = owner_client.patch(f"/api/{org.slug}/members/{membership.pk}",
                                  {"limitedToClients": True, "clientIds": [str(atlas.pk)]},
                                  content_type="application/json")
    assert response.status_code == 400
    assert response.json()["clientIds"] == [
        f"Ben answers {OTHER_NUMBER}, of another client or of none: assign those numbers to someone else, "
        "or include their client."]
    with tenant_scope(org):
        assert not Membership.objects.get(pk=membership.pk).limited_to_clients
    assert owner_client.patch(f"/api/{org.slug}/members/{membership.pk}",
                              {"limitedToClients": True, "clientIds": [str(borealis.pk)]},
                              content_type="application/json").status_code == 200
