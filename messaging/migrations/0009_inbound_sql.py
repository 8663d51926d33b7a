# The inbound pipeline's SQL now lives in one visible file, messaging/sql/inbound.sql, which this
# migration loads (CREATE OR REPLACE). After changing the file, add a migration that loads it again
# (a copy of this one with the file's new SHA256): tests/messaging/test_inbound_sql.py fails until the
# newest migration that loads the file was written for the file as it is.

import importlib
from pathlib import Path

from django.db import migrations

SQL = (Path(__file__).resolve().parent.parent / "sql" / "inbound.sql").read_text()
SHA256 = "2b8c297119b999637c6e16644932289c91d39b9fbb1674453c7f86a1dce15807"

# Undone: the definitions 0006 and 0007 made, again.
PREVIOUS = (importlib.import_module("messaging.migrations.0006_inbound_event_store_procedure").CREATE
            + importlib.import_module("messaging.migrations.0007_inbound_events_store_batch").CREATE)


class Migration(migrations.Migration):

    dependencies = [
        ("messaging", "0008_inbound_event_retries"),
    ]

    operations = [migrations.RunSQL(SQL, PREVIOUS)]
