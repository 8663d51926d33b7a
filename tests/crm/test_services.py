"""Contacts' writes and reads (crm): one contact per address, found or created set-wise; what
changes a contact tells the inbox above it through a signal."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from crm import selectors, services
from crm.models import Contact
from crm.services import Sender
from crm.signals import contact_changed
from messaging.models import Conversation
from messaging.services import conversations, live
from telephony.models import PhoneNumber, Provider
from tenants.models import AuditEvent
from tenants.scoping import tenant_scope

pytestmark = pytest.mark.django_db


@pytest.fixture
def our_number(org, twilio_account):
    with tenant_scope(org):
        return PhoneNumber.objects.create(organization=org, provider_account=twilio_account, provider=Provider.TWILIO,
                                          phone_number="+14155550142", provider_sid="PN" + "1" * 32)


def test_contacts_are_found_and_created_for_many_senders_in_four_queries(org):
    with tenant_scope(org):
        known = services.contact_for(organization=org, phone="+14155550101")
        senders = [Sender.of(phone) for phone in ["+14155550101", "+14155550102", "ACMEBANK", "12345"]]
        with CaptureQueriesContext(connection) as queries:
            found = services.contacts_for(organization=org, senders=senders)
        assert len(queries) == 4  # the known ones, merged numbers among the others, the missing inserted, then read
        assert found["+14155550101"] == known
        assert {address: contact.address_kind for address, contact in found.items()} == {
            "+14155550101": "phone", "+14155550102": "phone", "ACMEBANK": "alphanumeric", "12345": "short_code"}
        assert Contact.objects.count() == 4
        with CaptureQueriesContext(connection) as queries:
            assert services.contacts_for(organization=org, senders=senders) == found
        assert len(queries) == 1  # all known: one SELECT


def test_spellings_of_one_number_are_one_contact_and_the_latest_sighting_wins(org):
    with tenant_scope(org):
        found = services.contacts_for(organization=org, senders=[
            Sender.of("+5215512345678", "Ana", "5215512345678"), Sender.of("whatsapp:+525512345678", "Ana Pérez")])
        assert list(found) == ["+525512345678"]
        contact = Contact.objects.get()
        assert (contact.whatsapp_profile_name, contact.wa_id) == ("Ana Pérez", "5215512345678")  # kept: no new id

        services.contact_for(organization=org, phone="+525512345678", profile_name="Ana P.", wa_id="525512345678")
        contact.refresh_from_db()
        assert (contact.whatsapp_profile_name, contact.wa_id) == ("Ana P.", "525512345678")


def test_a_sender_without_an_address_is_refused_with_the_reason(org):
    with pytest.raises(ValidationError, match="The sender's address is missing."):
        Sender.of("whatsapp:")
    with tenant_scope(org), pytest.raises(ValidationError):
        services.contact_for(organization=org, phone="")
    with tenant_scope(org):
        assert not Contact.objects.exists()


def test_the_selectors_read_one_organizations_contacts(org, other_org):
    with tenant_scope(org):
        mine = services.contact_for(organization=org, phone="+14155550101")
    with tenant_scope(other_org):
        theirs = services.contact_for(organization=other_org, phone="+14155550101")
    with tenant_scope(org):
        assert list(selectors.contact_list(organization=org, search="555")) == [mine]
        assert selectors.get_contact_for_org(org, mine.pk) == mine
        with pytest.raises(Http404):
            selectors.get_contact_for_org(org, theirs.pk)


def test_an_opt_out_and_notes_tell_the_inbox_of_the_contacts_conversations(org, owner, our_number,
                                                                            django_capture_on_commit_callbacks):
    """crm cannot call messaging (it sits below it): it sends contact_changed, and messaging touches
    the conversations (the composer's verdict changed) and tells every open tab."""
    heard = []

    def listener(sender, *, contact, **kwargs):
        heard.append(contact)

    contact_changed.connect(listener)
    try:
        with tenant_scope(org):
            contact = services.contact_for(organization=org, phone="+14155550101")
            conversation = conversations.conversation_for(organization=org, contact=contact, channel="sms",
                                                          phone_number=our_number)
            before, version = conversation.updated_at, live.inbox_version(org, ["any"])
            with django_capture_on_commit_callbacks(execute=True):
                services.contact_set_opt_out(contact=contact, channel="sms", opted_out=True, source="STOP")
            assert Conversation.objects.get().updated_at > before
            assert int(live.inbox_version(org, ["any"])) == int(version) + 1
            assert Contact.objects.get().sms_opt_out_source == "STOP"

            with pytest.raises(ValidationError, match="at most 5,000"):
                services.contact_update_notes(organization=org, actor=owner, contact=contact, notes="x" * 5001)
            services.contact_update_notes(organization=org, actor=owner, contact=contact, notes=" Prefers mornings ")
            services.contact_update_notes(organization=org, actor=owner, contact=contact, notes="Prefers mornings")
            assert Contact.objects.get().notes == "Prefers mornings"
            assert AuditEvent.objects.filter(verb="contact.updated", data={"fields": ["notes"]}).count() == 1  # the same again: nothing
    finally:
        contact_changed.disconnect(listener)
    assert heard == [contact, contact]
