# The order rules that live in the database are in one visible file, crm/sql/orders.sql, which this
# migration loads (CREATE OR REPLACE). After changing the file, add a migration that loads it again
# (a copy of this one with the file's new SHA256): tests/crm/test_orders_sql.py fails until the newest
# migration that loads the file was written for the file as it is.

from pathlib import Path

from django.db import migrations

SQL = (Path(__file__).resolve().parent.parent / "sql" / "orders.sql").read_text()
SHA256 = "b9217e3df200826688218af6d1e351728c297d927e95baf6d29385605dcd8b7e"

DROP = """
drop trigger if exists crm_orderitem_total on crm_orderitem;
drop function if exists crm_order_total_follow();
"""


class Migration(migrations.Migration):

    dependencies = [
        ("crm", "0004_orders"),
    ]

    operations = [migrations.RunSQL(SQL, DROP)]
