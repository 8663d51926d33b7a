"""Contacts as CSV: the page's filters, streamed, safe to open in a spreadsheet, and importable back."""

from __future__ import annotations

import csv
import io

import pytest

from crm.models import Contact
from tenants.models import AuditEvent
from tenants.scoping import tenant_scope
from tests.crm.test_contact_pages import contacts

pytestmark = pytest.mark.django_db


def exported(response) -> list[list[str]]:
    assert response.status_code == 200 and response.streaming
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")  # Excel reads UTF-8 with it
    return list(csv.reader(io.StringIO(body[1:])))


def test_the_export_lists_what_the_page_lists(agent_client, org, outsider_client, other_org):
    ann, bob, _ = contacts(org, ("+14155550101", "Ann Archer", "ann@example.com"), ("+14155550102", "Bob", ""),
                           ("+442071234567", "Cyd", ""))
    with tenant_scope(org):
        Contact.objects.filter(pk=ann.pk).update(labels=["vip"], notes='Said "call after 5", then, hung up\nTwice')
    response = agent_client.get(f"/o/{org.slug}/contacts/export.csv")
    assert response["Content-Disposition"].startswith(f'attachment; filename="contacts-{org.slug}-')
    lines = exported(response)
    assert lines[0][:4] == ["phone", "name", "email", "labels"]
    assert [line[:4] for line in lines[1:]] == [["+14155550101", "Ann Archer", "ann@example.com", "vip"],
                                                ["+14155550102", "Bob", "", ""], ["+442071234567", "Cyd", "", ""]]
    assert lines[1][7] == 'Said "call after 5", then, hung up\nTwice'  # quotes, commas and lines survive
    assert [line[1] for line in exported(agent_client.get(f"/o/{org.slug}/contacts/export.csv",
                                                          {"label": "vip"}))[1:]] == ["Ann Archer"]
    assert [line[1] for line in exported(agent_client.get(f"/o/{org.slug}/contacts/export.csv",
                                                          {"q": "+44 20", "sort": "newest"}))[1:]] == ["Cyd"]
    bad = agent_client.get(f"/o/{org.slug}/contacts/export.csv", {"last_contact": "forever"})
    assert bad.status_code == 400 and "Select a valid choice" in bad.content.decode()
    with tenant_scope(org):
        assert AuditEvent.objects.filter(verb="contacts.exported").count() == 3
    # The page's link carries its filters.
    page = agent_client.get(f"/o/{org.slug}/contacts/", {"label": "vip"}).content.decode()
    assert f'href="/o/{org.slug}/contacts/export.csv?q=&amp;label=vip' in page or \
        f'href="/o/{org.slug}/contacts/export.csv?label=vip' in page
    # Another organization's export has none of them.
    assert len(exported(outsider_client.get(f"/o/{other_org.slug}/contacts/export.csv"))) == 1


def test_cells_that_would_run_as_formulas_are_made_plain(agent_client, org):
    contacts(org, ("+14155550101", '=HYPERLINK("http://evil.example","x")', "@SUM(1)"),
             ("+14155550102", "-2+3", "+cmd@example.com"))
    lines = exported(agent_client.get(f"/o/{org.slug}/contacts/export.csv"))
    assert sorted(line[:3] for line in lines[1:]) == [
        ["+14155550101", "'=HYPERLINK(\"http://evil.example\",\"x\")", "'@SUM(1)"],
        ["+14155550102", "'-2+3", "'+cmd@example.com"]]
    # The numbers are untouched: "+1415..." is a number, not a formula.
