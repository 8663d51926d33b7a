"""Writes of `crm`: contacts imported from a CSV file, in two steps.

1. `contact_import_preview` reads the file and writes only the `ContactImport`: every line with what
   it will do (create a contact, fill in an existing one, fold into an earlier line with the same
   number) or why it cannot (its error, in words). Nothing else is written.
2. `contact_import_apply` does it, once, in one transaction. Contacts are found by their canonical
   number (core.phones), or by a number merged into another contact (crm.merges), so an import never
   doubles a person; one created meanwhile (a message arrived) is found, not doubled (INSERT … ON
   CONFLICT DO NOTHING, then read). What the team typed is never overwritten: the file fills blanks,
   adds labels and appends notes. A bad line is set aside with its reason and never blocks the others.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from core import phones
from tenants.models import Organization
from tenants.services import audit

from .exports import FORMULA_STARTS
from .models import CONTACT_LABELS_MAX, Contact, ContactImport, ContactImportStatus, ContactMerge
from .services import contact_labels_clean

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
# The columns we read, by the names people give them (lower case, spaces for "_" and "-").
COLUMNS = {
    "phone": {"phone", "phone number", "number", "mobile", "mobile phone", "cell", "tel", "telephone", "whatsapp",
              "whatsapp number", "msisdn"},
    "name": {"name", "full name", "contact", "contact name", "customer", "customer name", "display name"},
    "first_name": {"first name", "given name", "firstname"},
    "last_name": {"last name", "family name", "surname", "lastname"},
    "email": {"email", "e mail", "email address", "mail"},
    "notes": {"notes", "note", "comment", "comments"},
    "labels": {"labels", "label", "tags", "tag"},
}
ALIASES = {alias: column for column, aliases in COLUMNS.items() for alias in aliases}


def _column(header: str) -> str | None:
    return ALIASES.get(" ".join(re.sub(r"[_\-]", " ", header.strip().lower()).split()))


def _text(data: bytes) -> tuple[str, str]:
    """The file as text and the encoding it was read in: UTF-8 (with or without a byte-order mark), or
    Windows-1252, what Excel on Windows writes as "CSV"; a file with NUL bytes is not text at all."""
    if b"\x00" in data[:65536]:
        raise ValidationError("This is not a CSV file (it holds binary data). Save the sheet as CSV and upload that.")
    try:
        return data.decode("utf-8-sig"), "UTF-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "Windows-1252"


def _reader(text: str):
    sample = text[:8192]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    return csv.reader(io.StringIO(text, newline=""), dialect)


def _phone(raw: str, country: str) -> str:
    """The number as we keep it, or a ValidationError a person understands."""
    try:
        return phones.canonical_contact_number(raw, default_region=country if not raw.strip().startswith("+") else None)
    except ValidationError:
        raise ValidationError(f"{raw[:40]!r} is not a phone number (numbers without a country code are read as "
                              f"{country}).") from None


def _unguarded(value: str) -> str:
    """A cell as it was before our export made it plain text ("'=…" back to "=…"), so an export imports back."""
    return value[1:] if value.startswith("'") and value[1:2].startswith(FORMULA_STARTS) and value[1:2] else value


def _row(values: dict, country: str) -> dict:
    """One line's cleaned values, or its error."""
    values = {column: _unguarded(value) for column, value in values.items()}
    name = " ".join((values.get("name") or " ".join(filter(None, (values.get("first_name"), values.get("last_name"))))
                     ).split())
    row = {"raw_phone": values.get("phone", "").strip()[:40], "name": name[:200],
           "email": values.get("email", "").strip()[:254], "notes": values.get("notes", "").strip()[:5000],
           "labels": [], "phone": "", "error": ""}
    try:
        if not row["raw_phone"]:
            raise ValidationError("The phone number is empty.")
        row["phone"] = _phone(row["raw_phone"], country)
        if len(name) > 200:
            raise ValidationError("The name is longer than 200 characters.")
        if len(values.get("email", "").strip()) > 254:
            raise ValidationError("The email address is longer than 254 characters.")
        if row["email"]:
            try:
                validate_email(row["email"])
            except ValidationError:
                raise ValidationError(f"{row['email'][:80]!r} is not an email address.") from None
        if len(values.get("notes", "").strip()) > 5000:
            raise ValidationError("The notes are longer than 5,000 characters.")
        row["labels"] = contact_labels_clean(values.get("labels", "").split(","))
    except ValidationError as exc:
        row["error"] = " ".join(exc.messages)
    return row


def _found(organization: Organization, numbers: list[str], *, lock: bool = False) -> dict[str, Contact]:
    """The contacts these numbers reach: their own, or the one a number was merged into. `lock` holds
    them (in one order, so two imports cannot deadlock) until the transaction ends: "fill in only what
    is blank" must not read a name just before the team types one."""
    contacts = Contact.objects.filter(organization=organization)
    if lock:
        contacts = contacts.select_for_update().order_by("pk")
    found = {c.phone_number: c for c in contacts.filter(phone_number__in=numbers)}
    missing = [number for number in numbers if number not in found]
    if missing:
        merged = dict(ContactMerge.objects.filter(organization=organization, merged_address__in=missing)
                      .values_list("merged_address", "contact_id"))
        survivors = {c.pk: c for c in contacts.filter(pk__in=set(merged.values()))}
        found.update((number, survivors[contact_id]) for number, contact_id in merged.items() if contact_id in survivors)
    return found


def contact_import_preview(*, organization: Organization, actor, file_name: str, data: bytes,
                           default_country: str = "US") -> ContactImport:
    """Read the file and keep what each line would do (nothing but the ContactImport is written).
    A file that cannot be read at all is a ValidationError that says why."""
    if len(data) > MAX_BYTES:
        raise ValidationError(f"The file is {len(data) / 1024 / 1024:.1f} MB; at most {MAX_BYTES // 1024 // 1024} MB "
                              "can be imported at once. Split it.")
    country = (default_country or "US").upper()
    if country not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError(f"{default_country!r} is not a country code such as US or GB.")
    text, encoding = _text(data)
    reader = _reader(text)
    try:
        header = next(reader, None)
        if not header or not any(cell.strip() for cell in header):
            raise ValidationError("The file is empty: its first line should name the columns (phone, name, email…).")
        columns = [_column(cell) for cell in header]
        if "phone" not in columns:
            raise ValidationError("No column holds phone numbers: name one of them phone, mobile or number "
                                  f"(the columns are: {', '.join(cell.strip() for cell in header)[:300]}).")
        ignored = [cell.strip() for cell, column in zip(header, columns, strict=True) if column is None and cell.strip()]
        rows, first_of, last = [], {}, reader.line_num
        for values in reader:
            line, last = last + 1, reader.line_num  # where the row starts (a quoted cell may span lines)
            if not any(cell.strip() for cell in values):
                continue
            if len(rows) >= MAX_ROWS:
                raise ValidationError(f"The file has more than {MAX_ROWS:,} contacts; import at most that many at once.")
            named = {}
            for column, value in zip(columns, values, strict=False):
                if column and value.strip() and column not in named:
                    named[column] = value
            row = {"line": line, **_row(named, country)}
            if not row["error"]:
                if row["phone"] in first_of:
                    row["same_as"] = first_of[row["phone"]]
                else:
                    first_of[row["phone"]] = row["line"]
            rows.append(row)
    except csv.Error as exc:
        raise ValidationError(f"The file is not valid CSV near line {reader.line_num}: {exc}.") from None
    if not rows:
        raise ValidationError("The file names its columns but has no contacts under them.")
    found = _found(organization, list(first_of))
    for row in rows:
        if row["error"] or row.get("same_as"):
            continue
        contact = found.get(row["phone"])
        row["contact_id"] = str(contact.pk) if contact else ""
        row["contact_name"] = contact.display_name if contact else ""
        row["via_merge"] = bool(contact and contact.phone_number != row["phone"])
    summary = {"rows": len(rows), "errors": sum(1 for r in rows if r["error"]),
               "same": sum(1 for r in rows if r.get("same_as")),
               "create": sum(1 for r in rows if not r["error"] and not r.get("same_as") and not r.get("contact_id")),
               "update": sum(1 for r in rows if r.get("contact_id")), "ignored_columns": ignored,
               "encoding": encoding}
    return ContactImport.objects.create(organization=organization, file_name=file_name[:255], default_country=country,
                                        rows=rows, summary=summary, created_by=_user(actor))


def _user(actor):
    return actor if getattr(actor, "is_authenticated", False) else None


def _fill(contact: Contact, row: dict) -> list[str]:
    """What a line adds to a contact: blanks filled, labels joined, notes appended (never overwritten)."""
    changed = []
    for field in ("name", "email"):
        if row[field] and not getattr(contact, field):
            setattr(contact, field, row[field])
            changed.append(field)
    # The team's labels first; the file's are added while there is room (past the limit, the contact's
    # page would refuse every later edit until some were removed).
    labels = {label.casefold(): label for label in contact.labels}
    for label in row["labels"]:
        if len(labels) >= CONTACT_LABELS_MAX:
            break
        labels.setdefault(label.casefold(), label)
    if len(labels) > len(contact.labels):
        contact.labels = sorted(labels.values(), key=str.casefold)
        changed.append("labels")
    if row["notes"] and row["notes"] not in contact.notes:
        contact.notes = "\n\n".join(part for part in (contact.notes, row["notes"]) if part)[:5000]
        changed.append("notes")
    return changed


def _folded(rows: list[dict]) -> dict[str, dict]:
    """One row per number: later lines with the same number fill what the first left blank."""
    by_number: dict[str, dict] = {}
    for row in rows:
        if row["error"]:
            continue
        first = by_number.setdefault(row["phone"], {**row, "labels": list(row["labels"])})
        if first["line"] != row["line"]:
            for field in ("name", "email"):
                first[field] = first[field] or row[field]
            first["labels"] += [label for label in row["labels"] if label not in first["labels"]]
            if row["notes"] and row["notes"] not in first["notes"]:
                first["notes"] = "\n\n".join(part for part in (first["notes"], row["notes"]) if part)
    return by_number


def contact_import_apply(*, organization: Organization, actor, contact_import: ContactImport) -> ContactImport:
    """Do what the preview showed, once: a second confirmation (another tab, a double click) is told the
    import was already applied, and changes nothing. New contacts are inserted with their values in one
    statement per thousand, and known ones updated in batches (only the fields the file filled in):
    20,000 lines, one UPDATE each, took 28 s with every touched contact locked."""
    with transaction.atomic():
        locked = ContactImport.objects.select_for_update().get(organization=organization, pk=contact_import.pk)
        if locked.status == ContactImportStatus.APPLIED:
            raise ValidationError(f"This import was already applied on "
                                  f"{timezone.localtime(locked.applied_at):%b %-d, %Y at %H:%M}; nothing was changed.")
        wanted = _folded(locked.rows)
        found = _found(organization, list(wanted), lock=True)
        now = timezone.now()
        fresh = {}
        for number, row in wanted.items():
            if number not in found:
                fresh[number] = Contact(organization=organization, phone_number=number, address_kind=phones.PHONE)
                _fill(fresh[number], row)
        Contact.objects.bulk_create(fresh.values(), batch_size=1000, ignore_conflicts=True)
        # A contact created since the preview (a message arrived) won the insert: it is filled in below.
        stored = dict(Contact.objects.filter(organization=organization, phone_number__in=list(fresh))
                      .values_list("phone_number", "pk")) if fresh else {}
        raced = {number for number in fresh if stored.get(number) != fresh[number].pk}
        if raced:
            found.update(_found(organization, list(raced), lock=True))
        created = len(fresh) - len(raced)
        # A contact reached by two lines (its number, and one merged into it) is one object, filled twice.
        contacts: dict = {}
        changed: dict = defaultdict(set)
        for number, row in wanted.items():
            if number in fresh and number not in raced or number not in found:  # not found: deleted meanwhile
                continue
            contact = contacts.setdefault(found[number].pk, found[number])
            changed[contact.pk].update(_fill(contact, row))
        batches: dict[frozenset, list[Contact]] = defaultdict(list)
        for pk, fields in changed.items():
            if fields:
                contacts[pk].updated_at = now
                batches[frozenset(fields)].append(contacts[pk])
        for fields, batch in batches.items():  # one batch per set of fields, so nothing else is written
            Contact.objects.bulk_update(batch, [*sorted(fields), "updated_at"], batch_size=1000)
        updated = sum(len(batch) for batch in batches.values())
        locked.status = ContactImportStatus.APPLIED
        locked.applied_at, locked.applied_by = now, _user(actor)
        locked.result = {"created": created, "updated": updated, "unchanged": len(contacts) - updated,
                         "skipped": locked.summary.get("errors", 0), "folded": locked.summary.get("same", 0)}
        locked.save(update_fields=["status", "applied_at", "applied_by", "result"])
        audit(organization=organization, actor=actor, verb="contacts.imported", target=locked,
              data={"file": locked.file_name, **locked.result})
    return locked
