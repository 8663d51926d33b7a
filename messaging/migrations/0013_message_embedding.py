"""Search by meaning (issue 19): a message's embedding (seed 002), the model that made it, and one HNSW
index per embedding model on that model's own dimensions.

pgvector must be installed in the database: the embedded PostgreSQL has it (softphone.embedded creates
it as the superuser); elsewhere an administrator runs `create extension vector` once."""

import pgvector.django.vector
from django.conf import settings
from django.db import migrations, models

# Each model's index covers only that model's rows, on the part of the vector the model fills (a
# 256-dimension model's vectors are zero-padded: cosine distances over the first 256 are the same).
# messaging.services.meaning orders by the same expression, so the planner can use the index.
VECTOR_INDEXES = {
    "message_meaning_wordllama_idx": ("wordllama/l2_supercat_256", 256),
    "message_meaning_te3small_idx": ("openai/text-embedding-3-small", 1536),
}


def require_pgvector(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("select 1 from pg_extension where extname = 'vector'")
        if cursor.fetchone() is None:
            try:
                cursor.execute("create extension vector")
            except Exception as exc:
                raise RuntimeError(
                    "Search by meaning needs pgvector in this database: as a superuser, run "
                    "`create extension vector` in it (and in template1 for test databases), then migrate "
                    f"again. PostgreSQL said: {exc}") from None


def _expression(dimensions):
    return "embedding" if dimensions == 1536 else f"(subvector(embedding, 1, {dimensions})::vector({dimensions}))"


CREATE_INDEXES = "\n".join(
    f"create index {name} on messaging_message using hnsw ({_expression(dims)} vector_cosine_ops) "
    f"where embedding_model = '{model}';" for name, (model, dims) in VECTOR_INDEXES.items())
DROP_INDEXES = "\n".join(f"drop index if exists {name};" for name in VECTOR_INDEXES)


class Migration(migrations.Migration):

    dependencies = [
        ('messaging', '0012_client_access'),
        ('tenants', '0006_client_access'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(require_pgvector, migrations.RunPython.noop),
        migrations.AddField(
            model_name='message',
            name='embedded_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='message',
            name='embedding',
            field=pgvector.django.vector.VectorField(blank=True, dimensions=1536, null=True),
        ),
        migrations.AddField(
            model_name='message',
            name='embedding_dimensions',
            field=models.PositiveSmallIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='message',
            name='embedding_model',
            field=models.CharField(blank=True, db_default='', default='', max_length=100),
        ),
        migrations.AddIndex(
            model_name='message',
            index=models.Index(condition=models.Q(('embedding_model', ''), models.Q(('body', ''), _negated=True)), fields=['organization', 'id'], name='message_unembedded_idx'),
        ),
        # The zero padding compresses to almost nothing where PostgreSQL may compress (pgvector's type
        # defaults to "external": stored out of line, uncompressed).
        migrations.RunSQL("alter table messaging_message alter column embedding set storage extended",
                          "alter table messaging_message alter column embedding set storage external"),
        migrations.RunSQL(CREATE_INDEXES, DROP_INDEXES),
    ]
