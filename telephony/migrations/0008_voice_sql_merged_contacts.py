# voice.sql again: a caller whose number belonged to a contact merged into another reaches that other
# (crm.ContactMerge). See 0007 for how the file is loaded and checked.

from pathlib import Path

from django.db import migrations

SQL = (Path(__file__).resolve().parent.parent / "sql" / "voice.sql").read_text()
SHA256 = "bda74a4eb8e6a4a39663d1c2cdee2959d17e3aa37ebc0933bc673a0b2a389a21"


class Migration(migrations.Migration):

    dependencies = [
        ("telephony", "0007_voice_sql"),
        ("crm", "0008_contact_merge"),
    ]

    # Going back, 0007's file is not at hand (the file is read as it is now): the functions stay.
    operations = [migrations.RunSQL(SQL, migrations.RunSQL.noop)]
