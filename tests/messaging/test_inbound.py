"""Inbound Twilio webhooks: verified before anything is stored, stored once, answered at once."""

import threading

import pytest
from django.db import connection

from crm.models import Contact
from messaging.models import Conversation, Message
from tenants.scoping import tenant_scope
from tests.messaging.conftest import CUSTOMER, OUR_NUMBER, wait_for
from tests.vendor_fixtures import ACME_TOKEN, GLOBEX_SID, GLOBEX_TOKEN


def messages_of(org):
    with tenant_scope(org):
        return list(Message.objects.order_by("created_at").values_list("provider_sid", "direction", "body", "status"))


@pytest.mark.django_db
def test_an_inbound_sms_is_stored_and_answered_with_empty_twiml(org, our_number, twilio_posts,
                                                                django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response, params = twilio_posts.inbound(ACME_TOKEN, body="I love this, thanks so much!")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/xml"
    assert b"<Response/>" in response.content
    assert messages_of(org) == [(params["MessageSid"], "inbound", "I love this, thanks so much!", "received")]
    with tenant_scope(org):
        conversation = Conversation.objects.select_related("contact").get()
        message = Message.objects.get()
    assert conversation.contact.phone_number == CUSTOMER
    assert conversation.phone_number_id == our_number.pk
    assert (conversation.unread_count, conversation.status) == (1, "open")
    assert conversation.last_inbound_at is not None
    assert message.sentiment == pytest.approx(0.83, abs=0.01)  # VADER's compound score, after commit


@pytest.mark.django_db
@pytest.mark.parametrize("case", ["missing", "forged", "other_tenants_token"])
def test_bad_signatures_are_403_and_store_nothing(org, our_number, twilio_posts, case):
    from softphone.simulator import twilio_webhooks

    params = twilio_webhooks.inbound_message(account_sid=our_number.provider_account.account_sid, to=OUR_NUMBER,
                                             from_=CUSTOMER, body="hello")
    if case == "missing":
        response = twilio_posts.post("/webhooks/twilio/messages/", params, token=None)
    elif case == "forged":
        response = twilio_posts.post("/webhooks/twilio/messages/", params, token=None, signature="bm9wZQ==")
    else:
        response = twilio_posts.post("/webhooks/twilio/messages/", params, token=GLOBEX_TOKEN)
    assert response.status_code == 403
    assert messages_of(org) == []
    with tenant_scope(org):
        assert not Contact.objects.exists()


@pytest.mark.django_db
def test_a_number_we_do_not_know_is_404_revealing_nothing(org, our_number, other_org, twilio_posts):
    response, _ = twilio_posts.inbound(GLOBEX_TOKEN, account_sid=GLOBEX_SID, body="hi")
    assert response.status_code == 404
    assert response.content == b"Not found."
    response, _ = twilio_posts.inbound(ACME_TOKEN, to="+14155550777", body="hi")
    assert response.status_code == 404
    assert messages_of(org) == []


@pytest.mark.django_db
def test_the_signature_is_checked_against_the_public_url(org, our_number, twilio_posts, settings):
    from softphone.simulator import twilio_webhooks

    params = twilio_webhooks.inbound_message(account_sid=our_number.provider_account.account_sid, to=OUR_NUMBER,
                                             from_=CUSTOMER, body="behind a proxy")
    settings.PUBLIC_BASE_URL = "https://softphone.example.com"
    signed_for_public = twilio_webhooks.signature("https://softphone.example.com/webhooks/twilio/messages/",
                                                  params, ACME_TOKEN)
    signed_for_internal = twilio_webhooks.signature("http://testserver/webhooks/twilio/messages/", params,
                                                    ACME_TOKEN)
    assert twilio_posts.post("/webhooks/twilio/messages/", params, token=None,
                             signature=signed_for_internal).status_code == 403
    assert twilio_posts.post("/webhooks/twilio/messages/", params, token=None,
                             signature=signed_for_public).status_code == 200
    assert len(messages_of(org)) == 1


@pytest.mark.django_db
def test_a_signature_over_the_url_with_its_default_port_is_accepted_too(org, our_number, twilio_posts, settings):
    """Twilio has signed with and without the default port; the SDK's full check is the fallback."""
    from softphone.simulator import twilio_webhooks

    params = twilio_webhooks.inbound_message(account_sid=our_number.provider_account.account_sid, to=OUR_NUMBER,
                                             from_=CUSTOMER, body="port 443")
    settings.PUBLIC_BASE_URL = "https://softphone.example.com"
    with_port = twilio_webhooks.signature("https://softphone.example.com:443/webhooks/twilio/messages/", params,
                                          ACME_TOKEN)
    assert twilio_posts.post("/webhooks/twilio/messages/", params, token=None, signature=with_port).status_code == 200
    assert [body for _, _, body, _ in messages_of(org)] == ["port 443"]


@pytest.mark.django_db
def test_a_body_that_is_not_a_readable_form_is_400_and_stores_nothing(org, our_number, client):
    from softphone.simulator import twilio_webhooks

    params = twilio_webhooks.inbound_message(account_sid=our_number.provider_account.account_sid, to=OUR_NUMBER,
                                             from_=CUSTOMER, body="x")
    body = "&".join(f"{k}={v}" for k, v in params.items()).encode() + b"&Body=\xff\xfe"
    for path in ("/webhooks/twilio/messages/", "/webhooks/twilio/messages/status/"):
        response = client.post(path, body, content_type="application/x-www-form-urlencoded",
                               HTTP_X_TWILIO_SIGNATURE="c2lnbmVk")
        assert response.status_code == 400
        assert response.content == b"The body is not a form this webhook can read."
    assert messages_of(org) == []


@pytest.mark.django_db
def test_the_same_message_sid_twice_is_stored_once(org, our_number, twilio_posts):
    first, params = twilio_posts.inbound(ACME_TOKEN, body="hello")
    again = twilio_posts.post("/webhooks/twilio/messages/", params, token=ACME_TOKEN)
    assert (first.status_code, again.status_code) == (200, 200)
    assert len(messages_of(org)) == 1
    with tenant_scope(org):
        assert Conversation.objects.get().unread_count == 1


@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_deliveries_of_one_message_are_stored_once(org, our_number):
    from softphone.simulator import twilio_webhooks
    from tests.messaging.conftest import TwilioPoster

    params = twilio_webhooks.inbound_message(account_sid=our_number.provider_account.account_sid, to=OUR_NUMBER,
                                             from_=CUSTOMER, body="once")
    barrier = threading.Barrier(10)
    statuses = []

    def deliver():
        try:
            barrier.wait()
            statuses.append(TwilioPoster().post("/webhooks/twilio/messages/", params, token=ACME_TOKEN).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 10
    assert len(messages_of(org)) == 1
    with tenant_scope(org):
        assert Contact.objects.count() == 1
        assert Conversation.objects.get().unread_count == 1


@pytest.mark.django_db
def test_xss_non_ascii_and_long_bodies_are_stored_verbatim(org, our_number, twilio_posts):
    payloads = ['<script>alert("x")</script><img src=x onerror=alert(1)>', "Olá, ¿qué tal? 你好 👋🏽",
                "x" * 1600]
    for body in payloads:
        twilio_posts.inbound(ACME_TOKEN, body=body)
    assert [m[2] for m in messages_of(org)] == payloads


@pytest.mark.django_db
def test_media_without_a_body_is_an_mms(org, our_number, twilio_posts):
    media = [(f"https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM1/Media/ME{i}", "image/jpeg")
             for i in range(2)]
    twilio_posts.inbound(ACME_TOKEN, body="", media=media)
    with tenant_scope(org):
        message = Message.objects.get()
    assert (message.channel, message.media_type, message.body) == ("mms", "image", "")
    assert [m["url"] for m in message.media] == [url for url, _ in media]


@pytest.mark.django_db
@pytest.mark.parametrize("word", ["STOP", "stop", "Unsubscribe", "QUIT"])
def test_stop_words_opt_the_contact_out_and_start_words_back_in(org, our_number, twilio_posts, word):
    twilio_posts.inbound(ACME_TOKEN, body=f" {word} ")
    with tenant_scope(org):
        contact = Contact.objects.get()
    assert contact.sms_opted_out_at is not None
    assert contact.sms_opt_out_source == word.strip().upper()
    twilio_posts.inbound(ACME_TOKEN, body="start")
    with tenant_scope(org):
        contact.refresh_from_db()
    assert contact.sms_opted_out_at is None


@pytest.mark.django_db
def test_whatsapp_through_twilio_keeps_the_profile_and_one_contact(org, our_number, twilio_posts):
    twilio_posts.inbound(ACME_TOKEN, body="hola", whatsapp=True, profile_name="Ana Pérez")
    twilio_posts.inbound(ACME_TOKEN, body="sms too")
    with tenant_scope(org):
        contact = Contact.objects.get()
        channels = sorted(Conversation.objects.values_list("channel", flat=True))
    assert (contact.whatsapp_profile_name, contact.wa_id) == ("Ana Pérez", CUSTOMER[1:])
    assert channels == ["sms", "whatsapp"]


@pytest.mark.django_db
@pytest.mark.parametrize("first, second", [("+5215512345678", "+525512345678"),
                                           ("+551199887766", "+5511999887766")])
def test_mexican_and_brazilian_spellings_of_one_mobile_are_one_contact(org, our_number, twilio_posts, first,
                                                                      second):
    twilio_posts.inbound(ACME_TOKEN, from_=first, body="one")
    twilio_posts.inbound(ACME_TOKEN, from_=second, body="two")
    with tenant_scope(org):
        assert list(Contact.objects.values_list("phone_number", flat=True)) == [second]
        assert Conversation.objects.count() == 1


@pytest.mark.django_db
def test_an_event_nobody_processed_is_processed_by_the_sweeper(org, our_number, settings):
    """The webhook stored the event and answered, but the broker or the worker was down."""
    from datetime import timedelta

    from django.utils import timezone

    from messaging.models import InboundEvent
    from messaging.services import outbound
    from tests.messaging.conftest import TwilioPoster

    response, params = TwilioPoster(capture=None).inbound(ACME_TOKEN, body="anyone there?")  # queued work not run
    assert response.status_code == 200
    assert messages_of(org) == []
    with tenant_scope(org):
        event = InboundEvent.objects.get()
        assert (event.provider_sid, event.processed_at) == (params["MessageSid"], None)
        InboundEvent.objects.filter(pk=event.pk).update(received_at=timezone.now() - timedelta(minutes=5))
        result = outbound.messages_sweep(organization=org)
        assert result["events_requeued"] == 1
        assert InboundEvent.objects.get().processed_at is not None
    assert messages_of(org) == [(params["MessageSid"], "inbound", "anyone there?", "received")]


@pytest.fixture
def parked_tasks():
    """Tasks go to the real broker (Redis), to a queue no worker reads. Yields a function listing
    the names of the tasks waiting there."""
    import json
    import uuid

    import redis
    from django.conf import settings

    from softphone import celery_app
    from tests.conftest import _route_every_task_to

    queue = f"parked-{uuid.uuid4().hex[:12]}"
    saved = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    _route_every_task_to(queue)
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        yield lambda: [json.loads(item)["headers"]["task"]
                       for item in broker.lrange(settings.REDIS_KEY_PREFIX + queue, 0, -1)]
    finally:
        _route_every_task_to(None)
        celery_app.conf.task_always_eager = saved
        broker.delete(settings.REDIS_KEY_PREFIX + queue)


@pytest.mark.django_db(transaction=True)
def test_a_burst_of_messages_asks_a_worker_once_and_none_is_left_behind(org, our_number, parked_tasks):
    """Webhooks outside a transaction, as in production: each stores its event and commits in one
    round trip, and only the first asks for a drain while that request stands."""
    from datetime import timedelta

    from django.utils import timezone

    from messaging.models import InboundDrain, InboundEvent
    from messaging.services import events
    from tests.messaging.conftest import TwilioPoster

    def drains():
        return parked_tasks().count("messaging.inbound_events_drain")

    poster = TwilioPoster()
    for i in range(5):
        response, _ = poster.inbound(ACME_TOKEN, body=f"burst {i}")
        assert response.status_code == 200
    assert parked_tasks() == ["messaging.inbound_events_drain"]  # five events, one drain asked for
    with tenant_scope(org):
        assert InboundEvent.objects.filter(processed_at=None).count() == 5

    # The drain runs (as the worker would): every event becomes a message, and the request is spent,
    # so the next message, stored after the drain's last look, asks for a drain of its own.
    with tenant_scope(org):
        assert events.inbound_events_drain(organization=org) == 5
    assert [body for _, _, body, _ in messages_of(org)] == [f"burst {i}" for i in range(5)]
    # Sentiment is scored in the drain's batch: no task per message queues behind other work.
    assert "messaging.message_analyse" not in parked_tasks()
    with tenant_scope(org):
        assert not Message.objects.filter(sentiment__isnull=True).exists()
    poster.inbound(ACME_TOKEN, body="after the drain")
    assert drains() == 2

    # A request nobody honoured (the task was lost) lapses, and the next message asks again.
    with tenant_scope(org):
        InboundDrain.objects.update(requested_until=timezone.now() - timedelta(seconds=1))
    poster.inbound(ACME_TOKEN, body="after a lost task")
    assert drains() == 3
    with tenant_scope(org):
        assert events.inbound_events_drain(organization=org) == 2
    assert len(messages_of(org)) == 7


class _HeldSid:
    """Another session inserts an event with this sid and keeps its transaction open: a webhook
    storing the same sid waits for it inside PostgreSQL (the unique index), as long as we like."""

    def __init__(self, org, sid: str):
        import psycopg

        self.connection = psycopg.connect(**connection.get_connection_params())
        self.connection.execute("select set_config('app.organization_id', %s, false)", [str(org.pk)])
        self.connection.execute("select messaging_inbound_event_insert(%s, gen_random_uuid(), 'twilio', %s, null, "
                                "'{}'::jsonb)", [org.pk, sid])

    def release(self):
        self.connection.rollback()  # the held row never existed: the waiting insert goes ahead
        self.connection.close()


def _stored_while_held(org, sids: list[str]) -> list[tuple[str, object]]:
    """Store "SMfirst", held inside PostgreSQL by another session, then each of `sids`, each by a
    webhook thread of its own outside any transaction (as in production), once the one before it is
    waiting for the first; then let the first go. Returns (sid, True/False or the error) per call."""
    from messaging.services import events

    outcomes: list[tuple[str, object]] = []

    def store(sid):
        try:
            stored = events.inbound_event_store(organization=org, provider="twilio", provider_sid=sid,
                                                payload={"MessageSid": sid, "Body": f"hi {sid}"})
            outcomes.append((sid, stored))
        except Exception as exc:
            outcomes.append((sid, exc))
        finally:
            connection.close()

    held = _HeldSid(org, "SMfirst")
    threads = [threading.Thread(target=store, args=("SMfirst",))]
    threads[0].start()
    wait_for(lambda: events._group_commit._storing, 10, "the first event to be stored")
    for sid in sids:
        threads.append(threading.Thread(target=store, args=(sid,)))
        threads[-1].start()
        wait_for(lambda: len(events._group_commit._pending) == len(threads) - 1, 10, "the event to wait")
    held.release()
    for thread in threads:
        thread.join(10)
    assert not events._group_commit._storing and not events._group_commit._pending
    return outcomes


def _stored(org) -> dict[str, int]:
    """provider_sid -> the id of the transaction that stored it."""
    with tenant_scope(org), connection.cursor() as cursor:
        cursor.execute("select provider_sid, xmin::text::bigint from messaging_inboundevent")
        return dict(cursor.fetchall())


@pytest.mark.django_db(transaction=True)
def test_messages_arriving_while_one_is_stored_are_stored_together_each_once(org, our_number, parked_tasks):
    """Group commit: the webhooks of a process that arrive while an event is being stored wait, then
    go to the database together, in one transaction (one flush of the log); each caller learns
    whether its own event was stored, and a MessageSid posted twice among them is stored once."""
    outcomes = _stored_while_held(org, ["SMa", "SMb", "SMc", "SMb", "SMd"])  # SMb twice: a retry, or a duplicate

    assert sorted(outcomes) == [("SMa", True), ("SMb", False), ("SMb", True), ("SMc", True), ("SMd", True),
                                ("SMfirst", True)]
    stored = _stored(org)
    assert sorted(stored) == ["SMa", "SMb", "SMc", "SMd", "SMfirst"]
    assert len({stored[sid] for sid in ["SMa", "SMb", "SMc", "SMd"]}) == 1  # one transaction for the four
    assert stored["SMfirst"] != stored["SMa"]
    assert parked_tasks().count("messaging.inbound_events_drain") == 1  # one drain asked for all five


@pytest.mark.django_db(transaction=True)
def test_a_bad_message_among_others_stored_together_fails_alone(org, our_number, parked_tasks):
    """The batch fails as a whole in PostgreSQL; its events are then stored one by one, so the bad
    one's webhook gets its own error and every other event is stored, once."""
    from django.db import DataError

    too_long = "SM" + "x" * 200  # longer than any provider id the column holds
    outcomes = dict(_stored_while_held(org, ["SMa", too_long, "SMb"]))

    assert (outcomes["SMfirst"], outcomes["SMa"], outcomes["SMb"]) == (True, True, True)
    assert isinstance(outcomes[too_long], DataError)
    assert sorted(_stored(org)) == ["SMa", "SMb", "SMfirst"]


@pytest.mark.django_db
def test_a_body_with_a_nul_character_is_kept_with_the_character_replaced(org, our_number, twilio_posts):
    """PostgreSQL cannot store U+0000 in text or JSON: the message is kept, the character shown as
    U+FFFD, instead of the webhook failing and the message being lost. The signature is checked
    over what Twilio sent."""
    response, _ = twilio_posts.inbound(ACME_TOKEN, body="before\x00after")
    assert response.status_code == 200
    assert [m[2] for m in messages_of(org)] == ["before\ufffdafter"]


@pytest.mark.django_db
def test_a_message_sid_no_twilio_message_has_is_refused_with_a_reason(org, our_number, twilio_posts):
    response, _ = twilio_posts.inbound(ACME_TOKEN, body="hi", message_sid="SM" + "x" * 200)
    assert response.status_code == 400
    assert response.content.decode() == "MessageSid is not a Twilio message id."
    assert messages_of(org) == []
