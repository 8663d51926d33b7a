"""Secrets at rest: every encrypted field of every model, and re-encryption under the first key."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from cryptography.fernet import Fernet, InvalidToken
from django.apps import apps
from django.db import connection, transaction
from fernet_fields import EncryptedField

from tenants.scoping import platform_scope


def encrypted_fields() -> Iterator[tuple[type, list[EncryptedField]]]:
    for model in apps.get_models():
        fields = [f for f in model._meta.concrete_fields if isinstance(f, EncryptedField)]
        if fields:
            yield model, fields


@dataclass(frozen=True)
class UnreadableSecret:
    """A stored value that no key (or, after re-encryption, not the first key alone) decrypts."""

    model: str
    pk: object
    field: str
    organization_id: object = None

    def __str__(self) -> str:
        where = f" of organization {self.organization_id}" if self.organization_id else ""
        return f"{self.model} {self.pk}{where}, field {self.field}"


@dataclass
class RotationReport:
    rewritten: dict[str, int] = field(default_factory=dict)  # model label -> rows re-encrypted
    from_older_key: dict[str, int] = field(default_factory=dict)  # of which the first key could not read before
    verified: int = 0  # values read back with the first key alone
    unreadable: list[UnreadableSecret] = field(default_factory=list)


def _first_key(fields: list[EncryptedField]) -> Fernet:
    return Fernet(fields[0].fernet_keys[0])


def _readable_by(fernet: Fernet, token: bytes) -> bool:
    try:
        fernet.decrypt(token)
    except InvalidToken:
        return False
    return True


def reencrypt_all() -> RotationReport:
    """Decrypt every secret with any configured key and write it back under the first key, then read
    every value back with the first key alone.

    Secrets live in row-level-secured tables of every organization, so this runs in the platform
    scope (RLS bypass): the application role would otherwise see no row at all and re-encrypt
    nothing. Each table is rewritten in one transaction with its rows locked, so a secret changed
    meanwhile is not overwritten with its old value. Raw SQL keeps the rows away from managers,
    signals and ``auto_now`` fields: the only change is the ciphertext. A value no configured key
    decrypts is left as it is and named in ``unreadable``; the others are still rewritten.
    """
    report = RotationReport()
    with platform_scope():
        for model, fields in encrypted_fields():
            _reencrypt_table(model, fields, report)
        for model, fields in encrypted_fields():
            _verify_table(model, fields, report)
    return report


def _columns(model, fields) -> tuple[str, str, str, str | None]:
    quote = connection.ops.quote_name
    has_org = any(f.column == "organization_id" for f in model._meta.concrete_fields)
    return (quote(model._meta.db_table), quote(model._meta.pk.column), ", ".join(quote(f.column) for f in fields),
            quote("organization_id") if has_org else None)


def _rows(cursor, model, fields, *, lock: bool) -> list[tuple]:
    table, pk, columns, org = _columns(model, fields)
    cursor.execute(f"select {pk}, {org or 'null'}, {columns} from {table} order by {pk}"
                   + (" for update" if lock else ""))
    return cursor.fetchall()


def _reencrypt_table(model, fields: list[EncryptedField], report: RotationReport) -> None:
    label = model._meta.label
    first = _first_key(fields)
    table, pk, _, _ = _columns(model, fields)
    rewritten = older = 0
    with transaction.atomic(), connection.cursor() as cursor:
        for pk_value, org_id, *raws in _rows(cursor, model, fields, lock=True):
            assignments, params, was_older = [], [], False
            for secret_field, raw in zip(fields, raws, strict=True):
                if raw is None:
                    continue
                token = bytes(raw)
                try:
                    plaintext = secret_field.fernet.decrypt(token)
                except InvalidToken:
                    report.unreadable.append(UnreadableSecret(label, pk_value, secret_field.name, org_id))
                    continue
                was_older = was_older or not _readable_by(first, token)
                assignments.append(f"{connection.ops.quote_name(secret_field.column)} = %s")
                params.append(first.encrypt(plaintext))
            if assignments:
                cursor.execute(f"update {table} set {', '.join(assignments)} where {pk} = %s", [*params, pk_value])
                rewritten += 1
                older += was_older
    report.rewritten[label] = rewritten
    report.from_older_key[label] = older


def _verify_table(model, fields: list[EncryptedField], report: RotationReport) -> None:
    label = model._meta.label
    first = _first_key(fields)
    already = {(u.model, u.pk, u.field) for u in report.unreadable}
    with connection.cursor() as cursor:
        for pk_value, org_id, *raws in _rows(cursor, model, fields, lock=False):
            for secret_field, raw in zip(fields, raws, strict=True):
                if raw is None:
                    continue
                if _readable_by(first, bytes(raw)):
                    report.verified += 1
                elif (label, pk_value, secret_field.name) not in already:
                    report.unreadable.append(UnreadableSecret(label, pk_value, secret_field.name, org_id))
