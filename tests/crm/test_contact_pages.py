"""The contacts page (search, filters, order, paging) and a contact's page (conversations, orders, calls)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from crm.models import Contact
from crm.services import ItemInput, order_create, order_transition
from telephony.models import Call
from tenants.models import AuditEvent
from tenants.scoping import tenant_scope
from tests.messaging.test_inbox import XSS, make_conversation

pytestmark = pytest.mark.django_db


def contacts(org, *specs):
    with tenant_scope(org):
        return [Contact.objects.create(organization=org, phone_number=phone, name=name, email=email)
                for phone, name, email in specs]


def rows(response) -> list[str]:
    import re

    return re.findall(r'<tr id="contact-[^"]+">\s*<td><a [^>]+>([^<]+)</a>', response.content.decode())


def test_the_contacts_page_searches_by_name_number_and_email(agent_client, org):
    contacts(org, ("+14155550101", "Ann Archer", "ann@example.com"), ("+14155550102", "Bob Baker", ""),
             ("+442071234567", "Cyd Cole", "cyd@shop.example"))
    url = f"/o/{org.slug}/contacts/"
    assert rows(agent_client.get(url)) == ["Ann Archer", "Bob Baker", "Cyd Cole"]
    assert rows(agent_client.get(url, {"q": "ann"})) == ["Ann Archer"]
    assert rows(agent_client.get(url, {"q": "bob bak"})) == ["Bob Baker"]
    assert rows(agent_client.get(url, {"q": "0102"})) == ["Bob Baker"]
    assert rows(agent_client.get(url, {"q": "cyd@shop.ex"})) == ["Cyd Cole"]
    assert rows(agent_client.get(url, {"q": "ann@"})) == ["Ann Archer"]
    assert rows(agent_client.get(url, {"q": "+44 20"})) == ["Cyd Cole"]
    assert "No contacts match." in agent_client.get(url, {"q": "zzz"}).content.decode()
    assert rows(agent_client.get(url, {"sort": "newest"})) == ["Cyd Cole", "Bob Baker", "Ann Archer"]


def test_filters_open_orders_and_opted_out(agent_client, org, owner):
    ann, bob, cyd = contacts(org, ("+14155550101", "Ann", ""), ("+14155550102", "Bob", ""), ("+14155550103", "Cyd", ""))
    with tenant_scope(org):
        order_create(organization=org, actor=owner, contact=ann, items=[ItemInput("x", 1, "1")])
        done = order_create(organization=org, actor=owner, contact=bob, items=[ItemInput("x", 1, "1")])
        order_transition(organization=org, actor=owner, order=done, to="cancelled")
        cyd.whatsapp_opted_out_at = timezone.now()
        cyd.save()
    url = f"/o/{org.slug}/contacts/"
    assert rows(agent_client.get(url, {"has_open_orders": "on"})) == ["Ann"]
    assert rows(agent_client.get(url, {"opted_out": "on"})) == ["Cyd"]
    assert "WhatsApp opted out" in agent_client.get(url, {"opted_out": "on"}).content.decode()


def next_link(response) -> str | None:
    import html
    import re

    found = re.search(r'<a href="([^"]+)" rel="next">Next</a>', response.content.decode())
    return html.unescape(found.group(1)) if found else None


@pytest.mark.parametrize("sort, first_row", [("name", "Person 000"), ("newest", "Person 119")])
def test_the_contacts_page_pages_through_everyone_once(agent_client, org, sort, first_row):
    made = contacts(org, *((f"+1415555{i:04d}", f"Person {i:03d}", "") for i in range(120)))
    with tenant_scope(org):  # two people of the same name, and the same moment: the order is still total
        Contact.objects.filter(pk__in=[made[5].pk, made[6].pk]).update(name="Person 005")
        Contact.objects.filter(pk__in=[c.pk for c in made[:60]]).update(created_at=made[0].created_at)
    url, seen, pages = f"/o/{org.slug}/contacts/?sort={sort}", [], 0
    while url:
        response = agent_client.get(url if url.startswith("/") else f"/o/{org.slug}/contacts/{url}")
        assert response.status_code == 200
        seen += rows(response)
        pages += 1
        url = next_link(response)
    assert pages == 3 and len(seen) == 120 and seen[0] == first_row
    assert sorted(seen) == sorted(c.name if c.pk not in (made[6].pk,) else "Person 005" for c in made)


@pytest.mark.parametrize("sorted_up_to", [0, 1_000_000], ids=["broad: walk the name index", "narrow: sort the matches"])
def test_a_search_pages_through_its_matches_in_name_order(agent_client, org, monkeypatch, sorted_up_to):
    """However the search's rows are found (a broad search walks the name index, a narrow one sorts its
    matches), its pages list every match once, in name order, and nobody else."""
    from crm import selectors

    monkeypatch.setattr(selectors, "CONTACT_SEARCH_SORTED_UP_TO", sorted_up_to)
    names = [f"{first} {last}" for first in ("Tim", "Timothy", "Ada") for last in ("Zed", "Young", "Abel", "Tim")]
    contacts(org, *((f"+1415556{i:04d}", names[i % len(names)], "") for i in range(130)))
    url, seen = f"/o/{org.slug}/contacts/?q=tim", []
    while url:
        response = agent_client.get(url if url.startswith("/") else f"/o/{org.slug}/contacts/{url}")
        assert response.status_code == 200
        seen += rows(response)
        url = next_link(response)
    expected = sorted(name for i in range(130) for name in [names[i % len(names)]] if "Tim" in name)
    assert seen == expected and len(seen) == 98  # 32 of the 130 are Ada Zed, Ada Young or Ada Abel


def test_a_broken_page_link_is_said(agent_client, org):
    for after in ("junk", "W10", "WyJhIiwiYiIsImMiXQ"):
        response = agent_client.get(f"/o/{org.slug}/contacts/", {"after": after})
        assert response.status_code == 400
        assert "That page link is broken: start again from the first page." in response.content.decode()


def test_a_contact_s_page_shows_conversations_orders_and_calls(agent_client, org, owner, our_number, agent):
    conversation = make_conversation(org, our_number, "+14155550101", name=XSS)
    with tenant_scope(org):
        contact = conversation.contact
        order = order_create(organization=org, actor=owner, contact=contact, items=[ItemInput("Mug", 2, "6.00")])
        Call.objects.create(organization=org, phone_number=our_number, contact=contact, direction="inbound",
                            from_number=contact.phone_number, to_number=our_number.phone_number,
                            provider_sid="CA" + "1" * 32, status="completed")
    page = agent_client.get(f"/o/{org.slug}/contacts/{contact.pk}/").content.decode()
    assert XSS not in page and "&lt;script&gt;" in page
    assert f"?c={conversation.pk}" in page and "SMS with" in page
    assert f"#{order.number}" in page and "USD 12.00" in page
    assert "Incoming call" in page and "Completed" in page


def test_contacts_of_another_tenant_are_not_there(outsider_client, org, other_org):
    [ann] = contacts(org, ("+14155550101", "Ann", ""))
    assert outsider_client.get(f"/o/{other_org.slug}/contacts/{ann.pk}/").status_code == 404
    assert "Ann" not in outsider_client.get(f"/o/{other_org.slug}/contacts/").content.decode()


def test_a_search_with_nothing_to_search_for_finds_nothing(agent_client, org):
    contacts(org, ("+14155550101", "Ann", ""))
    assert rows(agent_client.get(f"/o/{org.slug}/contacts/", {"q": "%%"})) == []


def test_a_contact_is_edited_on_their_page(agent_client, org):
    [ann] = contacts(org, ("+14155550101", "Ann", ""))
    url = f"/o/{org.slug}/contacts/{ann.pk}/"
    saved = agent_client.post(url, {"name": "  Ann   Archer ", "email": "ann@example.com", "notes": "VIP"})
    assert saved.status_code == 200 and "Saved." in saved.content.decode()
    with tenant_scope(org):
        ann.refresh_from_db()
        assert (ann.name, ann.email, ann.notes) == ("Ann Archer", "ann@example.com", "VIP")
        assert AuditEvent.objects.get(verb="contact.updated").data == {"fields": ["name", "email", "notes"]}
    refused = agent_client.post(url, {"name": "Ann", "email": "not an address", "notes": ""})
    assert refused.status_code == 400 and "is not an email address" in refused.content.decode()
    with tenant_scope(org):
        ann.refresh_from_db()
        assert ann.email == "ann@example.com"


def test_a_contact_is_edited_through_the_api(owner_client, outsider_client, org, other_org):
    [ann] = contacts(org, ("+14155550101", "Ann", ""))
    response = owner_client.patch(f"/api/{org.slug}/contacts/{ann.pk}", {"name": "Ann Archer", "notes": "VIP"},
                                  content_type="application/json")
    assert response.status_code == 200
    assert (response.json()["name"], response.json()["notes"], response.json()["email"]) == ("Ann Archer", "VIP", "")
    bad = owner_client.patch(f"/api/{org.slug}/contacts/{ann.pk}", {"email": "nope"}, content_type="application/json")
    assert bad.status_code == 400 and "email" in bad.json()
    assert outsider_client.patch(f"/api/{other_org.slug}/contacts/{ann.pk}", {"name": "x"},
                                 content_type="application/json").status_code == 404
    with tenant_scope(org):
        ann.refresh_from_db()
        assert ann.name == "Ann Archer"


# The rows as the template wrote them before crm/rows.py builds them in Python: the page must say
# the same, hostile text and all.
ROW_TEMPLATE = """{% load inbox %}{% for contact in rows %}
      <tr id="contact-{{ contact.pk }}">
        <td><a href="{{ contacts_url }}{{ contact.pk }}/">{{ contact.display_name }}</a></td>
        <td>{{ contact.phone_number }}{% if contact.address_kind != "phone" %} <span class="hint">{{ contact.get_address_kind_display }}</span>{% endif %}</td>
        <td>{{ contact.email }}</td>
        <td>{% for label in contact.labels %}<a class="chip label" href="?label={{ label|urlencode }}">{{ label }}</a> {% endfor %}</td>
        <td>{% if contact.sms_opted_out_at %}<span class="badge error">SMS opted out</span> {% endif %}{% if contact.whatsapp_opted_out_at %}<span class="badge error">WhatsApp opted out</span>{% endif %}</td>
        <td>{% if contact.last_contact %}<time datetime="{{ contact.last_contact|day }}">{{ contact.last_contact|when }}</time>{% else %}<span class="hint">Never</span>{% endif %}</td>
        <td><time datetime="{{ contact.created_at|day }}">{{ contact.created_at|when }}</time></td>
      </tr>{% endfor %}"""


def test_the_rows_say_what_the_template_said(agent_client, org, our_number):
    import re

    from django.template import engines

    from crm import selectors

    late = timezone.now().replace(hour=23, minute=30)  # a day apart in UTC and in some zones
    with tenant_scope(org):
        made = [
            Contact.objects.create(organization=org, phone_number="+14155550101", name=XSS, email="a&b@example.com",
                                   labels=["vip", "a/b & <c>", "café ☕", 'q"uote'], sms_opted_out_at=late),
            Contact.objects.create(organization=org, phone_number="MYSHOP", address_kind="alphanumeric",
                                   whatsapp_profile_name="Shop <b>", whatsapp_opted_out_at=late),
            Contact.objects.create(organization=org, phone_number="+14155550103", sms_opted_out_at=late,
                                   whatsapp_opted_out_at=late),
        ]
        Contact.objects.filter(pk=made[0].pk).update(created_at=late)
    make_conversation(org, our_number, "+14155550103", body="hello")
    page = agent_client.get(f"/o/{org.slug}/contacts/?sort=newest").content.decode()
    with tenant_scope(org):
        shown = list(Contact.objects.filter(pk__in=[c.pk for c in made]).order_by("-created_at", "-id"))
        last = selectors.last_contacted(organization=org, contacts=shown)
    for contact in shown:
        contact.last_contact = last.get(contact.pk)
    expected = engines["django"].from_string(ROW_TEMPLATE).render(
        {"rows": shown, "contacts_url": f"/o/{org.slug}/contacts/"})

    def trs(html):
        return [re.sub(r">\s+<", "><", tr) for tr in re.findall(r'<tr id="contact-.*?</tr>', html, re.S)]

    assert trs(page) == trs(expected)
    assert "&lt;script&gt;" in page and "<script>alert" not in page
    assert "Never" in page and "Alphanumeric sender" in page and "SMS opted out" in page
