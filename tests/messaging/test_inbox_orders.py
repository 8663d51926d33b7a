"""The contact's orders in the inbox's contact panel: seen, taken, moved through the workflow, and told
to the customer when the agent ticks the box (through the same "may we send?" check as a message)."""

from __future__ import annotations

import re
from decimal import Decimal

from django.utils import timezone

from crm.models import Order
from crm.services import ItemInput, order_create
from messaging.models import Direction, Message
from tenants.scoping import tenant_scope
from tests.messaging.test_inbox import XSS, make_conversation

NEW_ORDER = {"item_name": ["Coffee beans", "Mug", ""], "item_quantity": ["3", "1", "1"],
             "item_price": ["0.10", "12", ""], "shipping_address": "1 Main St"}


def panel(org, conversation) -> str:
    return f"/o/{org.slug}/inbox/c/{conversation.pk}/orders/"


def sent(org, conversation) -> list[str]:
    with tenant_scope(org):
        return list(Message.objects.filter(conversation=conversation, direction=Direction.OUTBOUND)
                    .order_by("created_at").values_list("body", flat=True))


def test_the_panel_loads_the_contact_s_orders(agent_client, org, owner, our_number, agent):
    conversation = make_conversation(org, our_number, "+14155550101", name="Ann")
    with tenant_scope(org):
        order = order_create(organization=org, actor=owner, contact=conversation.contact,
                             items=[ItemInput("Coffee beans", 2, "12.50")])
    page = agent_client.get(f"/o/{org.slug}/inbox/?c={conversation.pk}").content.decode()
    assert f'hx-get="{panel(org, conversation)}"' in page  # the panel asks for its orders once loaded
    fragment = agent_client.get(panel(org, conversation)).content.decode()
    assert f"#{order.number}" in fragment and "USD 25.00" in fragment and "2 × Coffee beans" in fragment
    assert "Mark confirmed" in fragment and "Mark cancelled" in fragment and "Mark shipped" not in fragment


def test_an_order_taken_in_the_conversation_and_told_to_the_customer(agent_client, org, our_number, agent):
    conversation = make_conversation(org, our_number, "+14155550101", name="Ann")
    response = agent_client.post(panel(org, conversation) + "new/", {**NEW_ORDER, "notify": "1"})
    assert response.status_code == 200, response.content
    fragment = response.content.decode()
    assert "Order #1001 created. The customer was told in the conversation." in fragment
    assert "USD 12.30" in fragment
    with tenant_scope(org):
        order = Order.objects.get()
        assert (order.contact_id, order.shipping_address, order.total) == (conversation.contact_id, "1 Main St",
                                                                          Decimal("12.30"))
        assert [(i.name, i.quantity, str(i.unit_price)) for i in order.items.all()] == [
            ("Coffee beans", 3, "0.10"), ("Mug", 1, "12.00")]
    assert sent(org, conversation) == ["Thank you! We have your order #1001: 3 x Coffee beans, 1 x Mug. "
                                       "Total USD 12.30."]


def test_moving_an_order_tells_the_customer_only_when_asked(agent_client, org, our_number, agent):
    conversation = make_conversation(org, our_number, "+14155550101")
    agent_client.post(panel(org, conversation) + "new/", NEW_ORDER)
    with tenant_scope(org):
        order = Order.objects.get()
    url = panel(org, conversation) + f"{order.pk}/transition/"
    quiet = agent_client.post(url, {"to": "confirmed", "version": order.version})
    assert quiet.status_code == 200 and "Order #1001 is now confirmed." in quiet.content.decode()
    told = agent_client.post(url, {"to": "processing", "version": order.version + 1, "notify": "1"})
    assert "The customer was told" in told.content.decode()
    assert sent(org, conversation) == ["Your order #1001 is now processing."]

    wrong = agent_client.post(url, {"to": "refunded", "version": order.version + 2})
    assert wrong.status_code == 400
    assert wrong.content.decode() == "A processing order cannot become refunded; it can become shipped or cancelled."
    stale = agent_client.post(url, {"to": "shipped", "version": order.version})
    assert stale.status_code == 409 and "changed by someone else meanwhile" in stale.content.decode()
    with tenant_scope(org):
        assert Order.objects.get().status == "processing"


def test_an_opted_out_customer_is_not_told_and_the_order_still_moves(agent_client, org, our_number, agent):
    conversation = make_conversation(org, our_number, "+14155550101")
    with tenant_scope(org):
        conversation.contact.sms_opted_out_at = timezone.now()
        conversation.contact.save()
    response = agent_client.post(panel(org, conversation) + "new/", {**NEW_ORDER, "notify": "1"})
    fragment = response.content.decode()
    assert "Order #1001 created. The customer was not told:" in fragment and "opted out" in fragment
    assert sent(org, conversation) == []


def test_bad_lines_are_refused_with_the_reason(agent_client, org, our_number, agent):
    conversation = make_conversation(org, our_number, "+14155550101")
    for lines, reason in (({"item_name": ["x"], "item_quantity": ["two"], "item_price": ["1"]}, "whole number"),
                          ({"item_name": ["x"], "item_quantity": ["1"], "item_price": ["1.005"]}, "in cents"),
                          ({"item_name": [""], "item_quantity": ["1"], "item_price": [""]}, "at least one item")):
        response = agent_client.post(panel(org, conversation) + "new/", lines)
        assert response.status_code == 400 and reason in response.content.decode()
    with tenant_scope(org):
        assert not Order.objects.exists()


def test_item_names_are_shown_as_text(agent_client, org, our_number, agent):
    conversation = make_conversation(org, our_number, "+14155550101")
    agent_client.post(panel(org, conversation) + "new/", {"item_name": [XSS], "item_quantity": ["1"],
                                                          "item_price": ["1"]})
    fragment = agent_client.get(panel(org, conversation)).content.decode()
    assert XSS not in fragment and "&lt;script&gt;" in fragment


def test_another_customer_s_order_cannot_be_moved_from_this_conversation(agent_client, org, owner, our_number, agent):
    mine = make_conversation(org, our_number, "+14155550101")
    theirs = make_conversation(org, our_number, "+14155550102")
    with tenant_scope(org):
        order = order_create(organization=org, actor=owner, contact=theirs.contact, items=[ItemInput("x", 1, "1")])
    response = agent_client.post(panel(org, mine) + f"{order.pk}/transition/", {"to": "confirmed", "version": 1})
    assert response.status_code == 404
    with tenant_scope(org):
        assert Order.objects.get().status == "pending"
    assert not re.search("Order #1001 is now", response.content.decode())


def test_an_order_s_items_are_edited_in_the_panel(agent_client, org, our_number, agent):
    conversation = make_conversation(org, our_number, "+14155550101", name="Ann")
    agent_client.post(panel(org, conversation) + "new/", NEW_ORDER)
    with tenant_scope(org):
        order = Order.objects.get()
    fragment = agent_client.get(panel(org, conversation)).content.decode()
    assert "Edit items" in fragment and 'value="Coffee beans"' in fragment and 'value="0.10"' in fragment
    url = panel(org, conversation) + f"{order.pk}/update/"
    # Beans: 3 -> 30; the mug removed (emptied); a new line added; a new address; the customer told.
    edited = agent_client.post(url, {"version": order.version, "item_name": ["Coffee beans", "", "Filter papers"],
                                     "item_quantity": ["30", "1", "2"], "item_price": ["0.10", "", "1.35"],
                                     "shipping_address": "2 Side St", "notify": "1"})
    assert edited.status_code == 200, edited.content
    assert "Order #1001 updated. The customer was told in the conversation." in edited.content.decode()
    with tenant_scope(org):
        order = Order.objects.get()
        assert [(i.name, i.quantity, str(i.unit_price)) for i in order.items.all()] == [
            ("Coffee beans", 30, "0.10"), ("Filter papers", 2, "1.35")]
        assert (order.total, order.shipping_address) == (Decimal("5.70"), "2 Side St")
    assert sent(org, conversation) == ["Your order #1001 was updated: 30 x Coffee beans, 2 x Filter papers. "
                                       "Total USD 5.70."]
    # Made on the version before: someone else's change is not overwritten.
    stale = agent_client.post(url, {"version": order.version - 1, "item_name": "Mug", "item_quantity": "1",
                                    "item_price": "1"})
    assert stale.status_code == 409 and "changed by someone else meanwhile" in stale.content.decode()
    empty = agent_client.post(url, {"version": order.version, "item_name": "", "item_price": ""})
    assert empty.status_code == 400 and "To call it off, cancel it." in empty.content.decode().replace("to call", "To call")
    bad = agent_client.post(url, {"version": order.version, "item_name": "Mug", "item_quantity": "0",
                                  "item_price": "1"})
    assert bad.status_code == 400
    agent_client.post(panel(org, conversation) + f"{order.pk}/transition/", {"to": "confirmed",
                                                                              "version": order.version})
    agent_client.post(panel(org, conversation) + f"{order.pk}/transition/", {"to": "processing",
                                                                              "version": order.version + 1})
    assert "Edit items" not in agent_client.get(panel(org, conversation)).content.decode()
    late = agent_client.post(url, {"version": order.version + 2, "item_name": "Mug", "item_quantity": "1",
                                   "item_price": "1"})
    assert late.status_code == 400 and "cannot change any more" in late.content.decode()
    with tenant_scope(org):
        assert Order.objects.get().total == Decimal("5.70")
