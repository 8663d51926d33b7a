"""Merging two contacts of the same person: everything of the duplicate moves to the survivor, the
merge is recorded, and the duplicate's number keeps reaching the person."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from crm import merges, services
from crm.models import Contact, ContactMerge, Order
from messaging.models import Conversation, Message
from telephony.models import Call, PhoneNumber, Provider
from tenants.models import AuditEvent
from tenants.scoping import tenant_scope
from tests.messaging.conftest import CUSTOMER, OUR_NUMBER
from tests.vendor_fixtures import ACME_SID, ACME_TOKEN

OTHER_PHONE = "+14155550177"  # the same customer's second phone
SALES_NUMBER = "+14155550143"  # a second number of ours


@pytest.fixture
def sales_number(org, twilio, twilio_account):
    remote = twilio.add_incoming_number(ACME_SID, SALES_NUMBER)
    with tenant_scope(org):
        return PhoneNumber.objects.create(
            organization=org, provider_account=twilio_account, provider=Provider.TWILIO, phone_number=SALES_NUMBER,
            provider_sid=remote["sid"], capabilities={"voice": True, "sms": True, "mms": True, "fax": False})


@pytest.fixture
def two_of_one(org, owner, our_number, sales_number, twilio_posts):
    """Maria wrote to the support line from her first phone; from her second phone she wrote to the
    support line and to sales, called, and ordered twice (and asked us to stop texting that phone)."""
    twilio_posts.inbound(ACME_TOKEN, body="hi, it's Maria")
    twilio_posts.inbound(ACME_TOKEN, body="any news?")
    twilio_posts.inbound(ACME_TOKEN, from_=OTHER_PHONE, body="my order 1042?")
    twilio_posts.inbound(ACME_TOKEN, from_=OTHER_PHONE, to=SALES_NUMBER, body="a quote please")
    with tenant_scope(org):
        maria = Contact.objects.get(phone_number=CUSTOMER)
        other = Contact.objects.get(phone_number=OTHER_PHONE)
        maria.name = "Maria Lopez"
        maria.notes = "Prefers mornings"
        maria.save()
        other.email = "maria@example.com"
        other.name = "M. Lopez"
        other.notes = "Gift wrap every order"
        other.sms_opted_out_at, other.sms_opt_out_source = timezone.now(), "STOP"
        other.save()
        Call.objects.create(organization=org, phone_number=our_number, contact=other, direction="inbound",
                            from_number=OTHER_PHONE, to_number=OUR_NUMBER, provider_sid="CA" + "7" * 32,
                            status="completed")
        for _ in range(2):
            services.order_create(organization=org, actor=owner, contact=other,
                                  items=[services.ItemInput("Coffee", 3, Decimal("0.10"))])
        Conversation.objects.filter(contact=other, phone_number=our_number).update(labels=["vip"], unread_count=1)
    return maria, other


def counts(org):
    with tenant_scope(org):
        return {"messages": Message.objects.count(), "orders": Order.objects.count(), "calls": Call.objects.count()}


@pytest.mark.django_db
def test_a_merge_keeps_everything_and_records_it(org, owner, our_number, sales_number, two_of_one):
    maria, other = two_of_one
    before = counts(org)
    with tenant_scope(org):
        record = merges.contact_merge(organization=org, actor=owner, survivor=maria, duplicate=other)

        assert not Contact.objects.filter(pk=other.pk).exists()
        assert counts(org) == before  # nothing lost
        support, sales = (Conversation.objects.get(contact=maria, phone_number=n) for n in (our_number, sales_number))
        # The two conversations on the support line became one, in order; the sales one moved.
        assert list(support.messages.order_by("created_at").values_list("body", flat=True)) == [
            "hi, it's Maria", "any news?", "my order 1042?"]
        assert support.labels == ["vip"] and support.unread_count == 3
        assert support.last_message_preview == "my order 1042?"
        assert list(sales.messages.values_list("body", flat=True)) == ["a quote please"]
        assert Conversation.objects.filter(contact=maria).count() == 2
        assert Call.objects.get().contact_id == maria.pk
        assert sorted(Order.objects.values_list("contact_id", flat=True)) == [maria.pk, maria.pk]

        maria.refresh_from_db()
        assert (maria.phone_number, maria.name, maria.email) == (CUSTOMER, "Maria Lopez", "maria@example.com")
        assert maria.notes.startswith("Prefers mornings\n\nFrom M. Lopez (+14155550177), merged:\nGift wrap")
        assert maria.sms_opted_out_at is not None and maria.sms_opt_out_source == "STOP (as +14155550177)"

        assert (record.contact_id, record.merged_contact_id, record.merged_address, record.merged_name) == (
            maria.pk, other.pk, OTHER_PHONE, "M. Lopez")
        assert record.merged_snapshot["email"] == "maria@example.com" and record.merged_snapshot["notes"]
        assert record.moved == {"conversations combined": 1, "messages moved into them": 1, "orders": 2,
                                "calls": 1, "conversations": 1}
        assert AuditEvent.objects.filter(verb="contact.merged", target_id=maria.pk).get().data["merged"] == OTHER_PHONE


@pytest.mark.django_db
def test_every_kind_of_row_that_points_at_a_contact_is_moved():
    """The merge follows the foreign keys: a table that points at contacts and is not listed here is
    a table someone must think about (does it need a receiver like messaging's conversations?)."""
    pointing = sorted(f"{r.related_model._meta.label}.{r.field.name}" for r in Contact._meta.related_objects)
    assert pointing == ["crm.ContactMerge.contact", "crm.Order.contact", "messaging.Conversation.contact",
                        "telephony.Call.contact"]


@pytest.mark.django_db
def test_the_other_number_still_reaches_the_person(org, owner, our_number, two_of_one, twilio_posts):
    maria, other = two_of_one
    with tenant_scope(org):
        merges.contact_merge(organization=org, actor=owner, survivor=maria, duplicate=other)
    twilio_posts.inbound(ACME_TOKEN, from_=OTHER_PHONE, body="it's me again")
    with tenant_scope(org):
        assert list(Contact.objects.values_list("phone_number", flat=True)) == [CUSTOMER]
        message = Message.objects.select_related("conversation").get(body="it's me again")
        assert message.conversation.contact_id == maria.pk and message.conversation.phone_number_id == our_number.pk
        assert Contact.objects.get().address_kind == "phone"


@pytest.mark.django_db
def test_merged_again_the_first_number_follows(org, owner):
    with tenant_scope(org):
        a, b, c = (Contact.objects.create(organization=org, phone_number=f"+1415555016{i}") for i in range(3))
        merges.contact_merge(organization=org, actor=owner, survivor=b, duplicate=a)
        merges.contact_merge(organization=org, actor=owner, survivor=c, duplicate=b)
        assert sorted(ContactMerge.objects.filter(contact=c).values_list("merged_address", flat=True)) == [
            "+14155550160", "+14155550161"]
        assert services.contact_for(organization=org, phone="+1 415 555 0160").pk == c.pk


@pytest.mark.django_db
def test_refused_merges_change_nothing(org, other_org, owner):
    with tenant_scope(org):
        one = Contact.objects.create(organization=org, phone_number="+14155550160")
        with pytest.raises(ValidationError, match="cannot be merged into itself"):
            merges.contact_merge(organization=org, actor=owner, survivor=one, duplicate=one)
    with tenant_scope(other_org):
        theirs = Contact.objects.create(organization=other_org, phone_number="+14155550161")
    with tenant_scope(org), pytest.raises(ValidationError, match="no longer exists"):
        merges.contact_merge(organization=org, actor=owner, survivor=one, duplicate=theirs)
    with tenant_scope(other_org):
        assert Contact.objects.filter(pk=theirs.pk).exists()
    with tenant_scope(org):
        assert not ContactMerge.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_merges_of_one_pair_at_once_one_wins(org, owner):
    with tenant_scope(org):
        a = Contact.objects.create(organization=org, phone_number="+14155550160", name="A")
        b = Contact.objects.create(organization=org, phone_number="+14155550161", name="B")
        services.order_create(organization=org, actor=owner, contact=a)
        services.order_create(organization=org, actor=owner, contact=b)
    barrier, outcomes = threading.Barrier(2), []

    def merge(survivor, duplicate):
        try:
            barrier.wait()
            with tenant_scope(org):
                merges.contact_merge(organization=org, actor=owner, survivor=survivor, duplicate=duplicate)
            outcomes.append("merged")
        except ValidationError as exc:
            outcomes.append(exc.messages[0])
        finally:
            connection.close()

    threads = [threading.Thread(target=merge, args=pair) for pair in ((a, b), (b, a))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("merged") == 1 and len(outcomes) == 2
    assert "no longer exists" in next(outcome for outcome in outcomes if outcome != "merged")
    with tenant_scope(org):
        [left] = Contact.objects.all()
        assert Order.objects.filter(contact=left).count() == 2
        assert ContactMerge.objects.get().contact_id == left.pk


@pytest.mark.django_db
def test_the_api_merges_for_admins_only(org, owner_client, agent_client, two_of_one, other_org):
    maria, other = two_of_one
    refused = agent_client.post("/api/acme/contacts/merge", {"survivorId": str(maria.pk), "duplicateId": str(other.pk)},
                                content_type="application/json")
    assert refused.status_code == 403 and "owners and admins" in refused.json()["detail"]
    same = owner_client.post("/api/acme/contacts/merge", {"survivorId": str(maria.pk), "duplicateId": str(maria.pk)},
                             content_type="application/json")
    assert same.status_code == 400 and "cannot be merged into itself" in str(same.json())
    with tenant_scope(other_org):
        theirs = Contact.objects.create(organization=other_org, phone_number="+14155550161")
    foreign = owner_client.post("/api/acme/contacts/merge", {"survivorId": str(maria.pk), "duplicateId": str(theirs.pk)},
                                content_type="application/json")
    assert foreign.status_code == 400 and foreign.json()["duplicateId"] == ["No duplicate of this organization has that id."]

    done = owner_client.post("/api/acme/contacts/merge", {"survivorId": str(maria.pk), "duplicateId": str(other.pk)},
                             content_type="application/json")
    assert done.status_code == 201
    body = done.json()
    assert (body["contactId"], body["mergedContactId"], body["mergedAddress"]) == (str(maria.pk), str(other.pk), OTHER_PHONE)
    assert body["moved"]["orders"] == 2
    again = owner_client.post("/api/acme/contacts/merge", {"survivorId": str(maria.pk), "duplicateId": str(other.pk)},
                              content_type="application/json")
    assert again.status_code == 400 and again.json()["duplicateId"] == ["No duplicate of this organization has that id."]
    assert owner_client.get(f"/api/acme/contacts/{maria.pk}/orders").json()["results"][0]["contactId"] == str(maria.pk)


@pytest.mark.django_db
def test_the_pages_find_preview_and_merge(org, owner_client, agent_client, two_of_one):
    maria, other = two_of_one
    page = owner_client.get(f"/o/acme/contacts/{maria.pk}/").content.decode()
    assert "Merge a duplicate into this contact" in page
    assert "Merge a duplicate" not in agent_client.get(f"/o/acme/contacts/{maria.pk}/").content.decode()

    found = owner_client.get(f"/o/acme/contacts/{maria.pk}/merge/", {"q": "lopez"}).content.decode()
    assert f"candidate-{other.pk}" in found and f"candidate-{maria.pk}" not in found
    preview = owner_client.get(f"/o/acme/contacts/{maria.pk}/merge/{other.pk}/").content.decode()
    assert "2 orders move to Maria Lopez." in preview and "1 calls move to Maria Lopez." in preview
    assert "2 conversations move to Maria Lopez." in preview
    with tenant_scope(org):
        assert Contact.objects.filter(pk=other.pk).exists()  # a preview writes nothing

    merged = owner_client.post(f"/o/acme/contacts/{maria.pk}/merge/{other.pk}/", follow=True)
    page = merged.content.decode()
    assert merged.redirect_chain == [(f"/o/acme/contacts/{maria.pk}/", 302)]
    assert "M. Lopez (+14155550177) was merged into Maria Lopez." in page
    assert "Merged into this contact" in page and "Messages and calls from +14155550177 reach this contact." in page

    gone = owner_client.post(f"/o/acme/contacts/{maria.pk}/merge/{other.pk}/")
    assert gone.status_code == 404
