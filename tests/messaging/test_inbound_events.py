"""Inbound events that fail processing: odd senders are kept, a bad event is retried with backoff
and then set aside as failed, and it never holds up the events after it."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import OperationalError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm import services as crm_services
from crm.models import Contact
from messaging.models import Conversation, Direction, InboundDrain, InboundEvent, Message
from messaging.services import conversations, events, live
from softphone.simulator import twilio_webhooks
from tenants.models import AuditEvent
from tenants.scoping import tenant_scope
from tests.messaging.conftest import CUSTOMER, OUR_NUMBER, TwilioPoster, wait_for
from tests.vendor_fixtures import ACME_SID, ACME_TOKEN

MISSING_FIELD = "ValidationError: The sender's address is missing."


def bodies(org) -> list[str]:
    with tenant_scope(org):
        return list(Message.objects.filter(direction=Direction.INBOUND).order_by("created_at")
                    .values_list("body", flat=True))


def event(org, sid) -> InboundEvent:
    with tenant_scope(org):
        return InboundEvent.objects.get(provider_sid=sid)


def post_without_sender(poster: TwilioPoster, body: str) -> str:
    """A payload missing a field: Twilio's form without `From`, signed as Twilio signs."""
    params = twilio_webhooks.inbound_message(account_sid=ACME_SID, to=OUR_NUMBER, from_=CUSTOMER, body=body)
    del params["From"]
    assert poster.post("/webhooks/twilio/messages/", params, token=ACME_TOKEN).status_code == 200
    return params["MessageSid"]


def post_overlong_whatsapp_id(poster: TwilioPoster, body: str) -> str:
    """A WhatsApp id longer than the contact's column: PostgreSQL refuses the row (a DataError in the
    middle of processing, after the contact lookup ran)."""
    params = twilio_webhooks.inbound_message(account_sid=ACME_SID, to=OUR_NUMBER, from_="+14155550177", body=body,
                                             whatsapp=True)
    params["WaId"] = "9" * 40
    assert poster.post("/webhooks/twilio/messages/", params, token=ACME_TOKEN).status_code == 200
    return params["MessageSid"]


def store_unreadable_payload(org, our_number, sid: str) -> str:
    """An event whose payload is not a form at all: processing raises an AttributeError."""
    events.inbound_event_store(organization=org, provider="twilio", provider_sid=sid, payload=["not", "a", "form"],
                               phone_number_id=our_number.pk)
    return sid


# Odd senders ---------------------------------------------------------------------------------------


ODD_SENDERS = [("12345", "short_code", "Short code"), ("ACMEBANK", "alphanumeric", "Alphanumeric sender"),
               ("+15555550123", "unrecognised", "Unrecognised number")]


@pytest.mark.django_db
@pytest.mark.parametrize("sender, kind, label", ODD_SENDERS, ids=[s[1] for s in ODD_SENDERS])
def test_odd_senders_are_kept_as_given_and_shown_as_such(org, our_number, twilio_posts, agent_client, sender, kind,
                                                         label):
    response, params = twilio_posts.inbound(ACME_TOKEN, from_=sender, body="Your code is 481516")
    assert response.status_code == 200
    assert bodies(org) == ["Your code is 481516"]
    with tenant_scope(org):
        contact = Contact.objects.get()
        conversation = Conversation.objects.get()
    assert (contact.phone_number, contact.address_kind) == (sender, kind)
    assert event(org, params["MessageSid"]).state == "processed"

    page = agent_client.get(f"/o/{org.slug}/inbox/?view=all&c={conversation.pk}").content.decode()
    assert f'<span class="row-name">{sender}</span>' in page  # the list row
    assert f'<span class="chip address-kind">{label}</span>' in page
    assert f'{sender} <span class="badge warn address-kind">{label}</span>' in page  # the thread's head
    assert f"<dt>{label}</dt><dd>{sender}" in page  # the contact card


@pytest.mark.django_db
def test_the_same_odd_sender_is_one_contact_and_one_conversation(org, our_number, twilio_posts):
    twilio_posts.inbound(ACME_TOKEN, from_="ACMEBANK", body="one")
    twilio_posts.inbound(ACME_TOKEN, from_="ACMEBANK", body="two")
    with tenant_scope(org):
        assert list(Contact.objects.values_list("phone_number", flat=True)) == ["ACMEBANK"]
        assert Conversation.objects.get().unread_count == 2


@pytest.mark.django_db
@pytest.mark.parametrize("sender, reason", [
    ("12345", "12345 is a short code: it can send messages but cannot receive them, so no reply can be sent."),
    ("ACMEBANK", "ACMEBANK is an alphanumeric sender: it can send messages but cannot receive them, so no reply "
                 "can be sent."),
])
def test_replies_to_short_codes_and_alphanumeric_senders_are_refused_with_the_reason(
        org, our_number, twilio, twilio_posts, agent_client, owner, sender, reason):
    from rest_framework.authtoken.models import Token

    twilio_posts.inbound(ACME_TOKEN, from_=sender, body="hello")
    with tenant_scope(org):
        conversation = Conversation.objects.get()
    page = agent_client.get(f"/o/{org.slug}/inbox/?view=all&c={conversation.pk}").content.decode()
    assert f'<div id="verdict" class="verdict refused" role="status">{reason}</div>' in page  # the composer says so

    composer = agent_client.post(f"/o/{org.slug}/inbox/c/{conversation.pk}/send/", {"body": "Hi"},
                                 HTTP_HX_REQUEST="true")
    assert composer.status_code == 400 and reason in composer.content.decode()
    token = Token.objects.create(user=owner)
    api = TwilioPoster().client.post(f"/api/{org.slug}/conversations/{conversation.pk}/messages", {"body": "Hi"},
                                     content_type="application/json", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api.status_code == 400 and reason in api.content.decode()
    with tenant_scope(org):
        assert not Message.objects.filter(direction=Direction.OUTBOUND).exists()
    assert twilio.messages(ACME_SID) == []


@pytest.mark.django_db
def test_a_number_libphonenumber_rejects_can_still_be_answered(org, our_number, twilio, twilio_posts, agent_client,
                                                                django_capture_on_commit_callbacks):
    """Its range may be new; the provider, not us, says whether it takes messages."""
    twilio_posts.inbound(ACME_TOKEN, from_="+15555550123", body="hello")
    with tenant_scope(org):
        conversation = Conversation.objects.get()
    page = agent_client.get(f"/o/{org.slug}/inbox/?view=all&c={conversation.pk}").content.decode()
    assert '<div id="verdict" class="verdict" role="status"></div>' in page
    with django_capture_on_commit_callbacks(execute=True):
        sent = agent_client.post(f"/o/{org.slug}/inbox/c/{conversation.pk}/send/", {"body": "Hi"},
                                 HTTP_HX_REQUEST="true")
    assert sent.status_code == 201
    assert [(m["to"], m["body"]) for m in twilio.messages(ACME_SID)] == [("+15555550123", "Hi")]


# Poison events -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_poison_events_among_good_ones_never_block_the_rest(org, our_number, twilio_posts):
    """Good messages, odd senders and three kinds of bad events, in turn: each good one is processed
    as it arrives, in order, while each bad one waits for its retry."""
    twilio_posts.inbound(ACME_TOKEN, body="one")
    missing = post_without_sender(twilio_posts, "no sender")
    twilio_posts.inbound(ACME_TOKEN, from_="12345", body="from a short code")
    twilio_posts.inbound(ACME_TOKEN, body="two")
    overlong = post_overlong_whatsapp_id(twilio_posts, "overlong id")
    twilio_posts.inbound(ACME_TOKEN, from_="ACMEBANK", body="from a bank")
    with twilio_posts.capture(execute=True):
        unreadable = store_unreadable_payload(org, our_number, "SMunreadable")
    twilio_posts.inbound(ACME_TOKEN, from_="+15555550123", body="from a +1 555 number")
    twilio_posts.inbound(ACME_TOKEN, body="three")

    assert bodies(org) == ["one", "from a short code", "two", "from a bank", "from a +1 555 number", "three"]
    for sid, error in [(missing, MISSING_FIELD), (overlong, "DataError: value too long"),
                       (unreadable, "AttributeError: 'list' object has no attribute 'get'")]:
        bad = event(org, sid)
        assert (bad.state, bad.attempts, bad.failed_at, bad.processed_at) == ("retrying", 1, None, None)
        assert bad.last_error.startswith(error)
        assert bad.next_attempt_at > timezone.now()  # its backoff, which nobody after it waited for


@pytest.mark.django_db
def test_a_failing_event_is_retried_with_backoff_then_set_aside_with_its_error(org, our_number, twilio_posts,
                                                                                settings):
    settings.INBOUND_EVENT_ATTEMPTS = 3
    settings.INBOUND_EVENT_RETRY_SECONDS = 10
    sid = post_without_sender(twilio_posts, "no sender")

    def run_drain():
        with tenant_scope(org):
            before = timezone.now()
            events.inbound_events_drain(organization=org)
            return before, event(org, sid)

    with tenant_scope(org):
        first = InboundEvent.objects.get(provider_sid=sid)
        assert (first.attempts, first.last_error) == (1, MISSING_FIELD)
        assert 9.9 < (first.next_attempt_at - first.received_at).total_seconds() < 11
        # The drain task queued a delayed drain for when the retry is due: once, however often it asks.
        assert InboundDrain.objects.get().retry_at == first.next_attempt_at
        assert events.inbound_events_retry_wait(organization=org) is None
        InboundDrain.objects.update(retry_at=timezone.now() - timedelta(seconds=1))  # that drain was lost
        assert 9 < events.inbound_events_retry_wait(organization=org) <= 10.1
        assert not events.inbound_events_unprocessed(organization=org, older_than=timedelta(0)).exists()

    _, again = run_drain()  # not due yet: untouched
    assert (again.attempts, again.next_attempt_at) == (1, first.next_attempt_at)

    waits = []
    for attempts in (2, 3):
        with tenant_scope(org):
            InboundEvent.objects.filter(provider_sid=sid).update(next_attempt_at=timezone.now())  # the wait is over
        before, after = run_drain()
        assert after.attempts == attempts
        assert after.last_error == MISSING_FIELD
        if after.next_attempt_at:
            waits.append((after.next_attempt_at - before).total_seconds())
    assert 20 <= waits[0] < 21  # twice the first wait
    assert len(waits) == 1  # the third failure set it aside
    assert (after.state, after.next_attempt_at, after.processed_at) == ("failed", None, None)
    assert after.failed_at is not None

    run_drain()
    assert event(org, sid).attempts == 3  # set aside: no drain touches it again
    with tenant_scope(org):
        assert events.inbound_events_retry_wait(organization=org) is None
    assert bodies(org) == []


def _posted_while_the_database_restarts(twilio_posts, monkeypatch, *, body: str) -> dict:
    """A message whose processing fails once (the database restarting under the worker); the
    webhook has stored it. Returns the posted parameters."""
    real = events.messages_receive

    def restarting(**kwargs):
        raise OperationalError("the database system is shutting down")

    monkeypatch.setattr(events, "messages_receive", restarting)
    _, params = twilio_posts.inbound(ACME_TOKEN, body=body)
    monkeypatch.setattr(events, "messages_receive", real)
    return params


@pytest.mark.django_db
def test_an_event_that_fails_once_is_processed_when_its_retry_comes(org, our_number, twilio_posts, monkeypatch):
    """A transient failure (here the database restarting under the worker): the event is kept and
    processed on its next attempt, after the events that came in meanwhile."""
    params = _posted_while_the_database_restarts(twilio_posts, monkeypatch, body="during the restart")
    twilio_posts.inbound(ACME_TOKEN, body="after the restart")
    assert bodies(org) == ["after the restart"]
    assert event(org, params["MessageSid"]).last_error == "OperationalError: the database system is shutting down"

    with tenant_scope(org):
        InboundEvent.objects.filter(provider_sid=params["MessageSid"]).update(next_attempt_at=timezone.now())
        assert events.inbound_events_drain(organization=org) == 1
    assert bodies(org) == ["after the restart", "during the restart"]
    assert event(org, params["MessageSid"]).state == "processed"



@pytest.mark.django_db
def test_the_sweeper_retries_due_events_whose_drain_was_lost_and_leaves_failed_ones_alone(org, our_number,
                                                                                        twilio_posts, monkeypatch):
    from messaging.services import outbound

    _posted_while_the_database_restarts(twilio_posts, monkeypatch, body="its delayed drain was lost")
    missing = post_without_sender(twilio_posts, "no sender")
    long_ago = timezone.now() - timedelta(minutes=5)
    with tenant_scope(org):
        InboundEvent.objects.update(received_at=long_ago, next_attempt_at=timezone.now() - timedelta(seconds=1))
        InboundEvent.objects.filter(provider_sid=missing).update(failed_at=timezone.now(), next_attempt_at=None)
        assert outbound.messages_sweep(organization=org)["events_requeued"] == 1
    assert bodies(org) == ["its delayed drain was lost"]
    assert (event(org, missing).state, event(org, missing).attempts) == ("failed", 1)

# Batches -------------------------------------------------------------------------------------------

OTHER = "+14155550123"


def sms(body: str, from_: str = CUSTOMER, **kwargs) -> dict:
    return twilio_webhooks.inbound_message(account_sid=ACME_SID, to=OUR_NUMBER, from_=from_, body=body, **kwargs)


def store_undrained(org, our_number, messages: list) -> list[str]:
    """Events stored as the webhook stores them and not yet drained (inside the test's transaction,
    the drain asked for after commit never runs), received a millisecond apart in this order.
    A message may be a payload of its own (not a form)."""
    sids = []
    for index, params in enumerate(messages):
        sid = params["MessageSid"] if isinstance(params, dict) else f"SModd{index}"
        events.inbound_event_store(organization=org, provider="twilio", provider_sid=sid, payload=params,
                                   phone_number_id=our_number.pk)
        sids.append(sid)
    start = timezone.now()
    with tenant_scope(org):
        for index, sid in enumerate(sids):
            InboundEvent.objects.filter(provider_sid=sid).update(received_at=start + timedelta(milliseconds=index))
    return sids


def drain(org, **kwargs) -> int:
    with tenant_scope(org):
        return events.inbound_events_drain(organization=org, **kwargs)


def counters(org, audiences: list[str]) -> list[int]:
    return [int(value) for value in live.version_for(org.pk, audiences).split(".")]


@pytest.mark.django_db
def test_a_drain_costs_the_same_queries_for_ten_messages_as_for_sixty(org, our_number):
    """Contacts, conversations and messages are written set-wise: no query per message."""
    def queries_to_drain(count: int, first: int) -> int:
        store_undrained(org, our_number, [sms(f"hello {i}", from_=f"+1415555{first + i:04d}") for i in range(count)])
        with CaptureQueriesContext(connection) as queries:
            assert drain(org) == count
        return len(queries)

    assert queries_to_drain(10, 1000) == queries_to_drain(60, 2000)  # new senders both times
    with tenant_scope(org):
        assert Message.objects.count() == Conversation.objects.count() == Contact.objects.count() == 70


@pytest.mark.django_db
def test_a_batch_touches_each_conversation_once_and_raises_each_counter_once(org, our_number,
                                                                              django_capture_on_commit_callbacks):
    with tenant_scope(org):
        finished = conversations.conversation_for(
            organization=org, contact=crm_services.contact_for(organization=org, phone=OTHER), channel="sms",
            phone_number=our_number)
        Conversation.objects.filter(pk=finished.pk).update(status="done")
    image = ("https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM1/Media/ME1", "image/png")
    sids = store_undrained(org, our_number, [sms("one"), sms("hi", from_=OTHER), sms("two"),
                                             sms("", from_=OTHER, media=[image]), sms("I love this, thanks so much!")])
    watched = ["all", "u", f"c:{finished.pk}"]
    before = counters(org, watched)

    with django_capture_on_commit_callbacks(execute=True):
        assert drain(org) == 5
    with tenant_scope(org):
        mine = Conversation.objects.get(contact__phone_number=CUSTOMER)
        theirs = Conversation.objects.get(pk=finished.pk)
        latest = InboundEvent.objects.get(provider_sid=sids[-1]).received_at
        scores = dict(Message.objects.values_list("body", "sentiment"))
    assert (mine.unread_count, mine.last_message_preview, mine.status) == (3, "I love this, thanks so much!", "open")
    assert mine.last_inbound_at == mine.last_message_at == latest
    assert (theirs.unread_count, theirs.last_message_preview, theirs.status) == (2, "[image]", "open")  # reopened
    assert scores["I love this, thanks so much!"] == pytest.approx(0.83, abs=0.01)  # VADER, in the batch
    assert scores[""] is None
    after = counters(org, watched + [f"c:{mine.pk}"])
    assert after == [before[0] + 1, before[1] + 1, before[2] + 1, 1]  # once per batch, not per message


@pytest.mark.django_db
def test_bad_events_in_a_batch_fail_alone_and_the_rest_keep_their_order(org, our_number):
    """A payload that cannot be read fails at once; a row PostgreSQL refuses fails the batch, which
    is then done one event at a time: either way only the bad event records its failure."""
    without_sender = sms("no sender")
    del without_sender["From"]
    overlong = sms("overlong id", from_="+14155550177", whatsapp=True)
    overlong["WaId"] = "9" * 40
    sids = store_undrained(org, our_number, [sms("one"), overlong, sms("two"), without_sender, sms("three"),
                                             ["not", "a", "form"], sms("four", from_=OTHER)])

    assert drain(org) == 4
    assert bodies(org) == ["one", "two", "three", "four"]
    for sid, error in [(sids[1], "DataError: value too long"), (sids[3], MISSING_FIELD),
                       (sids[5], "AttributeError: 'list' object has no attribute 'get'")]:
        bad = event(org, sid)
        assert (bad.state, bad.attempts) == ("retrying", 1) and bad.last_error.startswith(error)
    with tenant_scope(org):
        assert sorted(Contact.objects.values_list("phone_number", flat=True)) == sorted([CUSTOMER, OTHER])
        assert Conversation.objects.get(contact__phone_number=CUSTOMER).unread_count == 3


@pytest.mark.django_db
def test_keywords_and_profile_names_in_one_batch_apply_in_order(org, our_number):
    store_undrained(org, our_number, [sms("STOP"), sms("hello?"), sms("start"),
                                      sms("hola", whatsapp=True, profile_name="Ana"),
                                      sms("otra vez", whatsapp=True, profile_name="Ana Pérez")])
    assert drain(org) == 5
    with tenant_scope(org):
        contact = Contact.objects.get()
        channels = sorted(Conversation.objects.values_list("channel", flat=True))
    assert (contact.sms_opted_out_at, contact.sms_opt_out_source) == (None, "START")
    assert (contact.whatsapp_profile_name, contact.wa_id) == ("Ana Pérez", CUSTOMER[1:])
    assert channels == ["sms", "whatsapp"]


@pytest.mark.django_db(transaction=True)
def test_two_drains_of_one_organization_at_once_store_every_message_once_in_order(org, our_number, monkeypatch):
    """Two workers draining one busy organization: batches claim different events (SKIP LOCKED), one
    batch of the organization at a time (no deadlock on the conversations both touch), and each
    conversation's messages keep the order they came in."""
    monkeypatch.setattr(events, "drain_request", lambda organization: None)  # the test runs the drains
    senders = [f"+1415555{2000 + i:04d}" for i in range(20)]
    with transaction.atomic():
        store_undrained(org, our_number, [sms(f"{n}", from_=senders[n % 20]) for n in range(300)])
    processed = []

    def work():
        try:
            processed.append(drain(org, batch=40))
        finally:
            connection.close()

    workers = [threading.Thread(target=work) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert sum(processed) == 300
    with tenant_scope(org):
        assert sorted(Conversation.objects.values_list("unread_count", flat=True)) == [15] * 20
        for sender in senders:
            thread = list(Message.objects.filter(conversation__contact__phone_number=sender)
                          .order_by("created_at").values_list("body", flat=True))
            assert [int(body) for body in thread] == sorted(int(body) for body in thread)
            assert len(thread) == 15


# Admin and health ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_platform_admins_see_failed_events_with_their_error_and_retry_them(org, our_number, twilio_posts, settings,
                                                                            staff_user, client, monkeypatch,
                                                                            django_capture_on_commit_callbacks):
    settings.INBOUND_EVENT_ATTEMPTS = 1
    params = _posted_while_the_database_restarts(twilio_posts, monkeypatch, body="lost for a while")
    failed = event(org, params["MessageSid"])
    assert failed.state == "failed"

    client.force_login(staff_user)
    listing = client.get("/admin/messaging/inboundevent/?state=failed").content.decode()
    assert params["MessageSid"] in listing
    assert "OperationalError: the database system is shutting down" in listing
    assert "Retry the selected failed events" in listing
    detail = client.get(f"/admin/messaging/inboundevent/{failed.pk}/change/").content.decode()
    assert "OperationalError: the database system is shutting down" in detail

    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post("/admin/messaging/inboundevent/", {"action": "retry", "_selected_action": [failed.pk]},
                             follow=True)
    assert "1 failed event(s) put back in line" in answer.content.decode()
    assert event(org, params["MessageSid"]).state == "processed"
    assert bodies(org) == ["lost for a while"]
    with tenant_scope(org):
        audit = AuditEvent.objects.get(verb="inbound_event.retried")
    assert (audit.actor, audit.target_id, audit.data["attempts"]) == (staff_user, failed.pk, 1)


@pytest.mark.django_db
def test_the_retry_action_leaves_events_that_did_not_fail_alone(org, our_number, twilio_posts, staff_user, client):
    response, params = twilio_posts.inbound(ACME_TOKEN, body="fine")
    fine = event(org, params["MessageSid"])
    client.force_login(staff_user)
    answer = client.post("/admin/messaging/inboundevent/", {"action": "retry", "_selected_action": [fine.pk]},
                         follow=True)
    assert "nothing to retry" in answer.content.decode()
    assert event(org, params["MessageSid"]).processed_at == fine.processed_at
    assert bodies(org) == ["fine"]


@pytest.mark.django_db
def test_healthz_counts_failed_events_of_every_organization(client, org, other_org, settings):
    def failed_event(organization, sid, **fields):
        with tenant_scope(organization):
            InboundEvent.objects.create(organization=organization, provider="twilio", provider_sid=sid, payload={},
                                        received_at=timezone.now(), **fields)

    failed_event(org, "SMa", failed_at=timezone.now(), attempts=5, last_error="x")
    failed_event(other_org, "SMb", failed_at=timezone.now(), attempts=5, last_error="x")
    failed_event(org, "SMc", attempts=2, next_attempt_at=timezone.now())  # still being retried
    failed_event(org, "SMd", processed_at=timezone.now())
    response = client.get("/healthz")
    assert response.status_code == 200  # every other event is served: the service is up, someone must look
    assert response.json()["inbound_events_failed"] == 2


# With a real worker --------------------------------------------------------------------------------


@pytest.fixture
def worker_env():
    return {"INBOUND_EVENT_ATTEMPTS": "3", "INBOUND_EVENT_RETRY_SECONDS": "0.3"}


@pytest.mark.worker
def test_a_real_worker_processes_every_good_message_in_order_around_poison_ones(org, our_number, live_worker):
    """Signed webhooks, as Twilio posts them, stored by the webhook's own path (group commit, outside
    any transaction) and processed by a real Celery worker: every good message appears, in order,
    within seconds; each bad event is tried three times, 0.3 s then 0.6 s apart, then set aside."""
    poster = TwilioPoster()
    good = ["one", "from a short code", "two", "from a bank", "three", "from a +1 555 number", "four"]
    poster.inbound(ACME_TOKEN, body="one")
    missing = post_without_sender(poster, "no sender")
    poster.inbound(ACME_TOKEN, from_="12345", body="from a short code")
    overlong = post_overlong_whatsapp_id(poster, "overlong id")
    poster.inbound(ACME_TOKEN, body="two")
    poster.inbound(ACME_TOKEN, from_="ACMEBANK", body="from a bank")
    unreadable = store_unreadable_payload(org, our_number, "SMunreadable")
    connection.close()
    poster.inbound(ACME_TOKEN, body="three")
    poster.inbound(ACME_TOKEN, from_="+15555550123", body="from a +1 555 number")
    response, _ = poster.inbound(ACME_TOKEN, body="four")
    assert response.status_code == 200

    wait_for(lambda: len(bodies(org)) == len(good), 10, "every good message")
    assert bodies(org) == good
    bad = [missing, overlong, unreadable]
    wait_for(lambda: all(event(org, sid).state == "failed" for sid in bad), 10, "the bad events to be set aside")
    for sid in bad:
        failed = event(org, sid)
        assert failed.attempts == 3 and failed.last_error
        assert failed.processed_at is None
    assert event(org, missing).last_error == MISSING_FIELD
    assert bodies(org) == good  # nothing half-stored by the failed attempts
    with tenant_scope(org):
        assert sorted(Contact.objects.values_list("phone_number", flat=True)) == sorted(
            [CUSTOMER, "12345", "ACMEBANK", "+15555550123"])

