"""The inbound voice webhook's one round trip (telephony/sql/voice.sql, calls.call_inbound_start),
called as the application role that row-level security binds, outside any transaction as the
webhook calls it; and the worker that brings the calls it stores into their conversations."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone

import telephony
from core.group_commit import GroupCommit, _Waiting
from core.ids import uuid7
from crm import merges
from crm.models import Contact
from messaging.models import Conversation
from messaging.services import calls as conversation_calls
from messaging.services.outbound import messages_sweep
from softphone.simulator import twilio_webhooks as tw
from telephony.lines import Line, fresh_line
from telephony.models import Call, CallDrain, NumberStatus, PhoneNumber, Provider, ProviderAccount
from telephony.services import accounts, calls
from telephony.signals import calls_waiting
from tenants.scoping import tenant_scope
from tests.messaging.conftest import wait_for
from tests.sql_files import assert_database_runs, assert_newest_loader_matches
from tests.vendor_fixtures import ACME_SID, ACME_TOKEN, GLOBEX_SID

SQL_FILE = Path(telephony.__file__).parent / "sql" / "voice.sql"
OUR_NUMBER = "+14155550142"
CUSTOMER = "+14155550199"

committed = pytest.mark.django_db(transaction=True)


def test_a_change_to_the_file_comes_with_a_migration_that_loads_it():
    assert_newest_loader_matches("telephony", SQL_FILE)  # see 0007_voice_sql


@pytest.mark.django_db
def test_the_database_runs_what_the_file_says():
    assert_database_runs(SQL_FILE, ["telephony_call_drain_claim", "telephony_inbound_call_insert",
                                    "telephony_inbound_calls_start"])


@pytest.fixture
def asked():
    """The organizations a worker was asked for (calls_waiting), with messaging's receiver, which
    would show the calls at once in these tests (tasks run inline), held back."""
    seen = []

    def receiver(sender, *, organization_id, **kwargs):
        seen.append(organization_id)

    calls_waiting.disconnect(dispatch_uid="messaging.calls_waiting_in_conversation")
    calls_waiting.connect(receiver, dispatch_uid="test.asked", weak=False)
    yield seen
    calls_waiting.disconnect(dispatch_uid="test.asked")
    calls_waiting.connect(conversation_calls.calls_waiting_in_conversation,
                          dispatch_uid="messaging.calls_waiting_in_conversation")


def line_of(org, number, account_sid: str = ACME_SID) -> Line:
    """The line the webhook would have for `number` (read now), claimed by `org`."""
    real = fresh_line(Provider.TWILIO, account_sid, (number.phone_number,))
    return Line(organization=org, number_id=number.pk, auth_token=real.auth_token, token_digest=real.token_digest)


def start(org, number, sid: str, caller: str = CUSTOMER, account_sid: str = ACME_SID):
    assert not connection.in_atomic_block  # the webhook's own path: the procedure commits
    return calls.call_inbound_start(line=line_of(org, number, account_sid), call_sid=sid, caller=caller)


def rows(org):
    with tenant_scope(org):
        return list(Call.objects.select_related("contact").order_by("created_at"))


def session_tenant() -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("select current_setting('app.organization_id', true), current_setting('app.bypass_rls', true)")
        return cursor.fetchone()


@committed
def test_a_new_call_is_stored_with_its_caller_and_asks_for_a_worker_once(org, our_number, agent, asked):
    call = start(org, our_number, "CA" + "1" * 32, caller="+1 (415) 555-0199")

    assert call.created and call.status == "ringing" and not call.ended
    assert (call.contact_number, call.contact_name, call.caller) == (CUSTOMER, CUSTOMER, "+1 (415) 555-0199")
    assert (call.agent_id, call.agent_kind, call.agent_availability) == (agent.pk, "human", "available")
    assert (call.number_e164, call.number_label, call.ring_timeout) == (OUR_NUMBER, "Support line", 20)
    assert (call.organization_name, call.organization_slug) == ("Acme", "acme")
    [row] = rows(org)
    assert row.pk == call.call_id and row.contact_id == call.contact_id
    assert (row.direction, row.status, row.provider, row.provider_sid, row.from_number, row.to_number) == (
        "inbound", "ringing", "twilio", "CA" + "1" * 32, "+1 (415) 555-0199", OUR_NUMBER)
    assert (row.agent_id, row.phone_number_id, row.conversation_pending) == (agent.pk, our_number.pk, True)
    assert row.started_at is not None and row.answered_at is None and row.last_sequence == -1
    assert row.contact.phone_number == CUSTOMER and row.contact.address_kind == "phone"
    assert asked == [org.pk]
    assert session_tenant() == ("", "off")  # the session is left as the code around it expects


@committed
def test_a_retried_webhook_finds_its_call_and_stores_nothing(org, our_number, agent, asked):
    first = start(org, our_number, "CA" + "2" * 32)
    again = start(org, our_number, "CA" + "2" * 32)

    assert not again.created and again.call_id == first.call_id and again.contact_id == first.contact_id
    assert len(rows(org)) == 1
    with tenant_scope(org):
        assert Contact.objects.count() == 1
    assert asked == [org.pk]  # a retry asks for nothing


@committed
def test_calls_arriving_while_a_worker_is_asked_for_ask_for_nothing_more(org, our_number, agent, asked):
    for i in range(5):
        start(org, our_number, f"CA{i:032d}", caller=f"+1415555{i:04d}")
    assert asked == [org.pk]
    with tenant_scope(org):
        calls.call_drain_spent(organization=org)  # the worker's last look began
    start(org, our_number, "CA" + "9" * 32)
    assert asked == [org.pk, org.pk]
    assert len(rows(org)) == 6


@committed
@pytest.mark.parametrize("caller", ["anonymous", "RESTRICTED", "Unavailable", "+266696687", ""])
def test_a_withheld_caller_has_no_contact(org, our_number, agent, asked, caller):
    """Every withheld caller is someone else: none becomes a contact (they would all share one
    conversation)."""
    call = start(org, our_number, "CA" + "3" * 32, caller=caller)

    assert call.created and call.contact_id is None and call.contact_name == "" and call.caller == caller
    [row] = rows(org)
    assert row.contact_id is None and row.from_number == caller
    with tenant_scope(org):
        assert not Contact.objects.exists()


@committed
def test_a_known_caller_is_named(org, our_number, agent, asked):
    with tenant_scope(org):
        known = Contact.objects.create(organization=org, phone_number=CUSTOMER, name="Ann Customer")
    call = start(org, our_number, "CA" + "4" * 32)

    assert (call.contact_id, call.contact_name) == (known.pk, "Ann Customer")
    with tenant_scope(org):
        assert Contact.objects.count() == 1


@committed
def test_another_tenants_call_sid_is_neither_read_nor_changed(org, our_number, agent, other_org, globex_number, asked):
    theirs = start(other_org, globex_number, "CA" + "5" * 32, caller="+14155550301", account_sid=GLOBEX_SID)

    assert start(org, our_number, "CA" + "5" * 32) is None  # row-level security hides Globex's call
    assert rows(org) == []
    [row] = rows(other_org)
    assert (row.pk, row.from_number, row.to_number) == (theirs.call_id, "+14155550301", "+14155550300")


@committed
def test_a_number_of_another_tenant_or_released_stores_nothing(org, our_number, agent, other_org, globex_number,
                                                                 asked):
    assert start(org, globex_number, "CA" + "6" * 32, account_sid=GLOBEX_SID) is None  # Acme cannot see it
    cached = line_of(org, our_number)  # read before the number was released
    with tenant_scope(org):
        PhoneNumber.objects.filter(pk=our_number.pk).update(status=NumberStatus.INACTIVE)
    assert calls.call_inbound_start(line=cached, call_sid="CA" + "7" * 32, caller=CUSTOMER) is None
    assert rows(org) == [] and rows(other_org) == []
    assert asked == []


@committed
def test_a_line_read_before_the_token_changed_stores_nothing(org, our_number, agent, twilio_account, asked):
    """The webhook may verify with a cached token: its write confirms the token is still the stored one."""
    old = line_of(org, our_number)
    with tenant_scope(org):
        ProviderAccount.objects.filter(pk=twilio_account.pk).update(auth_token="a-new-token")  # by hand: no stamp
    assert calls.call_inbound_start(line=old, call_sid="CA" + "d" * 32, caller=CUSTOMER) is None
    assert rows(org) == [] and asked == []
    with tenant_scope(org):
        assert not Contact.objects.exists()
    assert start(org, our_number, "CA" + "d" * 32).created  # read again: the new token's line


@committed
def test_the_caller_s_own_tenant_setting_survives(org, our_number, agent, other_org, asked):
    with tenant_scope(other_org):
        before = session_tenant()
        start(org, our_number, "CA" + "8" * 32)
        assert session_tenant() == before == (str(other_org.pk), "off")


def arguments(org, number, sid: str, caller: str, account_sid: str = ACME_SID) -> tuple:
    """One call as the webhook hands it to the group commit (calls.call_inbound_start)."""
    line = line_of(org, number, account_sid)
    return (org.pk, uuid7(), number.pk, line.token_digest, sid, caller, uuid7(), caller, "phone")


@committed
def test_calls_stored_together_each_get_their_own_answer(org, our_number, agent, other_org, globex_number, asked):
    """One round trip for calls of two organizations, one of them Twilio's retry of another in the
    same batch: each is stored once, as its own organization, and each organization asks once."""
    results = calls._calls_store([
        arguments(org, our_number, "CA" + "1" * 32, "+14155550001"),
        arguments(other_org, globex_number, "CA" + "2" * 32, "+14155550002", GLOBEX_SID),
        arguments(org, our_number, "CA" + "1" * 32, "+14155550001"),
        arguments(org, our_number, "CA" + "3" * 32, "+14155550003"),
    ])
    rows_back = [row for row, _ in results]
    assert [row["created"] for row in rows_back] == [True, True, False, True]
    assert rows_back[2]["call_id"] == rows_back[0]["call_id"]
    assert [claimed for _, claimed in results] == [True, True, False, False]
    assert sorted(r.provider_sid for r in rows(org)) == ["CA" + "1" * 32, "CA" + "3" * 32]
    assert [r.provider_sid for r in rows(other_org)] == ["CA" + "2" * 32]


@committed
def test_a_call_that_cannot_be_stored_fails_alone_in_its_batch(org, our_number, agent, asked):
    """A batch that fails is stored again call by call: the bad call gets its own error, the others
    are stored once."""
    commit = GroupCommit(calls._calls_store)
    batch = [_Waiting(arguments(org, our_number, "CA" + "4" * 32, "+14155550004")),
             _Waiting(arguments(org, our_number, "CA" + "5" * 32, "+1" + "5" * 70)),  # longer than any number
             _Waiting(arguments(org, our_number, "CA" + "6" * 32, "+14155550006"))]
    commit._write(batch)

    assert [w.error is None for w in batch] == [True, False, True]
    assert "value too long" in str(batch[1].error)
    assert [w.outcome[0]["created"] for w in (batch[0], batch[2])] == [True, True]
    assert sorted(r.provider_sid for r in rows(org)) == ["CA" + "4" * 32, "CA" + "6" * 32]


# The worker's side: every pending call shown, one failing alone, the sweep for a lost task -----------


@committed
def test_the_worker_shows_every_pending_call_in_its_conversation(org, our_number, agent, asked):
    for i in range(3):
        start(org, our_number, f"CA{i + 100:032d}", caller=f"+1415555{i:04d}")
    start(org, our_number, "CA" + "a" * 32, caller="anonymous")

    with tenant_scope(org):
        shown = conversation_calls.calls_in_conversations(organization=org)
        assert shown == 4
        assert not Call.objects.filter(conversation_pending=True).exists()
        conversations = Conversation.objects.select_related("contact").order_by("contact__phone_number")
        assert [(c.contact.phone_number, c.last_message_preview, c.phone_number_id) for c in conversations] == [
            (f"+1415555{i:04d}", "Incoming call", our_number.pk) for i in range(3)]
        assert CallDrain.objects.get().requested_until < timezone.now()  # the next call asks again
    start(org, our_number, "CA" + "b" * 32, caller="+14155550007")
    assert asked == [org.pk, org.pk]


@committed
def test_a_call_whose_conversation_fails_fails_alone(org, our_number, agent, asked, monkeypatch, caplog):
    ids = [start(org, our_number, f"CA{i + 200:032d}", caller=f"+1415555{i:04d}").call_id for i in range(3)]
    real = conversation_calls.conversation_take_call

    def take(*, call):
        if call.pk == ids[1]:
            raise ValueError("the conversation could not be written")
        return real(call=call)

    monkeypatch.setattr(conversation_calls, "conversation_take_call", take)
    with tenant_scope(org):
        assert conversation_calls.calls_in_conversations(organization=org) == 3
        assert not Call.objects.filter(conversation_pending=True).exists()
        assert sorted(Conversation.objects.values_list("contact__phone_number", flat=True)) == [
            "+14155550000", "+14155550002"]
    assert f"call {ids[1]} could not be shown in its conversation" in caplog.text


@committed
def test_the_sweep_shows_calls_whose_worker_never_came(org, our_number, agent, asked):
    call = start(org, our_number, "CA" + "c" * 32)  # asked for a worker that never runs (a lost task)
    with tenant_scope(org):
        Call.objects.filter(pk=call.call_id).update(
            created_at=timezone.now() - timedelta(seconds=settings.MESSAGE_SWEEP_AFTER_SECONDS + 1))
        assert messages_sweep(organization=org)["calls_shown"] == 1
        assert Conversation.objects.get().last_message_preview == "Incoming call"
        assert messages_sweep(organization=org)["calls_shown"] == 0


# Through the webhook, outside any transaction, with real workers --------------------------------------


def post_call(params: dict, token: str = ACME_TOKEN):
    url = settings.PUBLIC_BASE_URL + "/webhooks/twilio/voice/inbound/"
    return Client().post("/webhooks/twilio/voice/inbound/", params,
                         HTTP_X_TWILIO_SIGNATURE=tw.signature(url, params, token))


@pytest.mark.worker
def test_a_burst_of_calls_reaches_the_inbox_through_a_real_worker(org, our_number, agent, live_worker):
    """Thirty customers call at the same moment: each webhook answers with TwiML, and a real worker
    brings every call into its customer's conversation within seconds, asked for by a few of them."""
    callers = [f"+1415556{i:04d}" for i in range(30)]
    answers = [None] * len(callers)

    def call(i):
        try:
            answers[i] = post_call(tw.incoming_call(account_sid=ACME_SID, to=OUR_NUMBER, from_=callers[i]))
        finally:
            connection.close()  # each thread's own connection

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(callers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [200] * len(callers)
    assert all(b"<Record" in a.content for a in answers)  # nobody's softphone is online: voicemail

    def shown():
        with tenant_scope(org):
            return sorted(Conversation.objects.filter(last_message_preview="Incoming call")
                          .values_list("contact__phone_number", flat=True))

    wait_for(lambda: shown() == callers, 20, "every call in its conversation")
    with tenant_scope(org):
        assert Call.objects.count() == len(callers)
        assert not Call.objects.filter(conversation_pending=True).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("field, value, status", [
    ("From", "+1415\x00555", 200),  # a NUL in what the caller sent is dropped, the call is still taken
    ("To", OUR_NUMBER + "\x00", 404),  # no number of ours has one
    ("CallSid", "CA\x00" + "1" * 30, 400),
    ("CallSid", "CA" + "1" * 100, 400),
    ("AccountSid", "AC\x00", 404),
])
def test_hostile_parameters_get_a_clear_answer(org, our_number, agent, field, value, status):
    params = {**tw.incoming_call(account_sid=ACME_SID, to=OUR_NUMBER, from_=CUSTOMER), field: value}
    response = post_call(params)
    assert response.status_code == status, response.content
    if status != 200:
        assert rows(org) == []
    else:
        [row] = rows(org)
        assert row.from_number == "+1415555"


@committed
def test_a_rotated_token_is_refused_at_once_even_from_a_warm_cache(org, owner, our_number, agent, twilio,
                                                                   twilio_account):
    def call_signed_with(token: str, sid: str):
        return post_call(tw.incoming_call(account_sid=ACME_SID, to=OUR_NUMBER, from_=CUSTOMER, call_sid=sid), token)

    assert call_signed_with(ACME_TOKEN, "CA" + "e" * 32).status_code == 200  # the line is cached now
    twilio.add_account(ACME_SID, "the-rotated-token", friendly_name="Acme Twilio")
    with tenant_scope(org):
        accounts.provider_account_update(organization=org, actor=owner, account=twilio_account,
                                         auth_token="the-rotated-token")
    assert call_signed_with(ACME_TOKEN, "CA" + "f" * 32).status_code == 403
    assert call_signed_with("the-rotated-token", "CA" + "0" * 31 + "1").status_code == 200
    # Changed by hand in the database (no stamp moves): the call's own write notices.
    with tenant_scope(org):
        ProviderAccount.objects.filter(pk=twilio_account.pk).update(auth_token="changed-by-hand")
    assert call_signed_with("the-rotated-token", "CA" + "0" * 31 + "2").status_code == 403
    assert call_signed_with("changed-by-hand", "CA" + "0" * 31 + "3").status_code == 200
    assert sorted(row.provider_sid for row in rows(org)) == [
        "CA" + "0" * 31 + "1", "CA" + "0" * 31 + "3", "CA" + "e" * 32]


@pytest.mark.django_db
def test_a_body_that_is_not_a_form_is_refused(org, our_number):
    response = Client().post("/webhooks/twilio/voice/inbound/", b"\xff\xfe",
                             content_type="application/x-www-form-urlencoded", HTTP_X_TWILIO_SIGNATURE="x")
    assert response.status_code == 400 and b"not a form" in response.content



@committed
def test_a_caller_whose_number_was_merged_reaches_the_contact_it_was_merged_into(org, owner, our_number, agent,
                                                                                 asked):
    with tenant_scope(org):
        maria = Contact.objects.create(organization=org, phone_number="+14155550177", name="Maria")
        second_phone = Contact.objects.create(organization=org, phone_number=CUSTOMER)
        merges.contact_merge(organization=org, actor=owner, survivor=maria, duplicate=second_phone)

    call = start(org, our_number, "CA" + "5" * 32, caller=CUSTOMER)

    assert (call.contact_id, call.contact_name, call.contact_number) == (maria.pk, "Maria", "+14155550177")
    [row] = rows(org)
    assert row.contact_id == maria.pk and row.from_number == CUSTOMER
    with tenant_scope(org):
        assert list(Contact.objects.values_list("phone_number", flat=True)) == ["+14155550177"]
