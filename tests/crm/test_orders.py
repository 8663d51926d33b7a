"""Orders: the workflow, money, numbering, conflicts, the database's own rules, and the REST API as a
client sees it (camelCase, money as strings with two decimals)."""

from __future__ import annotations

import threading
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import DataError, IntegrityError, connection, transaction

import crm
from crm.models import ORDER_TRANSITIONS, Contact, Order, OrderItem, OrderStatus
from crm.services import ItemInput, OrderConflict, order_create, order_transition, order_update
from tenants.models import AuditEvent
from tenants.scoping import tenant_scope
from tests.sql_files import assert_database_runs, assert_newest_loader_matches

SQL_FILE = Path(crm.__file__).parent / "sql" / "orders.sql"
CUSTOMER = "+14155550199"


@pytest.fixture
def contact(org):
    with tenant_scope(org):
        return Contact.objects.create(organization=org, phone_number=CUSTOMER, name="Ann Customer")


def item(name="Coffee beans", quantity=1, price="12.50") -> ItemInput:
    return ItemInput(name, quantity, Decimal(price))


def new_order(org, owner, contact, items=(), **kwargs) -> Order:
    with tenant_scope(org):
        return order_create(organization=org, actor=owner, contact=contact, items=items, **kwargs)


def test_a_change_to_the_sql_comes_with_a_migration_that_loads_it():
    assert_newest_loader_matches("crm", SQL_FILE)


@pytest.mark.django_db
def test_the_database_runs_what_the_file_says():
    assert_database_runs(SQL_FILE, ["crm_order_total_follow"])


# Numbering, currency, history ------------------------------------------------------------------------


@pytest.mark.django_db
def test_orders_are_numbered_per_organization_from_1001(org, other_org, owner, outsider, contact):
    with tenant_scope(other_org):
        theirs = Contact.objects.create(organization=other_org, phone_number=CUSTOMER)
    first, second = new_order(org, owner, contact), new_order(org, owner, contact)
    with tenant_scope(other_org):
        other = order_create(organization=other_org, actor=outsider, contact=theirs)
    assert (first.number, second.number, other.number) == (1001, 1002, 1001)
    assert first.currency == "USD" and first.status == OrderStatus.PENDING and first.version == 1
    with tenant_scope(org):
        assert [(c.from_status, c.to_status, c.changed_by) for c in first.status_changes.all()] == [
            (None, "pending", owner)]
        assert AuditEvent.objects.filter(verb="order.created", target_id=first.pk).exists()


@pytest.mark.django_db
def test_an_order_is_priced_in_its_organization_s_currency(org, owner, contact):
    org.currency = "EUR"
    org.save()
    assert new_order(org, owner, contact).currency == "EUR"


# Money ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_awkward_amounts_add_up_exactly(org, owner, contact):
    order = new_order(org, owner, contact, items=[item("a", 1, "0.10"), item("b", 1, "0.10"), item("c", 1, "0.10"),
                                                  item("Big", 1_000_000, "99999999.99"), item("free", 3, "0")])
    assert order.total == Decimal("0.30") + Decimal("99999999990000.00")
    with tenant_scope(org):
        assert [i.line_total for i in order.items.all()] == [
            Decimal("0.10"), Decimal("0.10"), Decimal("0.10"), Decimal("99999999990000.00"), Decimal("0.00")]


@pytest.mark.django_db
def test_many_lines_add_up(org, owner, contact):
    order = new_order(org, owner, contact, items=[item(f"line {i}", i % 7 + 1, f"{i % 100}.{i % 100:02d}")
                                                  for i in range(1000)])
    with tenant_scope(org):
        assert order.total == sum((i.quantity * i.unit_price for i in OrderItem.objects.filter(order=order)), Decimal(0))
        assert order.items.count() == 1000


@pytest.mark.django_db
@pytest.mark.parametrize("bad, message", [
    (item(quantity=0), "quantity must be from 1"),
    (item(quantity=1_000_001), "quantity must be from 1"),
    (item(price="-0.01"), "unit price must be 0 or more"),
    (item(price="0.005"), "unit price must be 0 or more, in cents"),
    (item(price="100000000"), "unit price must be 0 or more"),
    (item(name="   "), "give the item a name"),
])
def test_a_bad_line_is_refused_with_its_reason_and_nothing_is_stored(org, owner, contact, bad, message):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match=message):
        new_order(org, owner, contact, items=[item(), bad])
    with tenant_scope(org):
        assert not Order.objects.exists()


@pytest.mark.django_db
def test_the_database_itself_refuses_what_breaks_the_rules(org, owner, contact):
    """Even a writer that skips the service (a script, the shell) cannot store a bad line or a wrong total."""
    order = new_order(org, owner, contact, items=[item(quantity=2, price="3.00")])
    with tenant_scope(org):
        for bad in (dict(quantity=0), dict(unit_price=Decimal("-1")), dict(name="")):
            values = {"name": "x", "quantity": 1, "unit_price": Decimal("1"), **bad}
            with pytest.raises(IntegrityError), transaction.atomic():
                OrderItem.objects.create(organization=org, order=order, **values)
        with pytest.raises((IntegrityError, DataError)), transaction.atomic():
            Order.objects.filter(pk=order.pk).update(total=Decimal("-1"))
        # Lines written directly still keep the total: the trigger adds each change's difference.
        line = OrderItem.objects.create(organization=org, order=order, name="direct", quantity=3,
                                        unit_price=Decimal("0.10"))
        OrderItem.objects.filter(pk=line.pk).update(quantity=5)
        assert Order.objects.get(pk=order.pk).total == Decimal("6.50")
        OrderItem.objects.filter(pk=line.pk).delete()
        assert Order.objects.get(pk=order.pk).total == Decimal("6.00")


# Workflow ------------------------------------------------------------------------------------------

ALL_MOVES = [(a, b) for a in OrderStatus.values for b in OrderStatus.values]


def order_in(org, owner, contact, status) -> Order:
    """An order walked to `status` along the workflow."""
    paths = {"pending": [], "confirmed": ["confirmed"], "processing": ["confirmed", "processing"],
             "shipped": ["confirmed", "processing", "shipped"],
             "delivered": ["confirmed", "processing", "shipped", "delivered"], "cancelled": ["cancelled"],
             "refunded": ["confirmed", "processing", "shipped", "delivered", "refunded"]}
    order = new_order(org, owner, contact)
    with tenant_scope(org):
        for step in paths[status]:
            order = order_transition(organization=org, actor=owner, order=order, to=step)
    return order


@pytest.mark.django_db
@pytest.mark.parametrize("start, to", ALL_MOVES)
def test_every_move_is_allowed_or_refused_with_a_clear_message(org, owner, contact, start, to):
    from django.core.exceptions import ValidationError

    order = order_in(org, owner, contact, start)
    with tenant_scope(org):
        if to in ORDER_TRANSITIONS[start]:
            moved = order_transition(organization=org, actor=owner, order=order, to=to)
            assert moved.status == to and moved.version == order.version + 1
            assert moved.status_changes.last().from_status == start
        else:
            with pytest.raises(ValidationError) as refused:
                order_transition(organization=org, actor=owner, order=order, to=to)
            assert f"A {OrderStatus(start).label.lower()} order cannot become {OrderStatus(to).label.lower()}" in str(
                refused.value)
            assert Order.objects.get(pk=order.pk).status == start


@pytest.mark.django_db
def test_the_allowed_moves_are_seed_003_s_workflow():
    assert {s: set(t) for s, t in ORDER_TRANSITIONS.items()} == {
        "pending": {"confirmed", "cancelled"}, "confirmed": {"processing", "cancelled"},
        "processing": {"shipped", "cancelled"}, "shipped": {"delivered"}, "delivered": {"refunded"},
        "cancelled": set(), "refunded": set()}


@pytest.mark.django_db
def test_items_are_fixed_once_the_order_is_processed(org, owner, contact):
    from django.core.exceptions import ValidationError

    order = order_in(org, owner, contact, "processing")
    with tenant_scope(org), pytest.raises(ValidationError, match="items of a processing order cannot change"):
        order_update(organization=org, actor=owner, order=order, version=order.version, items=[item()])


# Conflicts -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_change_made_against_an_old_version_is_refused(org, owner, admin, contact):
    order = new_order(org, owner, contact, items=[item()])
    with tenant_scope(org):
        order_update(organization=org, actor=admin, order=order, version=1, notes="Leave at the door")
        with pytest.raises(OrderConflict, match="changed by someone else meanwhile"):
            order_update(organization=org, actor=owner, order=order, version=1, notes="Ring twice")
        assert Order.objects.get(pk=order.pk).notes == "Leave at the door"


@pytest.mark.django_db(transaction=True)
def test_two_agents_changing_one_order_at_once_one_wins_the_other_is_told(org, owner, admin, contact):
    order = new_order(org, owner, contact, items=[item(price="1.00")])
    barrier = threading.Barrier(2)
    outcomes = {}

    def change(name, actor, lines):
        try:
            with tenant_scope(org):
                barrier.wait()
                outcomes[name] = order_update(organization=org, actor=actor, order=order, version=1, items=lines)
        except OrderConflict as exc:
            outcomes[name] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=change, args=("a", owner, [item(price="2.00")] * 3)),
               threading.Thread(target=change, args=("b", admin, [item(price="5.00")]))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    won = [o for o in outcomes.values() if isinstance(o, Order)]
    lost = [o for o in outcomes.values() if isinstance(o, OrderConflict)]
    assert len(won) == 1 and len(lost) == 1
    with tenant_scope(org):
        final = Order.objects.get(pk=order.pk)
        assert final.version == 2 and final.total == won[0].total in (Decimal("6.00"), Decimal("5.00"))
        assert final.total == sum((i.line_total for i in final.items.all()), Decimal(0))


@pytest.mark.django_db(transaction=True)
def test_lines_added_at_the_same_moment_all_count_in_the_total(org, owner, contact):
    """The database's running total under concurrent writers (the trigger adds differences)."""
    order = new_order(org, owner, contact)
    barrier = threading.Barrier(4)

    def add(n):
        try:
            with tenant_scope(org):
                barrier.wait()
                for _ in range(10):
                    OrderItem.objects.create(organization=org, order=order, name=f"w{n}", quantity=n + 1,
                                             unit_price=Decimal("0.10"))
        finally:
            connection.close()

    threads = [threading.Thread(target=add, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with tenant_scope(org):
        assert Order.objects.get(pk=order.pk).total == Decimal("0.10") * 10 * (1 + 2 + 3 + 4)


# REST ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_order_taken_and_moved_through_the_api(owner_client, org, contact):
    created = owner_client.post(f"/api/acme/contacts/{contact.pk}/orders", {
        "items": [{"name": "Coffee beans", "quantity": 3, "unitPrice": "0.10"},
                  {"name": "Mug", "quantity": 1, "unitPrice": "12"}],
        "shippingAddress": "1 Main St", "notes": "Gift"}, content_type="application/json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["number"], body["status"], body["total"], body["currency"], body["version"]) == (
        1001, "pending", "12.30", "USD", 1)
    assert [(i["name"], i["quantity"], i["unitPrice"], i["lineTotal"]) for i in body["items"]] == [
        ("Coffee beans", 3, "0.10", "0.30"), ("Mug", 1, "12.00", "12.00")]
    assert body["nextStatuses"] == ["confirmed", "cancelled"] and body["contactName"] == "Ann Customer"

    moved = owner_client.post(f"/api/acme/orders/{body['id']}/transitions", {"to": "confirmed"},
                              content_type="application/json")
    assert moved.status_code == 200 and moved.json()["status"] == "confirmed"
    assert [(c["fromStatus"], c["toStatus"]) for c in moved.json()["statusChanges"]] == [
        (None, "pending"), ("pending", "confirmed")]

    refused = owner_client.post(f"/api/acme/orders/{body['id']}/transitions", {"to": "delivered"},
                                content_type="application/json")
    assert refused.status_code == 400
    assert "A confirmed order cannot become delivered; it can become processing or cancelled." in refused.content.decode()

    patched = owner_client.patch(f"/api/acme/orders/{body['id']}", {"version": 2, "items": [
        {"name": "Mug", "quantity": 2, "unitPrice": "12.00"}]}, content_type="application/json")
    assert patched.status_code == 200 and patched.json()["total"] == "24.00" and patched.json()["version"] == 3

    stale = owner_client.patch(f"/api/acme/orders/{body['id']}", {"version": 2, "notes": "late"},
                               content_type="application/json")
    assert stale.status_code == 409
    assert stale.json()["version"] == 3 and "changed by someone else" in stale.json()["detail"]

    missing = owner_client.patch(f"/api/acme/orders/{body['id']}", {"notes": "no version"},
                                 content_type="application/json")
    assert missing.status_code == 400 and "Send the version" in missing.content.decode()

    listed = owner_client.get("/api/acme/orders?status=confirmed").json()
    assert [o["number"] for o in listed["results"]] == [1001]
    assert owner_client.get("/api/acme/orders?status=shipped").json()["results"] == []
    assert [o["number"] for o in owner_client.get(f"/api/acme/contacts/{contact.pk}/orders").json()["results"]] == [1001]


@pytest.mark.django_db
@pytest.mark.parametrize("payload, field", [
    ({"items": [{"name": "x", "quantity": 1, "unitPrice": "0.001"}]}, "unitPrice"),
    ({"items": [{"name": "x", "quantity": 0, "unitPrice": "1"}]}, "quantity"),
    ({"items": [{"name": "x", "quantity": 1, "unitPrice": "-1"}]}, "unitPrice"),
    ({"items": [{"name": "x", "quantity": 1, "unitPrice": 1e400}]}, "unitPrice"),
    ({"items": [{"quantity": 1, "unitPrice": "1"}]}, "name"),
    ({"items": "lots"}, "items"),
])
def test_bad_orders_get_a_400_naming_the_field(owner_client, org, contact, payload, field):
    response = owner_client.post(f"/api/acme/contacts/{contact.pk}/orders", payload, content_type="application/json")
    assert response.status_code == 400, response.content
    assert field in response.content.decode()
    with tenant_scope(org):
        assert not Order.objects.exists()


@pytest.mark.django_db
def test_orders_of_another_tenant_are_not_there(outsider_client, owner, org, contact):
    order = new_order(org, owner, contact, items=[item()])
    for response in (outsider_client.get(f"/api/globex/orders/{order.pk}"),
                     outsider_client.post(f"/api/globex/orders/{order.pk}/transitions", {"to": "confirmed"},
                                          content_type="application/json"),
                     outsider_client.get(f"/api/globex/contacts/{contact.pk}/orders")):
        assert response.status_code == 404
    assert outsider_client.get("/api/globex/orders").json()["results"] == []
    with tenant_scope(org):
        assert Order.objects.get(pk=order.pk).status == "pending"
