"""The orders page, an order's page, and "#1042" in a message leading to that order."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from crm.models import Contact, Order
from crm.services import ItemInput, order_create, order_transition
from messaging.models import Direction, Message, MessageStatus
from tenants.scoping import tenant_scope
from tests.messaging.test_inbox import make_conversation

pytestmark = pytest.mark.django_db


def orders_for(org, owner, *specs):
    """One order per (phone, name, status, price)."""
    made = []
    with tenant_scope(org):
        for phone, name, status, price in specs:
            contact = Contact.objects.get_or_create(organization=org, phone_number=phone, defaults={"name": name})[0]
            order = order_create(organization=org, actor=owner, contact=contact, items=[ItemInput("Beans", 2, price)])
            if status != "pending":
                order = order_transition(organization=org, actor=owner, order=order, to=status)
            made.append(order)
    return made


def test_the_orders_page_filters_and_adds_up(agent_client, org, owner):
    orders_for(org, owner, ("+14155550101", "Ann", "pending", "1.10"), ("+14155550102", "Bob", "confirmed", "2.00"),
               ("+14155550103", "Cy", "pending", "0.10"))
    page = agent_client.get(f"/o/{org.slug}/orders/").content.decode()
    assert "#1001" in page and "#1002" in page and "#1003" in page
    assert "Choose a status, a customer or dates to see what those orders add up to." in page
    since = timezone.localdate().isoformat()
    listed = agent_client.get(f"/o/{org.slug}/orders/?date_from={since}").content.decode()
    assert f'hx-get="/o/{org.slug}/orders/totals/?date_from={since}"' in listed  # the page asks once shown
    totals = agent_client.get(f"/o/{org.slug}/orders/totals/?date_from={since}").content.decode()
    assert "3 orders: <strong>USD 6.40</strong>" in totals
    pending = agent_client.get(f"/o/{org.slug}/orders/?status=pending").content.decode()
    assert "#1002" not in pending
    assert "2 orders: <strong>USD 2.40</strong>" in agent_client.get(f"/o/{org.slug}/orders/totals/?status=pending").content.decode()
    assert agent_client.get(f"/o/{org.slug}/orders/totals/").status_code == 400  # everything: not added up
    ann = agent_client.get(f"/o/{org.slug}/orders/?customer=ann").content.decode()
    assert "#1001" in ann and "#1003" not in ann
    by_number = agent_client.get(f"/o/{org.slug}/orders/?customer=0103").content.decode()
    assert "#1003" in by_number and "#1001" not in by_number
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    assert "No orders match." in agent_client.get(f"/o/{org.slug}/orders/?date_from={tomorrow}").content.decode()


def test_bad_filters_are_said(agent_client, org):
    response = agent_client.get(f"/o/{org.slug}/orders/?date_from=2026-12-31&date_to=2026-01-01")
    assert response.status_code == 400 and "The first day comes after the last day." in response.content.decode()
    response = agent_client.get(f"/o/{org.slug}/orders/?status=lost")
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()


def test_an_order_s_page_shows_its_lines_total_and_history(agent_client, org, owner):
    [order] = orders_for(org, owner, ("+14155550101", "Ann", "confirmed", "12.50"))
    page = agent_client.get(f"/o/{org.slug}/orders/{order.pk}/").content.decode()
    assert "Order #1001" in page and "USD 25.00" in page and "Beans" in page
    assert "Pending → Confirmed by Alice Owner" in page


def test_an_order_number_in_a_message_links_to_the_order(agent_client, org, owner, our_number, agent):
    conversation = make_conversation(org, our_number, "+14155550101", messages=0)
    [order] = orders_for(org, owner, ("+14155550101", "Ann", "pending", "1.00"))
    with tenant_scope(org):
        Message.objects.create(organization=org, conversation=conversation, direction=Direction.INBOUND,
                               channel="sms", body="Where is my order #1001? <b>and</b> #99 &#1001;",
                               status=MessageStatus.RECEIVED, provider_sid="SM" + "1" * 32)
    page = agent_client.get(f"/o/{org.slug}/inbox/?c={conversation.pk}").content.decode()
    link = f'<a class="order-ref" href="/o/{org.slug}/orders/number/1001/">#1001</a>'
    assert f"Where is my order {link}?" in page
    assert "&lt;b&gt;and&lt;/b&gt; #99 &amp;#1001;" in page  # escaped; too short a number, an entity: no links
    followed = agent_client.get(f"/o/{org.slug}/orders/number/1001/")
    assert followed.status_code == 302 and followed["Location"] == f"/o/{org.slug}/orders/{order.pk}/"
    missing = agent_client.get(f"/o/{org.slug}/orders/number/4242/")
    assert missing.status_code == 404


def test_another_tenant_s_order_is_not_found(outsider_client, org, owner, other_org):
    [order] = orders_for(org, owner, ("+14155550101", "Ann", "pending", "1.00"))
    assert outsider_client.get(f"/o/{other_org.slug}/orders/{order.pk}/").status_code == 404
    assert outsider_client.get(f"/o/{other_org.slug}/orders/number/1001/").status_code == 404
    assert "#1001" not in outsider_client.get(f"/o/{other_org.slug}/orders/").content.decode()
    with tenant_scope(org):
        assert Order.objects.count() == 1


def test_the_orders_page_pages_through_every_order_once(agent_client, org, owner):
    import html
    import re

    orders_for(org, owner, *((f"+1415556{i:04d}", f"P{i}", "pending", "1.00") for i in range(60)))
    url, numbers = f"/o/{org.slug}/orders/", []
    while url:
        content = agent_client.get(url).content.decode()
        numbers += [int(n) for n in re.findall(r'<tr id="order-(\d+)">', content)]
        found = re.search(r'<a href="\?([^"]+)" rel="next">Next</a>', content)
        url = f"/o/{org.slug}/orders/?{html.unescape(found.group(1))}" if found else None
    assert numbers == list(range(1060, 1000, -1))
