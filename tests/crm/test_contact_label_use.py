"""The contacts page's label filter reads ContactLabelUse, which a trigger keeps: each writer of contacts' labels."""

import re

import pytest
from django.db import connection

from crm import merges
from crm.models import Contact, ContactLabelUse
from tenants.scoping import tenant_scope
from tests import factories

pytestmark = pytest.mark.django_db


def uses(org) -> dict[str, int]:
    with tenant_scope(org):
        return dict(ContactLabelUse.objects.filter(organization=org).values_list("label", "contacts"))


def offered(client, org) -> list[str]:
    page = client.get(f"/o/{org.slug}/contacts/").content.decode()
    return re.findall(r'<option value="([^"]*)">', page.split('<datalist id="contact-labels">', 1)[1].split("</datalist>", 1)[0])


def make_contact(org, phone, name, labels=()):
    with tenant_scope(org):
        return Contact.objects.create(organization=org, phone_number=phone, name=name, labels=list(labels))


def test_labels_edited_on_the_contact_page_come_and_go_in_the_filter(agent_client, org):
    ann = make_contact(org, "+14155550171", "Ann")
    bob = make_contact(org, "+14155550172", "Bob", ["vip"])
    assert uses(org) == {"vip": 1}
    agent_client.post(f"/o/{org.slug}/contacts/{ann.pk}/", {"name": "Ann", "labels": "vip, Wholesale"})
    assert uses(org) == {"vip": 2, "Wholesale": 1}
    assert offered(agent_client, org) == ["Wholesale", "vip"]  # in the database's order, as before
    agent_client.post(f"/o/{org.slug}/contacts/{bob.pk}/", {"name": "Bob", "labels": ""})
    agent_client.post(f"/o/{org.slug}/contacts/{ann.pk}/", {"name": "Ann", "labels": "Wholesale"})
    assert uses(org) == {"vip": 0, "Wholesale": 1}
    assert offered(agent_client, org) == ["Wholesale"]  # a label no contact carries is not offered


def test_deleting_a_contact_and_odd_arrays_written_in_sql_count_right(org):
    ann = make_contact(org, "+14155550173", "Ann")
    with tenant_scope(org), connection.cursor() as cursor:
        # A label twice in one array counts the contact once.
        cursor.execute("update crm_contact set labels = array['vip', 'vip', 'late payer'] where id = %s", [ann.pk])
        assert uses(org) == {"late payer": 1, "vip": 1}
        cursor.execute("update crm_contact set labels = array['vip'] where id = %s", [ann.pk])
        assert uses(org) == {"late payer": 0, "vip": 1}
        Contact.objects.filter(pk=ann.pk).update(notes="Calls on Mondays")  # labels untouched
        assert uses(org) == {"late payer": 0, "vip": 1}
        Contact.objects.filter(pk=ann.pk).delete()
    assert uses(org) == {"late payer": 0, "vip": 0}


def test_merging_two_contacts_counts_their_shared_label_once(org, owner):
    maria = make_contact(org, "+14155550174", "Maria", ["vip", "press"])
    other = make_contact(org, "+14155550175", "Maria (work)", ["vip"])
    assert uses(org) == {"press": 1, "vip": 2}
    with tenant_scope(org):
        merges.contact_merge(organization=org, actor=owner, survivor=maria, duplicate=other)
    assert uses(org) == {"press": 1, "vip": 1}


def test_one_organizations_contact_labels_are_not_anothers(org, other_org, owner, outsider):
    factories.build_world(org, owner)  # each world's contact carries "wholesale"
    theirs = factories.build_world(other_org, outsider)["contact"]
    with tenant_scope(other_org):
        Contact.objects.filter(pk=theirs.pk).update(labels=["wholesale", "their secret"])
    assert uses(org) == {"wholesale": 1}
    assert uses(other_org) == {"their secret": 1, "wholesale": 1}
