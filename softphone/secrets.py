"""Secrets at rest: every encrypted field of every model, and re-encryption under the first key."""

from __future__ import annotations

from collections.abc import Iterator

from django.apps import apps
from django.db import connection, transaction
from fernet_fields import EncryptedField


def encrypted_fields() -> Iterator[tuple[type, list[EncryptedField]]]:
    for model in apps.get_models():
        fields = [f for f in model._meta.concrete_fields if isinstance(f, EncryptedField)]
        if fields:
            yield model, fields


def reencrypt_all(batch_size: int = 500) -> dict[str, int]:
    """Decrypt every secret with any configured key and write it back under the first key.

    Raw SQL keeps the rows away from managers, signals and ``auto_now`` fields: the only change is
    the ciphertext. A value no configured key can decrypt raises ``InvalidToken`` and rolls back.
    """
    counts: dict[str, int] = {}
    for model, fields in encrypted_fields():
        table = connection.ops.quote_name(model._meta.db_table)
        pk = connection.ops.quote_name(model._meta.pk.column)
        columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        done = 0
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"select {pk}, {columns} from {table} order by {pk}")
            rows = cursor.fetchall()
            for start in range(0, len(rows), batch_size):
                for row in rows[start:start + batch_size]:
                    assignments, params = [], []
                    for field, raw in zip(fields, row[1:], strict=True):
                        if raw is None:
                            continue
                        plaintext = field.fernet.decrypt(bytes(raw))
                        assignments.append(f"{connection.ops.quote_name(field.column)} = %s")
                        params.append(field.fernet.encrypt(plaintext))
                    if assignments:
                        cursor.execute(f"update {table} set {', '.join(assignments)} where {pk} = %s", [*params, row[0]])
                        done += 1
        counts[model._meta.label] = done
    return counts
