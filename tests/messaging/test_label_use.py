"""The label filter reads LabelUse, which a trigger keeps: each writer of conversations' labels."""

import re

import pytest
from django.db import connection

from crm import merges
from crm.models import Contact
from messaging.models import Conversation, LabelUse
from messaging.services import conversations
from tenants.scoping import tenant_scope
from tests import factories
from tests.messaging.test_inbox import inbox_url, make_conversation

pytestmark = pytest.mark.django_db


def uses(org) -> dict[str, int]:
    with tenant_scope(org):
        return dict(LabelUse.objects.filter(organization=org).values_list("label", "conversations"))


def offered(client, org) -> list[str]:
    page = client.get(inbox_url(org, view="all")).content.decode()
    return re.findall(r'<option value="([^"]*)" >', page.split('name="label"', 1)[1].split("</select>", 1)[0])


def test_labels_added_and_removed_in_the_inbox_come_and_go_in_the_filter(agent_client, org, our_number, owner):
    first = make_conversation(org, our_number, "+14155550161")
    second = make_conversation(org, our_number, "+14155550162")
    with tenant_scope(org):
        conversations.conversation_update(organization=org, actor=owner, conversation=first, add_label="vip")
        conversations.conversation_update(organization=org, actor=owner, conversation=second, add_label="vip")
        conversations.conversation_update(organization=org, actor=owner, conversation=second, add_label="refund")
    assert uses(org) == {"refund": 1, "vip": 2}
    assert offered(agent_client, org) == ["refund", "vip"]

    with tenant_scope(org):
        conversations.conversation_update(organization=org, actor=owner, conversation=second, remove_label="refund")
        conversations.conversation_update(organization=org, actor=owner, conversation=first, labels=["b2b"])
    assert uses(org) == {"b2b": 1, "refund": 0, "vip": 1}
    assert offered(agent_client, org) == ["b2b", "vip"]  # a label no conversation carries is not offered


def test_deleting_a_conversation_and_odd_arrays_written_in_sql_count_right(org, our_number):
    conversation = make_conversation(org, our_number, "+14155550163")
    with tenant_scope(org), connection.cursor() as cursor:
        # A label twice in one array counts the conversation once.
        cursor.execute("update messaging_conversation set labels = array['vip', 'vip', 'late'] where id = %s",
                       [conversation.pk])
        assert uses(org) == {"late": 1, "vip": 1}
        cursor.execute("update messaging_conversation set labels = array['vip'] where id = %s", [conversation.pk])
        assert uses(org) == {"late": 0, "vip": 1}
        Conversation.objects.filter(pk=conversation.pk).update(unread_count=3)  # labels untouched
        assert uses(org) == {"late": 0, "vip": 1}
        Conversation.objects.filter(pk=conversation.pk).delete()
    assert uses(org) == {"late": 0, "vip": 0}


def test_one_organizations_labels_are_not_anothers(org, other_org, owner, outsider):
    factories.build_world(org, owner)  # each world's conversation carries "vip"
    theirs = factories.build_world(other_org, outsider)["conversation"]
    with tenant_scope(other_org):
        Conversation.objects.filter(pk=theirs.pk).update(labels=["vip", "wholesale"])
    assert uses(org) == {"vip": 1}
    assert uses(other_org) == {"vip": 1, "wholesale": 1}


def test_merging_two_customers_joins_their_conversations_labels_once(org, owner, our_number):
    maria = make_conversation(org, our_number, "+14155550165", labels=["vip", "refund"])
    other = make_conversation(org, our_number, "+14155550166", labels=["vip"])
    assert uses(org) == {"refund": 1, "vip": 2}
    with tenant_scope(org):
        merges.contact_merge(organization=org, actor=owner, survivor=Contact.objects.get(pk=maria.contact_id),
                             duplicate=Contact.objects.get(pk=other.contact_id))
        assert list(Conversation.objects.filter(organization=org).values_list("labels", flat=True)) == [
            ["vip", "refund"]]
    assert uses(org) == {"refund": 1, "vip": 1}  # one conversation now carries each

