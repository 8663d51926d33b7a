# The inbound voice webhook's SQL lives in one visible file, telephony/sql/voice.sql, which this
# migration loads (CREATE OR REPLACE). After changing the file, add a migration that loads it again
# (a copy of this one with the file's new SHA256): tests/telephony/test_voice_sql.py fails until the
# newest migration that loads the file was written for the file as it is.

from pathlib import Path

from django.db import migrations

SQL = (Path(__file__).resolve().parent.parent / "sql" / "voice.sql").read_text()
SHA256 = "1d1fc99a10b4c6c07c7d6ca35b862830c35f0774a481b6cd7585ade23fc8e159"

DROP = """
drop procedure if exists telephony_inbound_calls_start(
    uuid[], uuid[], uuid[], text[], text[], text[], uuid[], text[], text[], uuid[], double precision, text, text,
    jsonb, boolean[]);
drop function if exists telephony_inbound_call_insert(uuid, uuid, uuid, text, text, text, uuid, text, text);
drop function if exists telephony_call_drain_claim(uuid, uuid, double precision);
"""


class Migration(migrations.Migration):

    dependencies = [
        ("telephony", "0006_call_conversation_drain"),
        ("crm", "0003_contact_address_kind"),
        ("tenants", "0003_agent_availability"),
    ]

    operations = [migrations.RunSQL(SQL, DROP)]
