-- The order rules that live in the database (crm/services/orders.py is the rest). Loaded by a
-- migration (crm/migrations/0005_orders_sql.py) with CREATE OR REPLACE; after changing this file, add
-- a migration that loads it again: tests/crm/test_orders_sql.py fails while the database holds other
-- definitions. Runs with the caller's rights: row-level security applies to every row it touches.


create or replace function crm_order_total_follow()
returns trigger language plpgsql as $$
-- An order's total is the sum of its items' line totals (quantity x unit price, a stored generated
-- column). Each change of an item adds its difference to the order: a relative update, so two
-- transactions changing one order's items at the same moment wait for each other's lock on the order
-- row and each adds to the total the other left; nothing recomputes from a stale snapshot.
begin
    if tg_op in ('UPDATE', 'DELETE') then
        update crm_order set total = total - old.line_total where id = old.order_id;
    end if;
    if tg_op in ('INSERT', 'UPDATE') then
        update crm_order set total = total + new.line_total where id = new.order_id;
    end if;
    return null;
end
$$;

drop trigger if exists crm_orderitem_total on crm_orderitem;
create trigger crm_orderitem_total after insert or update of quantity, unit_price, order_id or delete
    on crm_orderitem for each row execute function crm_order_total_follow();
