"""The messaging REST API: contacts, conversations and their messages."""

import pytest

from crm.models import Contact
from messaging.models import Conversation, Message
from tenants.scoping import tenant_scope
from tests.messaging.conftest import CUSTOMER
from tests.vendor_fixtures import ACME_SID, ACME_TOKEN


@pytest.fixture
def inbox(org, our_number, twilio_posts):
    for i in range(3):
        twilio_posts.inbound(ACME_TOKEN, body=f"message {i}")
    twilio_posts.inbound(ACME_TOKEN, from_="+14155550177", body="another customer")
    with tenant_scope(org):
        return {c.contact.phone_number: c for c in Conversation.objects.select_related("contact")}


@pytest.mark.django_db
def test_contacts_and_conversations(owner_client, org, inbox, agent):
    contacts = owner_client.get("/api/acme/contacts").json()["results"]
    assert sorted(c["phoneNumber"] for c in contacts) == ["+14155550177", CUSTOMER]
    one = inbox[CUSTOMER]
    assert owner_client.get(f"/api/acme/contacts/{one.contact_id}").json()["phoneNumber"] == CUSTOMER

    listed = owner_client.get("/api/acme/conversations?unread=true").json()["results"]
    assert [c["contact"]["phoneNumber"] for c in listed] == ["+14155550177", CUSTOMER]  # newest first
    assert listed[1]["unreadCount"] == 3
    assert listed[1]["lastMessagePreview"] == "message 2"

    response = owner_client.patch(f"/api/acme/conversations/{one.pk}", {
        "status": "pending", "assigneeId": str(agent.pk), "labels": ["vip", " vip", "billing"]},
        content_type="application/json")
    assert response.status_code == 200, response.json()
    assert (response.json()["status"], response.json()["assigneeId"], response.json()["labels"]) == (
        "pending", str(agent.pk), ["billing", "vip"])
    mine = owner_client.get(f"/api/acme/conversations?assigneeId={agent.pk}&status=pending").json()["results"]
    assert [c["id"] for c in mine] == [str(one.pk)]


@pytest.mark.django_db
def test_messages_newest_last_with_a_cursor(owner_client, org, inbox):
    one = inbox[CUSTOMER]
    page = owner_client.get(f"/api/acme/conversations/{one.pk}/messages").json()
    assert [m["body"] for m in page["results"]] == ["message 0", "message 1", "message 2"]
    assert page["previous"] is None
    from messaging import selectors

    with tenant_scope(org):
        older, has_more = selectors.thread_messages(organization=org, conversation=one, limit=2)
    assert [m.body for m in older] == ["message 1", "message 2"] and has_more
    earlier = owner_client.get(f"/api/acme/conversations/{one.pk}/messages?before={older[0].pk}").json()
    assert [m["body"] for m in earlier["results"]] == ["message 0"]


@pytest.mark.django_db
@pytest.mark.parametrize("query, field", [("status=sleeping", "status"), ("assigneeId=nope", "assigneeId"),
                                          ("assigneeId=00000000-0000-7000-8000-000000000000", "assigneeId")])
def test_bad_filters_are_400(owner_client, org, inbox, query, field):
    response = owner_client.get(f"/api/acme/conversations?{query}")
    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.django_db
def test_snoozing_needs_a_time_and_an_inbound_message_reopens(owner_client, org, inbox, twilio_posts):
    one = inbox[CUSTOMER]
    assert owner_client.patch(f"/api/acme/conversations/{one.pk}", {"status": "snoozed"},
                              content_type="application/json").status_code == 400
    response = owner_client.patch(f"/api/acme/conversations/{one.pk}",
                                  {"status": "snoozed", "snoozedUntil": "2030-01-01T09:00:00Z"},
                                  content_type="application/json")
    assert response.json()["status"] == "snoozed"
    twilio_posts.inbound(ACME_TOKEN, body="are you there?")
    assert owner_client.get(f"/api/acme/conversations/{one.pk}").json()["status"] == "open"


@pytest.mark.django_db
@pytest.mark.parametrize("to", ["(415) 555-0188", "12"])
def test_a_message_to_something_that_is_not_a_number_is_refused_on_that_field(owner_client, org, our_number,
                                                                               twilio, to):
    response = owner_client.post("/api/acme/messages", {"to": to, "fromNumberId": str(our_number.pk),
                                                        "body": "Hello from Acme"}, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"to": [f"'{to}' is not a valid phone number. Use E.164, e.g. +14155551234."]}
    with tenant_scope(org):
        assert not Contact.objects.exists() and not Message.objects.exists()
    assert twilio.messages(ACME_SID) == []


def test_a_long_list_counts_up_to_a_cap_and_still_pages_to_its_end(owner_client, org, monkeypatch):
    """Page-numbered lists count only so far (core.api.COUNT_UP_TO): past it `count` is the cap and
    `countExact` false, every row is still reached page by page, and a page past the end is a 404."""
    with tenant_scope(org):
        for i in range(7):
            Contact.objects.create(organization=org, phone_number=f"+1415555{7000 + i}", name=f"Counted {i}")
    exact = owner_client.get("/api/acme/contacts", {"pageSize": 3}).json()
    assert (exact["count"], exact["countExact"]) == (7, True)

    monkeypatch.setattr("core.api.COUNT_UP_TO", 4)
    names, url = [], "/api/acme/contacts?pageSize=3"
    while url:
        page = owner_client.get(url).json()
        assert (page["count"], page["countExact"]) == (4, False)
        names += [row["name"] for row in page["results"]]
        url = page["next"]
    assert names == [f"Counted {i}" for i in range(7)]
    past = owner_client.get("/api/acme/contacts", {"pageSize": 3, "page": 4})
    assert past.status_code == 404 and past.json()["detail"]
    assert owner_client.get("/api/acme/contacts", {"page": "last"}).status_code == 404
