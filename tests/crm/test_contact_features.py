"""A contact's labels, the "last contact" filter, their page's one timeline, and writing to them from it."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from crm.merges import contact_merge
from crm.models import Contact
from crm.services import ItemInput, order_create
from messaging.models import Conversation, Message
from telephony.models import Call
from tenants.scoping import tenant_scope
from tests.crm.test_contact_pages import contacts, rows
from tests.messaging.test_inbox import make_conversation
from tests.vendor_fixtures import ACME_SID

pytestmark = pytest.mark.django_db


def labels_of(org, contact) -> list[str]:
    with tenant_scope(org):
        return Contact.objects.get(pk=contact.pk).labels


def test_labels_are_edited_on_the_page_shown_in_the_list_and_filter_it(agent_client, org):
    ann, bob = contacts(org, ("+14155550101", "Ann", ""), ("+14155550102", "Bob", ""))
    url = f"/o/{org.slug}/contacts/{ann.pk}/"
    saved = agent_client.post(url, {"name": "Ann", "email": "", "notes": "",
                                    "labels": " vip,  Wholesale  buyer, VIP ,, wholesale BUYER"})
    assert saved.status_code == 200 and "Saved." in saved.content.decode()
    assert labels_of(org, ann) == ["vip", "Wholesale buyer"]  # one of each, whatever its case; spaces tidied
    assert 'value="vip, Wholesale buyer"' in agent_client.get(url).content.decode()
    agent_client.post(f"/o/{org.slug}/contacts/{bob.pk}/", {"name": "Bob", "labels": "Wholesale buyer"})
    listed = agent_client.get(f"/o/{org.slug}/contacts/").content.decode()
    assert listed.count('class="chip label"') == 3 and '<option value="vip">' in listed
    assert rows(agent_client.get(f"/o/{org.slug}/contacts/", {"label": "vip"})) == ["Ann"]
    assert rows(agent_client.get(f"/o/{org.slug}/contacts/", {"label": "Wholesale  buyer"})) == ["Ann", "Bob"]
    assert rows(agent_client.get(f"/o/{org.slug}/contacts/", {"label": "nobody"})) == []
    too_long = agent_client.post(url, {"name": "Ann", "labels": "x" * 51})
    assert too_long.status_code == 400 and "A label can be at most 50 characters" in too_long.content.decode()
    too_many = agent_client.post(url, {"name": "Ann", "labels": ",".join(f"l{i}" for i in range(21))})
    assert too_many.status_code == 400 and "at most 20 labels (21 given)" in too_many.content.decode()
    assert labels_of(org, ann) == ["vip", "Wholesale buyer"]


def test_labels_through_the_api(owner_client, org):
    ann, bob = contacts(org, ("+14155550101", "Ann", ""), ("+14155550102", "Bob", ""))
    response = owner_client.patch(f"/api/{org.slug}/contacts/{ann.pk}", {"labels": ["b2b", "VIP", "vip"]},
                                  content_type="application/json")
    assert response.status_code == 200 and response.json()["labels"] == ["b2b", "VIP"]
    listed = owner_client.get(f"/api/{org.slug}/contacts", {"label": "VIP"}).json()
    assert [c["name"] for c in listed["results"]] == ["Ann"]
    bad = owner_client.get(f"/api/{org.slug}/contacts", {"lastContact": "yesterday"})
    assert bad.status_code == 400 and "lastContact" in bad.json()
    not_list = owner_client.patch(f"/api/{org.slug}/contacts/{bob.pk}", {"labels": "vip"},
                                  content_type="application/json")
    assert not_list.status_code == 400 and labels_of(org, bob) == []


def test_a_merge_joins_the_labels(org, owner):
    ann, ann2 = contacts(org, ("+14155550101", "Ann", ""), ("+14155550102", "Ann", ""))
    with tenant_scope(org):
        Contact.objects.filter(pk=ann.pk).update(labels=["VIP"])
        Contact.objects.filter(pk=ann2.pk).update(labels=["vip", "late payer"])
        contact_merge(organization=org, actor=owner, survivor=Contact.objects.get(pk=ann.pk),
                      duplicate=Contact.objects.get(pk=ann2.pk))
    assert labels_of(org, ann) == ["late payer", "VIP"]


def test_the_last_contact_filter(agent_client, org, our_number):
    now = timezone.now()
    make_conversation(org, our_number, "+14155550101", name="Recent", at=now - timedelta(days=2))
    make_conversation(org, our_number, "+14155550102", name="Month", at=now - timedelta(days=20))
    make_conversation(org, our_number, "+14155550103", name="Old", at=now - timedelta(days=200))
    contacts(org, ("+14155550104", "Never", ""))
    url = f"/o/{org.slug}/contacts/"
    assert rows(agent_client.get(url, {"last_contact": "7d"})) == ["Recent"]
    assert rows(agent_client.get(url, {"last_contact": "30d"})) == ["Month", "Recent"]
    assert rows(agent_client.get(url, {"last_contact": "90d"})) == ["Month", "Recent"]
    assert rows(agent_client.get(url, {"last_contact": "quiet90"})) == ["Never", "Old"]
    assert rows(agent_client.get(url, {"last_contact": "never"})) == ["Never"]
    bad = agent_client.get(url, {"last_contact": "1y"})
    assert bad.status_code == 400 and "Select a valid choice" in bad.content.decode()
    page = agent_client.get(url).content.decode()
    never_row = re.search(r'<tr id="contact-[^"]+">\s*<td><a [^>]+>Never</a>.*?</tr>', page, re.S).group(0)
    assert '<span class="hint">Never</span>' in never_row


def test_the_contact_s_page_is_one_timeline(agent_client, org, owner, our_number):
    now = timezone.now()
    conversation = make_conversation(org, our_number, "+14155550101", name="Ann", body="where is my parcel",
                                     at=now - timedelta(hours=1))
    with tenant_scope(org):
        contact = conversation.contact
        order = order_create(organization=org, actor=owner, contact=contact, items=[ItemInput("Mug", 1, "6.00")])
        Call.objects.create(organization=org, phone_number=our_number, contact=contact, direction="outbound",
                            from_number=our_number.phone_number, to_number=contact.phone_number,
                            provider_sid="CA" + "2" * 32, status="no-answer")
        Call.objects.filter(contact=contact).update(created_at=now - timedelta(days=3))
    page = agent_client.get(f"/o/{org.slug}/contacts/{contact.pk}/").content.decode()
    assert page.count("<title>") == 1 and re.search(r"<title>\s*Ann\b", page)
    timeline = page[page.index('id="timeline"'):]
    kinds = re.findall(r'<li class="timeline-(\w+)">', timeline)
    assert kinds == ["order", "conversation", "call"]  # newest first: the order now, the message an hour ago
    assert f"Order #{order.number}" in timeline and "where is my parcel 0" in timeline
    assert "Outgoing call" in timeline


def write_url(org, contact) -> str:
    return f"/o/{org.slug}/contacts/{contact.pk}/".replace("/contacts/", "/inbox/contacts/") + "write/"


def test_write_to_a_contact_from_their_page(agent_client, org, our_number, twilio, django_capture_on_commit_callbacks):
    [ann] = contacts(org, ("+14155550101", "Ann", ""))
    with tenant_scope(org):  # two messages within a second: not paced (inline tasks cannot wait for a slot)
        our_number.send_rate = 50
        our_number.save(update_fields=["send_rate"])
    form = agent_client.get(write_url(org, ann), HTTP_HX_REQUEST="true").content.decode()
    assert f'value="n:{our_number.pk}" checked' in form and "SMS · " in form
    with django_capture_on_commit_callbacks(execute=True):
        sent = agent_client.post(write_url(org, ann), {"line": f"n:{our_number.pk}", "body": "Your parcel left today"})
    with tenant_scope(org):
        conversation = Conversation.objects.get(contact=ann)
        assert [m.body for m in Message.objects.filter(conversation=conversation)] == ["Your parcel left today"]
    assert sent.status_code == 302 and sent["Location"].endswith(f"/inbox/?c={conversation.pk}")
    assert [(m["to"], m["body"]) for m in twilio.messages(ACME_SID)] == [("+14155550101", "Your parcel left today")]
    # Again: the same conversation carries on, and the form says so.
    again = agent_client.get(write_url(org, ann), HTTP_HX_REQUEST="true").content.decode()
    assert "carries on your conversation" in again
    with django_capture_on_commit_callbacks(execute=True):
        htmx = agent_client.post(write_url(org, ann), {"line": f"n:{our_number.pk}", "body": "And a second"},
                                 HTTP_HX_REQUEST="true")
    assert htmx.status_code == 204 and htmx["HX-Redirect"].endswith(f"?c={conversation.pk}")
    with tenant_scope(org):
        assert Conversation.objects.filter(contact=ann).count() == 1


def test_may_we_send_applies_and_a_refusal_leaves_nothing(agent_client, org, our_number, twilio,
                                                          django_capture_on_commit_callbacks):
    [ann] = contacts(org, ("+14155550101", "Ann", ""))
    with tenant_scope(org):
        Contact.objects.filter(pk=ann.pk).update(sms_opted_out_at=timezone.now(), sms_opt_out_source="STOP")
    form = agent_client.get(write_url(org, ann), HTTP_HX_REQUEST="true").content.decode()
    assert re.search(rf'value="n:{our_number.pk}"\s+disabled', form)
    assert "Ann opted out of SMS (replied STOP); they must opt back in (reply START) first." in form
    with django_capture_on_commit_callbacks(execute=True):
        refused = agent_client.post(write_url(org, ann), {"line": f"n:{our_number.pk}", "body": "Sale today!"},
                                    HTTP_HX_REQUEST="true")
    assert refused.status_code == 400 and "opted out of SMS" in refused.content.decode()
    for line, body, said in ((f"n:{ann.pk}", "hi", "not one of this organization's numbers"),
                             ("", "hi", "Choose the line to write from."),
                             (f"n:{our_number.pk}", "   ", "Write a message first.")):
        response = agent_client.post(write_url(org, ann), {"line": line, "body": body}, HTTP_HX_REQUEST="true")
        assert response.status_code == 400 and said in html.unescape(response.content.decode())
    with tenant_scope(org):
        assert not Conversation.objects.filter(contact=ann).exists()
        assert not Message.objects.exists()
    assert twilio.messages(ACME_SID) == []


def test_the_contact_page_loads_the_write_form(agent_client, org, our_number):
    [ann] = contacts(org, ("+14155550101", "Ann", ""))
    page = agent_client.get(f"/o/{org.slug}/contacts/{ann.pk}/").content.decode()
    assert f'hx-get="{write_url(org, ann)}"' in page
    full = agent_client.get(write_url(org, ann))  # without htmx: a page of its own
    assert full.status_code == 200 and "<title>" in full.content.decode() and "Write to Ann" in full.content.decode()
