"""Contacts from a CSV file: a preview of every line before anything is written, then applied once;
a person already known (by any spelling of their number, or a number merged into them) is filled in,
never doubled; bad lines are set aside with their reason and never block the others."""

from __future__ import annotations

import html
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from crm.models import Contact, ContactImport, ContactMerge
from tenants.models import AuditEvent
from tenants.scoping import tenant_scope
from tests.crm.test_contact_export import exported
from tests.crm.test_contact_pages import contacts

pytestmark = pytest.mark.django_db

MESSY = (
    "\ufeffPhone Number;Full_Name;E-mail;Tags;Notes;Favourite colour\r\n"
    "+1 415 555 0101;Ann Archer;ann@example.com;vip, wholesale;\"Prefers mornings; \"\"no calls\"\"\nafter 6\";red\r\n"
    "555-01;Bad Number;;;;blue\r\n"
    "+14155550102;Bad Email;not-an-email;;;green\r\n"
    "(415) 555-0103;Cyd National;;;;\r\n"
    "+14155550101;Ann again;;late payer;Second line;\r\n"
    "+1-415-555-0104;Known Already;known@example.com;;;\r\n"
    "+14155550105;Merged Number;;;;\r\n"
    ";;;;;\r\n"
    "+14155550106;=HYPERLINK(\"x\");;;;\r\n"
).encode("utf-8")


def upload(client, org, content: bytes, name="customers.csv", country="US"):
    return client.post(f"/o/{org.slug}/contacts/import/",
                       {"file": SimpleUploadedFile(name, content, content_type="text/csv"), "country": country})


def lines(page: str) -> dict[int, str]:
    found = re.findall(r'<tr id="line-(\d+)"[^>]*>(.*?)</tr>', page, re.S)
    return {int(line): " ".join(html.unescape(re.sub(r"<[^>]+>", " ", cells)).split()) for line, cells in found}


def test_a_messy_file_is_previewed_then_applied_once(owner_client, org, owner):
    known, survivor = contacts(org, ("+14155550104", "Known By Us", ""), ("+14155550199", "Survivor", ""))
    with tenant_scope(org):
        ContactMerge.objects.create(organization=org, contact=survivor, merged_contact_id=survivor.pk,
                                    merged_address="+14155550105", merged_name="Old number")
    response = upload(owner_client, org, MESSY)
    assert response.status_code == 302
    preview = owner_client.get(response["Location"])
    page = preview.content.decode()
    shown = lines(page)
    assert shown[2].startswith('2 +14155550101 Ann Archer ann@example.com vip, wholesale '
                             'Prefers mornings; "no calls" after 6 New contact')
    assert "'555-01' is not a phone number" in shown[4]  # line numbers count the quoted note's two lines
    assert "'not-an-email' is not an email address." in shown[5]
    assert shown[6].endswith("+14155550103 Cyd National New contact")  # the national number, read as US
    assert shown[7].endswith("Same number as line 2")
    assert shown[8].endswith("Fills in Known By Us")
    assert shown[9].endswith("Fills in Survivor (a number merged into them)")
    assert "Ignored columns: Favourite colour." in page
    assert "<strong>3 new</strong>" in page and "<strong>2 already contacts</strong>" in page
    assert "2 with errors" in page
    with tenant_scope(org):  # a preview writes no contact
        assert Contact.objects.count() == 2
    applied = owner_client.post(response["Location"])
    assert applied.status_code == 302
    page = owner_client.get(response["Location"]).content.decode()
    assert "3 new, 1 updated, 1 already up to date, 2 skipped." in page  # the survivor had nothing to fill in
    with tenant_scope(org):
        ann = Contact.objects.get(phone_number="+14155550101")
        assert (ann.name, ann.email, ann.labels) == ("Ann Archer", "ann@example.com", ["late payer", "vip", "wholesale"])
        assert ann.notes == 'Prefers mornings; "no calls"\nafter 6\n\nSecond line'
        known.refresh_from_db()
        assert (known.name, known.email) == ("Known By Us", "known@example.com")  # typed name kept, blank filled
        survivor.refresh_from_db()
        assert survivor.name == "Survivor"
        assert not Contact.objects.filter(phone_number="+14155550105").exists()  # reached the survivor instead
        assert Contact.objects.get(phone_number="+14155550106").name == '=HYPERLINK("x")'  # stored as typed
        assert Contact.objects.count() == 5
        assert AuditEvent.objects.get(verb="contacts.imported").data["created"] == 3
    again = owner_client.post(response["Location"])
    assert again.status_code == 400 and "This import was already applied on" in again.content.decode()
    with tenant_scope(org):
        assert Contact.objects.count() == 5


def test_a_contact_created_between_preview_and_confirm_is_filled_not_doubled(owner_client, org):
    response = upload(owner_client, org, b"phone,name,email\n+14155550101,Ann,ann@example.com\n")
    contacts(org, ("+14155550101", "", ""))  # a message arrived from her meanwhile
    owner_client.post(response["Location"])
    with tenant_scope(org):
        [ann] = Contact.objects.all()
        assert (ann.name, ann.email) == ("Ann", "ann@example.com")
    assert "0 new, 1 updated, 0 already up to date" in owner_client.get(response["Location"]).content.decode()


def test_a_contact_reached_by_two_lines_keeps_both_notes(owner_client, org):
    [survivor] = contacts(org, ("+14155550199", "Survivor", ""))
    with tenant_scope(org):
        ContactMerge.objects.create(organization=org, contact=survivor, merged_contact_id=survivor.pk,
                                    merged_address="+14155550105", merged_name="Old number")
    response = upload(owner_client, org, b"phone,email,notes\n+14155550199,,From her number\n"
                                         b"+14155550105,s@example.com,From her old number\n")
    owner_client.post(response["Location"])
    with tenant_scope(org):
        [survivor] = Contact.objects.all()
        assert (survivor.email, survivor.notes) == ("s@example.com", "From her number\n\nFrom her old number")
    assert "0 new, 1 updated" in owner_client.get(response["Location"]).content.decode()


def test_applying_a_large_file_takes_a_few_statements_not_one_per_line(owner_client, org,
                                                                       django_assert_max_num_queries):
    contacts(org, *[(f"+1415555{i:04d}", "", "") for i in range(100)])  # known, with blanks to fill
    body = "phone,name,notes\n" + "".join(f"+1415555{i:04d},Person {i},Met at the fair\n" for i in range(600))
    response = upload(owner_client, org, body.encode())
    with django_assert_max_num_queries(40):  # was one UPDATE per line: 600 and more
        owner_client.post(response["Location"])
    with tenant_scope(org):
        assert Contact.objects.count() == 600
        assert Contact.objects.filter(name="Person 7", notes="Met at the fair").exists()  # known, filled in
        assert Contact.objects.filter(name="Person 599", notes="Met at the fair").exists()  # new
    assert "500 new, 100 updated, 0 already up to date" in owner_client.get(response["Location"]).content.decode()


@pytest.mark.parametrize("content, said", [
    (b"", "The file is empty: choose the CSV file to import."),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "This is not a CSV file"),
    (b"name,email\nAnn,ann@example.com\n", "No column holds phone numbers: name one of them phone"),
    (b"phone,name\n", "has no contacts under them"),
    (b"phone\n" + b"+14155550101\n" * 20_001, "more than 20,000 contacts"),
])
def test_files_that_cannot_be_imported_say_why(owner_client, org, content, said):
    response = upload(owner_client, org, content)
    assert response.status_code == 400 and said in html.unescape(response.content.decode())
    with tenant_scope(org):
        assert not ContactImport.objects.exists() and not Contact.objects.exists()


def test_labels_from_the_file_are_added_while_there_is_room(owner_client, org):
    [ann] = contacts(org, ("+14155550101", "Ann", ""))
    theirs = [f"team {i:02d}" for i in range(19)]
    with tenant_scope(org):
        Contact.objects.filter(pk=ann.pk).update(labels=theirs)
    response = upload(owner_client, org, b'phone,labels\n+14155550101,"TEAM 03, vip, wholesale"\n')
    owner_client.post(response["Location"])
    with tenant_scope(org):
        ann.refresh_from_db()
    assert ann.labels == sorted([*theirs, "vip"], key=str.casefold)  # at most 20; the team's spelling kept


def test_a_file_over_5_mb_is_refused(owner_client, org):
    response = upload(owner_client, org, b"phone,notes\n" + b"+14155550101," + b"x" * (5 * 1024 * 1024) + b"\n")
    assert response.status_code == 400
    assert "at most 5 MB can be imported at once" in html.unescape(response.content.decode())
    with tenant_scope(org):
        assert not ContactImport.objects.exists()


def test_values_too_long_are_errors_of_their_line(owner_client, org):
    response = upload(owner_client, org, (
        "phone,name,email,notes\n"
        f"+14155550101,{'N' * 201},,\n"
        f"+14155550102,Ann,{'a' * 250}@example.com,\n"
        f"+14155550103,Bob,,{'n' * 5001}\n"
        "+14155550104,Cyd,,fine\n").encode())
    shown = lines(owner_client.get(response["Location"]).content.decode())
    assert "The name is longer than 200 characters." in shown[2]
    assert "The email address is longer than 254 characters." in shown[3]
    assert "The notes are longer than 5,000 characters." in shown[4]
    assert shown[5].endswith("New contact")
    owner_client.post(response["Location"])
    with tenant_scope(org):
        assert list(Contact.objects.values_list("name", flat=True)) == ["Cyd"]


def test_the_file_name_is_shown_as_text(owner_client, org):
    response = upload(owner_client, org, b"phone\n+14155550101\n", name="<img src=x onerror=alert(1)>.csv")
    for page in (owner_client.get(response["Location"]), owner_client.get(f"/o/{org.slug}/contacts/import/")):
        text = page.content.decode()
        assert "<img src=x" not in text and "&lt;img src=x onerror=alert(1)&gt;.csv" in text


def test_windows_1252_files_are_read(owner_client, org):
    response = upload(owner_client, org, "phone,name\n+14155550101,Zoë Müller\n".encode("cp1252"))
    owner_client.post(response["Location"])
    with tenant_scope(org):
        assert Contact.objects.get().name == "Zoë Müller"


def test_an_export_imports_back(owner_client, org, other_org, outsider_client):
    contacts(org, ("+14155550101", "Ann Archer", "ann@example.com"), ("+442071234567", "-Cyd", ""))
    with tenant_scope(org):
        Contact.objects.filter(phone_number="+14155550101").update(labels=["vip"], notes="Line one, and two")
    body = "".join(",".join(f'"{cell}"' for cell in line) + "\n"
                   for line in exported(owner_client.get(f"/o/{org.slug}/contacts/export.csv")))
    response = outsider_client.post(f"/o/{other_org.slug}/contacts/import/",
                                    {"file": SimpleUploadedFile("export.csv", body.encode(), content_type="text/csv"),
                                     "country": "US"})
    assert response.status_code == 302
    # The import is the other organization's: not seen, not applied from here.
    assert owner_client.get(response["Location"].replace(other_org.slug, org.slug)).status_code == 404
    assert owner_client.post(response["Location"].replace(other_org.slug, org.slug)).status_code == 404
    outsider_client.post(response["Location"])
    with tenant_scope(other_org):
        imported = {c.phone_number: (c.name, c.email, c.labels, c.notes) for c in Contact.objects.all()}
    assert imported == {"+14155550101": ("Ann Archer", "ann@example.com", ["vip"], "Line one, and two"),
                        "+442071234567": ("-Cyd", "", [], "")}  # the export's guard is taken off again


def test_agents_cannot_import(agent_client, org):
    assert upload(agent_client, org, b"phone\n+14155550101\n").status_code == 403
    assert "Import CSV" not in agent_client.get(f"/o/{org.slug}/contacts/").content.decode()
