"""A message's embedding at its model's own dimensions instead of zero-padded to 1536.

Padded, a 256-dimension vector took 6 KB: PostgreSQL's compression (pglz) gives up on a value whose
first kilobyte does not compress, and the model's floats fill it, so the zeros after were stored
as they were (measured: 19 GB of TOAST for three million messages, docs/benchmarks.md, issue 21).
At its own dimensions the vector is 1 KB, kept in the message's row.

The column loses its fixed dimension (no rewrite: the values stay as they are); each model's HNSW
index is on `subvector(embedding, 1, d)::vector(d)` (messaging.search.vector_expression), so
text-embedding-3-small's, on the bare column before, is built again on that expression (empty
unless that model was used). Vectors stored padded are then trimmed to their model's dimensions,
10,000 rows a transaction; until they are, searching reads them the same.
"""

import pgvector.django.vector
from django.db import migrations

TRIM_BATCH = 10_000


def trim_padded(apps, schema_editor):
    connection = schema_editor.connection
    while True:
        with connection.cursor() as cursor:
            cursor.execute("select set_config('app.bypass_rls', 'on', false)")
            try:
                cursor.execute("""
                    update messaging_message m set embedding = subvector(m.embedding, 1, m.embedding_dimensions)
                     where m.id in (select id from messaging_message
                                     where embedding is not null and embedding_dimensions is not null
                                       and vector_dims(embedding) > embedding_dimensions
                                     limit %s)""", [TRIM_BATCH])
                trimmed = cursor.rowcount
            finally:
                cursor.execute("select set_config('app.bypass_rls', 'off', false)")
        if trimmed < TRIM_BATCH:
            return


def pad_again(apps, schema_editor):
    """Back to 0015's column: every vector zero-padded to 1536."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("select set_config('app.bypass_rls', 'on', false)")
        try:
            cursor.execute("""update messaging_message
                                 set embedding = embedding || array_fill(0::real, array[1536 - vector_dims(embedding)])::vector
                               where embedding is not null and vector_dims(embedding) < 1536""")
        finally:
            cursor.execute("select set_config('app.bypass_rls', 'off', false)")


class Migration(migrations.Migration):
    atomic = False  # the trim commits a batch at a time

    dependencies = [
        ('messaging', '0015_conversation_words'),
    ]

    operations = [
        migrations.RunSQL("drop index if exists message_meaning_te3small_idx",
                          "create index message_meaning_te3small_idx on messaging_message using hnsw "
                          "(embedding vector_cosine_ops) where embedding_model = 'openai/text-embedding-3-small'"),
        migrations.AlterField(
            model_name='message',
            name='embedding',
            field=pgvector.django.vector.VectorField(blank=True, null=True),
        ),
        migrations.RunSQL(
            "create index message_meaning_te3small_idx on messaging_message using hnsw "
            "((subvector(embedding, 1, 1536)::vector(1536)) vector_cosine_ops) "
            "where embedding_model = 'openai/text-embedding-3-small'",
            "drop index if exists message_meaning_te3small_idx"),
        migrations.RunPython(trim_padded, pad_again, elidable=True),
    ]
