"""The contacts as CSV: what the contacts page lists (its filters and order), streamed a chunk at a
time so 100,000 contacts never sit in memory, each cell that a spreadsheet would run as a formula
made plain text (OWASP "CSV injection"), and readable back by the contacts import."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from tenants.access import EVERYTHING, Access, current_access
from tenants.models import Organization
from tenants.scoping import tenant_scope
from tenants.services import audit

from .models import Contact
from .selectors import contact_list

HEADER = ["phone", "name", "email", "labels", "whatsapp name", "sms opted out at", "whatsapp opted out at",
          "notes", "created at"]
FIELDS = ("id", "organization_id", "phone_number", "name", "email", "labels", "whatsapp_profile_name",
          "sms_opted_out_at", "whatsapp_opted_out_at", "notes", "created_at")
# What starts a formula in Excel, LibreOffice or Google Sheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CHUNK = 2000


def plain(value: str) -> str:
    """A cell a spreadsheet shows as typed: one that would start a formula gets a leading quote."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


class _Line:
    """csv.writer's file: hands back the line it was given."""

    def write(self, line: str) -> str:
        return line


def _row(contact: Contact) -> list[str]:
    # The number is a validated E.164 (or a sender id kept as it came): "+1415..." is not a formula,
    # and quoting it would stop the file from importing back. An odd sender id is still guarded.
    phone = contact.phone_number if contact.phone_number[1:].isdigit() else plain(contact.phone_number)
    return [phone, plain(contact.name), plain(contact.email), plain(", ".join(contact.labels)),
            plain(contact.whatsapp_profile_name),
            contact.sms_opted_out_at.isoformat() if contact.sms_opted_out_at else "",
            contact.whatsapp_opted_out_at.isoformat() if contact.whatsapp_opted_out_at else "",
            plain(contact.notes), contact.created_at.isoformat()]


def contact_export(*, organization: Organization, actor, filters: dict) -> Iterator[str]:
    """Audit the export (with its filters), and the CSV's lines: a byte-order mark first (Excel then
    reads UTF-8), the header, one line per contact. The lines are made while the response streams,
    after the request's tenant scope has closed: they read inside a scope of their own, seeing what
    the member who asked sees (tenants.access), captured now."""
    audit(organization=organization, actor=actor, verb="contacts.exported", target=organization,
          data={"filters": {key: value for key, value in filters.items() if value}})
    return _lines(organization, filters, current_access() or EVERYTHING)


def _lines(organization: Organization, filters: dict, access: Access) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield "\ufeff" + writer.writerow(HEADER)
    with tenant_scope(organization, access):
        for contact in contact_list(organization=organization, **filters).only(*FIELDS).iterator(chunk_size=CHUNK):
            yield writer.writerow(_row(contact))
