"""The call log, a call's page and the missed-call badge, as the people of an organization see them."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from crm import services as crm_services
from telephony.models import Call, PhoneNumber, Provider
from tenants.models import AuditEvent
from tenants.scoping import tenant_scope
from tests import factories
from tests.vendor_fixtures import ACME_SID

pytestmark = pytest.mark.django_db

OUR_NUMBER = "+14155550142"
SECOND_NUMBER = "+14155550143"
CUSTOMER = "+14155550199"


@pytest.fixture
def second_number(org, twilio_account):
    with tenant_scope(org):
        return PhoneNumber.objects.create(
            organization=org, provider_account=twilio_account, provider=Provider.TWILIO, phone_number=SECOND_NUMBER,
            provider_sid="PN" + "2" * 32, friendly_name="Sales line", capabilities={"voice": True, "sms": True})


@pytest.fixture
def colleague(org, admin):
    return factories.make_agent(org, user=admin, name="Bob Colleague")


def make_call(org, number, *, at: datetime | None = None, direction="inbound", status="completed", customer=CUSTOMER,
              name="", answered=True, **fields) -> Call:
    """A call as the voice webhooks leave it: an inbound one nobody answered is missed."""
    at = at or timezone.now()
    with tenant_scope(org):
        contact = crm_services.contact_for(organization=org, phone=customer) if customer else None
        if contact is not None and name and contact.name != name:
            contact.name = name
            contact.save()
        inbound = direction == "inbound"
        fields.setdefault("agent", number.agent if number is not None else None)
        call = Call.objects.create(
            organization=org, phone_number=number, contact=contact, direction=direction,
            from_number=customer if inbound else number.phone_number, to_number=number.phone_number if inbound
            else customer, provider_sid="CA" + uuid.uuid4().hex,
            status=status, started_at=at, answered_at=at if answered and status == "completed" else None,
            ended_at=at + timedelta(seconds=fields.get("duration") or 0) if status != "ringing" else None, **fields)
        Call.objects.filter(pk=call.pk).update(created_at=at)
        call.refresh_from_db()
        return call


def today_anchor() -> datetime:
    """Now, or an hour later in the first hour of the day, so that calls made up to an hour before
    it are still today's whenever the test runs."""
    now = timezone.localtime()
    return now + timedelta(hours=1) if now.hour == 0 else now


def rows(page: str) -> list[str]:
    """The ids of the calls the log shows, in order."""
    return re.findall(r'id="call-([0-9a-f-]{36})"', page)


def log(client, org, **params):
    return client.get(f"/o/{org.slug}/calls/", params)


# The log -----------------------------------------------------------------------------------------


def test_the_log_shows_each_call_with_its_contact_number_agent_outcome_and_a_call_back_button(
        agent_client, org, our_number, agent):
    now = timezone.now()
    answered = make_call(org, our_number, at=now - timedelta(hours=2), name="Olga Customer", duration=192)
    missed = make_call(org, our_number, at=now - timedelta(hours=1), customer="+14155550111", answered=False,
                       status="no-answer")
    voicemail = make_call(org, our_number, at=now, customer="+14155550122", answered=False, status="no-answer",
                          voicemail=True, recording_sid="RE" + "1" * 32, recording_duration=42,
                          recording_url=f"https://api.twilio.com/2010-04-01/Accounts/{ACME_SID}/Recordings/RE{'1' * 32}")
    response = log(agent_client, org)
    assert response.status_code == 200
    page = response.content.decode()
    assert rows(page) == [str(voicemail.pk), str(missed.pk), str(answered.pk)]  # newest first
    row = page[page.index(f'id="call-{answered.pk}"'):page.index("</tr>", page.index(f'id="call-{answered.pk}"'))]
    assert "Olga Customer" in row and CUSTOMER in row
    assert f'/o/acme/inbox/with/{answered.contact_id}/{our_number.pk}/' in row  # their conversation
    assert OUR_NUMBER in row and "Support line" in row and "Dana Agent" in row
    assert "Completed · 3:12" in row
    assert f'data-softphone-dial data-number="{CUSTOMER}" data-from="{our_number.pk}"' in row
    assert ">Call back</button>" in row
    assert "Missed" in page[page.index(f'id="call-{missed.pk}"'):]
    assert "Voicemail (0:42)" in page
    assert "Page 1 of 1 · 3 calls" in page


@pytest.mark.parametrize("wanted, expected", [
    ({}, ["voicemail", "missed", "outbound", "colleague", "answered", "old"]),
    ({"mine": "on"}, ["voicemail", "missed", "outbound", "answered", "old"]),
    ({"missed": "on"}, ["voicemail", "missed"]),
    ({"voicemail": "on"}, ["voicemail"]),
    ({"direction": "outbound"}, ["outbound"]),
    ({"number": "second"}, ["colleague"]),
    ({"date_from": "{yesterday}", "date_to": "{yesterday}"}, ["answered"]),
    ({"date_from": "{yesterday}"}, ["voicemail", "missed", "outbound", "colleague", "answered"]),
    ({"date_to": "{yesterday}"}, ["answered", "old"]),
    ({"mine": "on", "missed": "on", "number": "ours"}, ["voicemail", "missed"]),
])
def test_each_filter_shows_the_calls_it_names(agent_client, org, our_number, second_number, colleague, wanted,
                                             expected):
    now = today_anchor()
    yesterday = now - timedelta(days=1)
    calls = {
        "old": make_call(org, our_number, at=now - timedelta(days=5)),
        "answered": make_call(org, our_number, at=yesterday),
        "colleague": make_call(org, second_number, at=now - timedelta(minutes=40), agent=colleague),
        "outbound": make_call(org, our_number, at=now - timedelta(minutes=30), direction="outbound",
                              status="no-answer"),
        "missed": make_call(org, our_number, at=now - timedelta(minutes=20), answered=False, status="no-answer"),
        "voicemail": make_call(org, our_number, at=now - timedelta(minutes=10), answered=False, status="no-answer",
                               voicemail=True),
    }
    names = {str(call.pk): name for name, call in calls.items()}
    params = {key: value.format(yesterday=yesterday.date().isoformat()) for key, value in wanted.items()}
    if "number" in params:
        params["number"] = str({"ours": our_number, "second": second_number}[params["number"]].pk)
    response = log(agent_client, org, **params)
    assert response.status_code == 200
    assert [names[pk] for pk in rows(response.content.decode())] == expected


def test_the_log_reads_the_same_few_queries_for_five_rows_or_fifty(agent_client, org, our_number):
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert log(agent_client, org).status_code == 200
        return len(captured)

    for _ in range(5):
        make_call(org, our_number, answered=False, status="no-answer")
    few = queries()
    for i in range(45):
        make_call(org, our_number, customer=f"+1415555{i + 200:04d}")
    assert queries() == few


def test_mine_shows_nothing_to_someone_who_is_no_agent(owner_client, org, our_number):
    make_call(org, our_number)
    page = log(owner_client, org, mine="on").content.decode()
    assert rows(page) == [] and "No calls match." in page


def test_filters_that_make_no_sense_are_refused_in_words(agent_client, org, our_number, other_org, outsider):
    make_call(org, our_number)
    backwards = log(agent_client, org, date_from="2026-03-02", date_to="2026-03-01")
    assert backwards.status_code == 400
    assert "The first day comes after the last one." in backwards.content.decode()
    assert rows(backwards.content.decode()) == []
    bad_day = log(agent_client, org, date_from="yesterday")
    assert bad_day.status_code == 400 and "Enter the first day as YYYY-MM-DD." in bad_day.content.decode()
    theirs_number = factories.build_world(other_org, outsider)["phonenumber"]
    theirs = log(agent_client, org, number=str(theirs_number.pk))
    assert theirs.status_code == 400
    assert "Choose one of this organization&#x27;s numbers." in theirs.content.decode()


def test_the_log_pages_by_fifty_and_keeps_the_filters(agent_client, org, our_number):
    start = timezone.now() - timedelta(hours=2)
    made = [make_call(org, our_number, at=start + timedelta(minutes=i), answered=False, status="no-answer")
            for i in range(53)]
    newest_first = [str(call.pk) for call in reversed(made)]
    first = log(agent_client, org, missed="on").content.decode()
    assert rows(first) == newest_first[:50]
    assert "Page 1 of 2 · 53 calls" in first
    assert 'href="?missed=on&amp;page=2"' in first
    second = log(agent_client, org, missed="on", page=2).content.decode()
    assert rows(second) == newest_first[50:]
    assert 'href="?missed=on&amp;page=1"' in second


# The missed-call badge ------------------------------------------------------------------------------


def badge(page: str) -> str | None:
    found = re.search(r'class="missed-badge"[^>]*>([^<]*)<', page)
    return found.group(1) if found else None


def test_the_badge_counts_missed_calls_until_someone_opens_the_log(agent_client, owner_client, org, our_number):
    missed = make_call(org, our_number, answered=False, status="no-answer")
    voicemail = make_call(org, our_number, answered=False, status="no-answer", voicemail=True)
    make_call(org, our_number)  # answered
    make_call(org, our_number, direction="outbound", status="no-answer")  # ours, not missed
    make_call(org, our_number, answered=False, status="ringing")  # still ringing: not missed yet
    home = agent_client.get(f"/o/{org.slug}/").content.decode()
    assert badge(home) == "2 missed calls"
    assert f'href="/o/{org.slug}/calls/?missed=on"' in home

    page = log(owner_client, org).content.decode()  # the owner looks: for the whole team
    assert page.count('<span class="badge warn">New</span>') == 2  # the page still says which were new
    assert badge(page) is None
    with tenant_scope(org):
        assert all(c.seen_at is not None for c in Call.objects.filter(pk__in=[missed.pk, voicemail.pk]))
    assert badge(agent_client.get(f"/o/{org.slug}/").content.decode()) is None
    assert '<span class="badge warn">New</span>' not in log(agent_client, org).content.decode()

    make_call(org, our_number, answered=False, status="busy")
    assert badge(agent_client.get(f"/o/{org.slug}/").content.decode()) == "1 missed call"


def test_the_badge_counts_to_99_then_says_99_plus(agent_client, owner_client, org, our_number):
    for _ in range(99):
        make_call(org, our_number, answered=False, status="no-answer")
    assert badge(agent_client.get(f"/o/{org.slug}/").content.decode()) == "99 missed calls"
    make_call(org, our_number, answered=False, status="no-answer")
    make_call(org, our_number, answered=False, status="no-answer")
    home = agent_client.get(f"/o/{org.slug}/").content.decode()
    assert badge(home) == "99+ missed calls"
    assert '<span class="figure">99+</span> missed, not looked at yet' in owner_client.get(f"/o/{org.slug}/").content.decode()


def test_opening_a_missed_call_marks_it_seen_and_a_filtered_log_marks_only_what_it_lists(
        agent_client, org, our_number, second_number):
    first = make_call(org, our_number, answered=False, status="no-answer")
    other_line = make_call(org, second_number, answered=False, status="no-answer")
    third = make_call(org, our_number, answered=False, status="no-answer")
    assert agent_client.get(f"/o/{org.slug}/calls/{first.pk}/").status_code == 200
    assert badge(agent_client.get(f"/o/{org.slug}/").content.decode()) == "2 missed calls"
    log(agent_client, org, number=str(our_number.pk))
    with tenant_scope(org):
        seen = {c.pk: c.seen_at is not None for c in Call.objects.all()}
    assert seen == {first.pk: True, third.pk: True, other_line.pk: False}


def test_pages_outside_an_organization_have_no_badge(client, org, our_number):
    make_call(org, our_number, answered=False, status="no-answer")
    assert badge(client.get("/accounts/login/").content.decode()) is None


def test_the_badge_count_is_one_count_on_the_partial_index(org, our_number):
    from django.test.utils import CaptureQueriesContext

    from telephony import selectors

    make_call(org, our_number, answered=False, status="no-answer")
    with tenant_scope(org):
        # The organization's other calls, all answered: with them, reading every call of the
        # organization costs more than the partial index (with one row the two plans tie, and the
        # planner may take either).
        now = timezone.now()
        Call.objects.bulk_create([
            Call(organization=org, phone_number=our_number, direction="inbound", from_number=CUSTOMER,
                 to_number=our_number.phone_number, provider_sid="CA" + uuid.uuid4().hex, status="completed",
                 started_at=now, answered_at=now, ended_at=now) for _ in range(300)])
        with CaptureQueriesContext(connection) as counted:
            assert selectors.missed_calls_unseen_count(organization=org) == 1
        [count_sql] = [q["sql"] for q in counted.captured_queries if "COUNT" in q["sql"]]
        with connection.cursor() as cursor:  # the badge's own query, as PostgreSQL would run it on a big table
            cursor.execute("analyze telephony_call")
            cursor.execute("set local enable_seqscan = off")
            cursor.execute("explain " + count_sql)
            plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "call_unseen_missed_idx" in plan, plan


# One call's page ------------------------------------------------------------------------------------


def test_a_calls_page_shows_everything_about_it(agent_client, org, our_number, agent, colleague):
    at = timezone.now() - timedelta(minutes=5)
    call = make_call(org, our_number, at=at, name="Olga Customer", duration=95, transferred_by=agent,
                     transferred_to=colleague, recording_sid="RE" + "2" * 32, recording_duration=95,
                     recording_url=f"https://api.twilio.com/2010-04-01/Accounts/{ACME_SID}/Recordings/RE{'2' * 32}",
                     notes="Wants a refund")
    page = agent_client.get(f"/o/{org.slug}/calls/{call.pk}/").content.decode()
    assert "Incoming call from Olga Customer" in page
    assert "Completed · 1:35" in page
    for text in (CUSTOMER, OUR_NUMBER, "Support line", "Dana Agent", "by Dana Agent to Bob Colleague",
                 call.provider_sid, "Wants a refund"):
        assert text in page, text
    assert f'<audio controls preload="none" class="call-audio" src="/o/{org.slug}/calls/{call.pk}/recording/">' in page
    assert "api.twilio.com" not in page  # the browser never learns where the audio really is
    assert f'data-softphone-dial data-number="{CUSTOMER}" data-from="{our_number.pk}"' in page
    assert f'/o/acme/inbox/with/{call.contact_id}/{our_number.pk}/' in page


def test_an_ai_calls_page_shows_its_summary_and_transcript(agent_client, org, our_number):
    bot = factories.make_agent(org, name="Night bot", kind="ai", assistant_id="5f0c6a52-7d7c-4b8e-9d3a-2f1e8c9b0a11")
    call = make_call(org, our_number, agent=bot, provider=Provider.VAPI, summary="Asked about order 1042.",
                     transcript="AI: Hello!\nUser: Where is my order 1042?", cost="0.1234",
                     ended_reason="customer-ended-call")
    page = agent_client.get(f"/o/{org.slug}/calls/{call.pk}/").content.decode()
    assert "Night bot" in page and '<span class="badge">AI</span>' in page
    assert "Asked about order 1042." in page
    assert "User: Where is my order 1042?" in page
    assert "customer-ended-call" in page and "0.1234" in page
    assert "This call was not recorded." in page


def test_notes_are_saved_audited_and_shown(agent_client, agent_user, org, our_number):
    call = make_call(org, our_number)
    response = agent_client.post(f"/o/{org.slug}/calls/{call.pk}/notes/", {"notes": "  Called back: refunded  "})
    assert response.status_code == 302 and response["Location"] == f"/o/{org.slug}/calls/{call.pk}/"
    with tenant_scope(org):
        call.refresh_from_db()
        [event] = AuditEvent.objects.filter(verb="call.notes_updated", target_id=call.pk)
    assert call.notes == "Called back: refunded"
    assert event.actor == agent_user
    page = agent_client.get(response["Location"]).content.decode()
    assert "Called back: refunded" in page and "Notes saved." in page

    too_long = agent_client.post(f"/o/{org.slug}/calls/{call.pk}/notes/", {"notes": "x" * 10_001})
    assert too_long.status_code == 400
    assert "at most 10000 characters" in too_long.content.decode()
    with tenant_scope(org):
        call.refresh_from_db()
    assert call.notes == "Called back: refunded"


def test_another_organizations_calls_are_not_found(outsider_client, org, other_org, our_number):
    call = make_call(org, our_number)
    for path in (f"/o/{org.slug}/calls/{call.pk}/", f"/o/{other_org.slug}/calls/{call.pk}/",
                 f"/o/{other_org.slug}/calls/{call.pk}/recording/"):
        assert outsider_client.get(path).status_code == 404
    assert outsider_client.post(f"/o/{other_org.slug}/calls/{call.pk}/notes/", {"notes": "pwned"}).status_code == 404
    assert rows(log(outsider_client, other_org).content.decode()) == []
    with tenant_scope(org):
        call.refresh_from_db()
    assert call.notes == ""


def test_a_log_longer_than_it_counts_still_pages_to_its_end(agent_client, org, our_number, monkeypatch):
    """Past LOG_COUNTED_UP_TO the log stops counting: the pager says "N+ calls", and Next leads on
    until the last call."""
    from telephony import views_calls

    monkeypatch.setattr(views_calls, "LOG_COUNTED_UP_TO", 60)
    start = timezone.now() - timedelta(hours=2)
    made = [make_call(org, our_number, at=start + timedelta(minutes=i), customer=f"+1415555{3000 + i:04d}")
            for i in range(101)]
    newest_first = [str(call.pk) for call in reversed(made)]
    first = log(agent_client, org).content.decode()
    assert rows(first) == newest_first[:50]
    assert "Page 1 · 60+ calls" in first
    assert 'href="?page=2">Next</a>' in first
    third = log(agent_client, org, page=3).content.decode()
    assert rows(third) == newest_first[100:]
    assert "Page 3 · 60+ calls" in third
    assert ">Next</a>" not in third and 'href="?page=2">Previous</a>' in third
