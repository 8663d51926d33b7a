"""A message's embedding at its model's own dimensions instead of zero-padded to 1536.

Padded, a 256-dimension vector took 6 KB: PostgreSQL's compression (pglz) gives up on a value whose
first kilobyte does not compress, and the model's floats fill it, so the zeros after were stored
as they were (measured: 19 GB of TOAST for three million messages, docs/benchmarks.md, issue 21).
At its own dimensions the vector is 1 KB, kept in the message's row.

The column loses its fixed dimension (no rewrite: the values stay as they are). Each model's HNSW
index is on `subvector(embedding, 1, d)::vector(d)` (messaging.search.vector_expression); both are
dropped first (so neither the type change nor the trim rebuilds or maintains them while the table is
locked or busy), vectors stored padded are trimmed to their model's dimensions 10,000 rows a
transaction, and the indexes are built again CONCURRENTLY: messages keep arriving and being embedded
meanwhile; search by meaning scans instead of using an index until they are back.
"""

import pgvector.django.vector
from django.db import migrations

TRIM_BATCH = 10_000
MODELS = {"message_meaning_wordllama_idx": ("wordllama/l2_supercat_256", 256),
          "message_meaning_te3small_idx": ("openai/text-embedding-3-small", 1536)}
DROP_INDEXES = [f"drop index concurrently if exists {name}" for name in MODELS]
CREATE_INDEXES = [f"create index concurrently if not exists {name} on messaging_message using hnsw "
                  f"((subvector(embedding, 1, {dims})::vector({dims})) vector_cosine_ops) "
                  f"where embedding_model = '{model}'" for name, (model, dims) in MODELS.items()]
# Going back: 0013's indexes (text-embedding-3-small's on the bare 1536-dimension column).
CREATE_INDEXES_0013 = [CREATE_INDEXES[0], "create index concurrently if not exists message_meaning_te3small_idx "
                       "on messaging_message using hnsw (embedding vector_cosine_ops) "
                       "where embedding_model = 'openai/text-embedding-3-small'"]


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
        migrations.RunSQL(DROP_INDEXES, CREATE_INDEXES_0013),
        migrations.AlterField(
            model_name='message',
            name='embedding',
            field=pgvector.django.vector.VectorField(blank=True, null=True),
        ),
        migrations.RunPython(trim_padded, pad_again, elidable=True),
        migrations.RunSQL(CREATE_INDEXES, DROP_INDEXES),
    ]
