"""A call's "open their conversation": the contact's one conversation on that number."""

from __future__ import annotations

import pytest

from crm.models import Contact
from messaging.models import Conversation
from tenants.scoping import tenant_scope

pytestmark = pytest.mark.django_db


def test_a_caller_who_never_texted_gets_one_conversation_and_every_later_call_opens_it(org, owner_client,
                                                                                       our_number):
    with tenant_scope(org):
        contact = Contact.objects.create(organization=org, phone_number="+14155550123", name="Ada Caller")
    url = f"/o/{org.slug}/inbox/with/{contact.pk}/{our_number.pk}/"

    first = owner_client.get(url)
    second = owner_client.get(url)

    with tenant_scope(org):
        conversations = list(Conversation.objects.filter(contact=contact))
    assert len(conversations) == 1
    assert conversations[0].phone_number_id == our_number.pk and conversations[0].channel == "sms"
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == f"/o/{org.slug}/inbox/?c={conversations[0].pk}"


def test_another_tenants_contact_or_number_is_not_found(org, other_org, owner_client, our_number):
    with tenant_scope(other_org):
        stranger = Contact.objects.create(organization=other_org, phone_number="+14155550124")
    assert owner_client.get(f"/o/{org.slug}/inbox/with/{stranger.pk}/{our_number.pk}/").status_code == 404
    with tenant_scope(org):
        assert not Conversation.objects.filter(phone_number=our_number).exists()
