"""Sending: saved as pending, sent once by a worker, refused with a reason when it may not go."""

from datetime import timedelta

import pytest
from django.utils import timezone

from crm import services as crm_services
from crm.models import Contact
from messaging.models import Conversation, Message, MessageStatus
from messaging.services import conversations, outbound
from telephony.models import PhoneNumber
from tenants.scoping import tenant_scope
from tests.messaging.conftest import CUSTOMER, OUR_NUMBER
from tests.vendor_fixtures import ACME_SID, ACME_TOKEN


@pytest.fixture
def conversation(org, our_number):
    with tenant_scope(org):
        contact = crm_services.contact_for(organization=org, phone=CUSTOMER)
        return conversations.conversation_for(organization=org, contact=contact, channel="sms",
                                              phone_number=our_number)


@pytest.fixture(autouse=True)
def _no_pacing_leftovers():
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter(f"{settings.REDIS_KEY_PREFIX}softphone:pace:*"):
        client.delete(key)
    yield


def message(org, pk):
    with tenant_scope(org):
        return Message.objects.get(pk=pk)


def deliver(org, pk):
    with tenant_scope(org):
        return outbound.message_deliver(organization=org, message_id=pk)


@pytest.mark.django_db
def test_send_over_the_api_queues_then_the_worker_sends_once(owner_client, org, conversation, twilio,
                                                             django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(f"/api/acme/conversations/{conversation.pk}/messages",
                                     {"body": "Your order shipped 📦"}, content_type="application/json")
    assert response.status_code == 202, response.json()
    assert response.json()["status"] == "pending"
    sent = twilio.messages(ACME_SID)
    assert [(m["from"], m["to"], m["body"]) for m in sent] == [(OUR_NUMBER, CUSTOMER, "Your order shipped 📦")]
    stored = message(org, response.json()["id"])
    assert (stored.status, stored.provider_sid, stored.attempts) == ("queued", sent[0]["sid"], 1)
    form = [r.form for r in twilio.requests if r.path.endswith("/Messages.json")][0]
    assert form["StatusCallback"] == "http://127.0.0.1:8000/webhooks/twilio/messages/status/"

    # The same task delivered again (a redelivery, a duplicate): nothing more is sent.
    assert deliver(org, stored.pk) == "skipped"
    assert len(twilio.messages(ACME_SID)) == 1


@pytest.mark.django_db
def test_status_callbacks_only_move_forward(org, conversation, twilio, twilio_posts):
    with tenant_scope(org):
        queued = outbound.message_send(organization=org, actor=None, conversation=conversation, body="hi")
    deliver(org, queued.pk)
    sid = message(org, queued.pk).provider_sid
    for status, expected in [("sent", "sent"), ("delivered", "delivered"), ("sent", "delivered"),
                             ("delivered", "delivered"), ("read", "read"), ("delivered", "read")]:
        assert twilio_posts.status(ACME_TOKEN, message_sid=sid, status=status).status_code == 200
        assert message(org, queued.pk).status == expected
    # Unknown sids answer 200 and change nothing.
    assert twilio_posts.status(ACME_TOKEN, message_sid="SM" + "0" * 32, status="failed").status_code == 200


@pytest.mark.django_db
def test_a_failed_status_carries_a_readable_reason(org, conversation, twilio, twilio_posts):
    with tenant_scope(org):
        queued = outbound.message_send(organization=org, actor=None, conversation=conversation, body="hi")
    deliver(org, queued.pk)
    sid = message(org, queued.pk).provider_sid
    twilio_posts.status(ACME_TOKEN, message_sid=sid, status="undelivered", error_code=30003)
    stored = message(org, queued.pk)
    assert (stored.status, stored.error_code) == ("undelivered", "30003")
    assert stored.error_message == "The recipient's phone is unreachable (off or out of coverage)."


@pytest.mark.django_db
@pytest.mark.parametrize("to, code, reason", [
    ("+15005550001", "21211", "The recipient's number is not valid."),
    ("+15005550004", "21610", "The recipient has unsubscribed"),
    ("+15005550009", "21614", "cannot receive text messages"),
])
def test_permanent_errors_fail_at_once_with_a_readable_reason(org, our_number, twilio, to, code, reason):
    with tenant_scope(org):
        contact = Contact.objects.create(organization=org, phone_number=to)
        conversation = Conversation.objects.create(organization=org, contact=contact, channel="sms",
                                                   phone_number=our_number)
        queued = outbound.message_send(organization=org, actor=None, conversation=conversation, body="hi")
    assert deliver(org, queued.pk) == "failed"
    stored = message(org, queued.pk)
    assert (stored.status, stored.error_code) == ("failed", code)
    assert reason in stored.error_message
    assert stored.attempts == 1


@pytest.mark.django_db
def test_twilio_500_then_recovery_retries_and_sends_once(org, conversation, twilio):
    from messaging.providers.base import ProviderError

    with tenant_scope(org):
        queued = outbound.message_send(organization=org, actor=None, conversation=conversation, body="hi")
    twilio.fail_next(1, status=500, code=20500, message="Internal Server Error")
    with pytest.raises(ProviderError):
        deliver(org, queued.pk)
    assert message(org, queued.pk).status == "pending"  # released for the retry, not stuck in sending
    assert deliver(org, queued.pk) == "sent"
    assert len(twilio.messages(ACME_SID)) == 1
    assert message(org, queued.pk).attempts == 2


@pytest.mark.django_db
def test_a_timeout_is_transient(org, conversation, twilio, settings):
    from messaging.providers.base import ProviderError

    settings.TWILIO_HTTP_TIMEOUT = 0.3
    twilio.set_delay(1.0)
    with tenant_scope(org):
        queued = outbound.message_send(organization=org, actor=None, conversation=conversation, body="hi")
    with pytest.raises(ProviderError) as info:
        deliver(org, queued.pk)
    assert info.value.permanent is False
    assert message(org, queued.pk).status == "pending"


@pytest.mark.django_db
def test_a_number_never_exceeds_its_send_rate(org, conversation, twilio):
    with tenant_scope(org):
        first = outbound.message_send(organization=org, actor=None, conversation=conversation, body="one")
        second = outbound.message_send(organization=org, actor=None, conversation=conversation, body="two")
    assert deliver(org, first.pk) == "sent"
    with pytest.raises(outbound.Paced) as paced:
        deliver(org, second.pk)
    assert 0 < paced.value.wait <= 1.0
    assert message(org, second.pk).status == "pending"
    assert len(twilio.messages(ACME_SID)) == 1


@pytest.mark.django_db
@pytest.mark.parametrize("setup, reason", [
    ("opted_out", "opted out of SMS (replied STOP)"),
    ("no_mms", "cannot send MMS"),
    ("inactive", "is inactive and cannot send"),
])
def test_may_we_send_refuses_with_the_reason(owner_client, org, conversation, our_number, setup, reason):
    body = {"body": "hi"}
    with tenant_scope(org):
        if setup == "opted_out":
            crm_services.contact_set_opt_out(contact=conversation.contact, channel="sms", opted_out=True,
                                              source="STOP")
        elif setup == "no_mms":
            PhoneNumber.objects.filter(pk=our_number.pk).update(capabilities={"sms": True, "mms": False})
            body["mediaUrls"] = ["https://example.com/a.jpg"]
        else:
            PhoneNumber.objects.filter(pk=our_number.pk).update(status="inactive")
    response = owner_client.post(f"/api/acme/conversations/{conversation.pk}/messages", body,
                                 content_type="application/json")
    assert response.status_code == 400
    assert reason in response.json()["body"][0]
    with tenant_scope(org):
        assert not Message.objects.exists()


@pytest.mark.django_db
def test_whatsapp_free_text_outside_24_hours_needs_a_template(owner_client, org, our_number):
    with tenant_scope(org):
        contact = crm_services.contact_for(organization=org, phone=CUSTOMER)
        wa = conversations.conversation_for(organization=org, contact=contact, channel="whatsapp",
                                            phone_number=our_number)
        Conversation.objects.filter(pk=wa.pk).update(last_inbound_at=timezone.now() - timedelta(hours=25))
    response = owner_client.post(f"/api/acme/conversations/{wa.pk}/messages", {"body": "hello?"},
                                 content_type="application/json")
    assert response.status_code == 400
    assert "only an approved template can be sent" in response.json()["body"][0]
    with tenant_scope(org):
        Conversation.objects.filter(pk=wa.pk).update(last_inbound_at=timezone.now() - timedelta(hours=2))
    assert owner_client.post(f"/api/acme/conversations/{wa.pk}/messages", {"body": "hello!"},
                             content_type="application/json").status_code == 202


@pytest.mark.django_db
def test_bad_message_requests_are_400(owner_client, org, conversation):
    url = f"/api/acme/conversations/{conversation.pk}/messages"
    assert owner_client.post(url, {"body": ""}, content_type="application/json").json()["body"] == [
        "Write a message or attach a file."]
    assert owner_client.post(url, {"body": "x" * 1601}, content_type="application/json").status_code == 400
    assert owner_client.post(url, {"mediaUrls": ["ftp://x"]}, content_type="application/json").status_code == 400
    with tenant_scope(org):
        assert not Message.objects.exists()


@pytest.mark.django_db
def test_start_a_conversation_with_any_number(owner_client, org, our_number, twilio,
                                              django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post("/api/acme/messages", {"to": "(415) 555-0188", "fromNumberId": str(our_number.pk),
                                                            "body": "Hello from Acme"},
                                     content_type="application/json")
    assert response.status_code == 400  # a national number needs its country code
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post("/api/acme/messages", {"to": "+1 415 555 0188", "fromNumberId": str(our_number.pk),
                                                            "body": "Hello from Acme"},
                                     content_type="application/json")
    assert response.status_code == 202, response.json()
    assert [m["to"] for m in twilio.messages(ACME_SID)] == ["+14155550188"]


@pytest.mark.django_db
def test_the_sweeper_requeues_lost_pending_messages_and_fails_unconfirmed_ones(org, conversation, twilio,
                                                                                settings,
                                                                                django_capture_on_commit_callbacks):
    settings.MESSAGE_SWEEP_AFTER_SECONDS = 60
    with tenant_scope(org):
        lost = outbound.message_send(organization=org, actor=None, conversation=conversation, body="lost")
        stuck = outbound.message_send(organization=org, actor=None, conversation=conversation, body="stuck")
        long_ago = timezone.now() - timedelta(minutes=5)
        Message.objects.filter(pk=lost.pk).update(updated_at=long_ago)
        Message.objects.filter(pk=stuck.pk).update(status=MessageStatus.SENDING, updated_at=long_ago)
        # The sweeper runs outside a transaction: what it queues goes at once, as after a commit.
        with django_capture_on_commit_callbacks(execute=True):
            result = outbound.messages_sweep(organization=org)
    assert result == {"requeued": 1, "failed": 1, "events_requeued": 0, "woken": 0, "calls_shown": 0}
    assert message(org, lost.pk).status == "queued"  # tasks run inline here: re-queued and sent
    unconfirmed = message(org, stuck.pk)
    assert unconfirmed.status == "failed"
    assert "not retried so the customer does not get it twice" in unconfirmed.error_message
    assert [m["body"] for m in twilio.messages(ACME_SID)] == ["lost"]


@pytest.mark.django_db
def test_if_the_broker_is_down_the_message_is_kept_and_sent_later(owner_client, org, conversation, twilio,
                                                                  django_capture_on_commit_callbacks, settings):
    from softphone import celery_app

    saved = {key: celery_app.conf[key] for key in ("task_always_eager", "broker_url", "task_publish_retry")}
    saved_pool = celery_app._pool
    celery_app.conf.update(task_always_eager=False, broker_url="redis://127.0.0.1:1/0",  # nothing listens there
                           task_publish_retry=False)
    celery_app._pool = None  # a producer pool of its own, for the dead broker
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = owner_client.post(f"/api/acme/conversations/{conversation.pk}/messages", {"body": "kept"},
                                         content_type="application/json")
        assert response.status_code == 202
        assert message(org, response.json()["id"]).status == "pending"
        assert twilio.messages(ACME_SID) == []
    finally:
        if celery_app._pool is not None:
            celery_app._pool.force_close_all()
        celery_app._pool = saved_pool
        celery_app.conf.update(saved)
    # The broker is back: the sweeper sends it.
    with tenant_scope(org):
        Message.objects.filter(pk=response.json()["id"]).update(updated_at=timezone.now() - timedelta(minutes=5))
        with django_capture_on_commit_callbacks(execute=True):
            outbound.messages_sweep(organization=org)
    assert [m["body"] for m in twilio.messages(ACME_SID)] == ["kept"]


@pytest.mark.parametrize("body, expected", [
    ("a" * 160, 1), ("a" * 161, 2), ("{" * 80, 1), ("{" * 81, 2),  # GSM-7, extension chars count twice
    ("é" * 160, 1), ("你" * 70, 1), ("你" * 71, 2), ("👋" * 35, 1), ("👋" * 36, 2),  # UCS-2 past GSM-7
])
def test_sms_segments_follow_gsm7_and_ucs2(body, expected):
    assert outbound.segments(body) == expected
