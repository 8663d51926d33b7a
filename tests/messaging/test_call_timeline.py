"""Calls in the contact's conversation: between the messages in the thread, in the live inbox, and in
the inbox list (a call creates the conversation, moves it up, counts a missed call as unread)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from crm import services as crm_services
from messaging import selectors
from messaging.models import Conversation, ConversationStatus, Direction, Message, MessageStatus
from messaging.services import conversations
from softphone.simulator import twilio_webhooks as tw
from telephony.models import Call, PhoneNumber, Provider
from telephony.signals import call_changed
from tenants.scoping import tenant_scope
from tests.telephony.test_voice_routing import post
from tests.vendor_fixtures import ACME_SID

OUR_NUMBER = "+14155550142"
CUSTOMER = "+14155550199"


@pytest.fixture
def our_number(org, twilio_account, agent):
    with tenant_scope(org):
        return PhoneNumber.objects.create(
            organization=org, provider_account=twilio_account, provider=Provider.TWILIO, phone_number=OUR_NUMBER,
            provider_sid="PN" + "1" * 32, agent=agent, capabilities={"voice": True, "sms": True})


def contact_of(org, phone=CUSTOMER, name="Olga Customer"):
    with tenant_scope(org):
        contact = crm_services.contact_for(organization=org, phone=phone)
        contact.name = name
        contact.save()
        return contact


def message_at(org, conversation, at, body, direction=Direction.INBOUND) -> Message:
    with tenant_scope(org):
        message = Message.objects.create(organization=org, conversation=conversation, direction=direction,
                                         channel="sms", body=body, status=MessageStatus.RECEIVED)
        Message.objects.filter(pk=message.pk).update(created_at=at)
        message.refresh_from_db()
        return message


def call_at(org, number, contact, at, **fields) -> Call:
    fields = {"direction": "inbound", "status": "completed", "answered_at": at, "ended_at": at + timedelta(
        seconds=fields.get("duration") or 0), **fields}
    with tenant_scope(org):
        call = Call.objects.create(organization=org, phone_number=number, contact=contact, agent=number.agent,
                                   from_number=contact.phone_number if contact else "anonymous",
                                   to_number=number.phone_number, started_at=at, **fields)
        Call.objects.filter(pk=call.pk).update(created_at=at)
        call.refresh_from_db()
        return call


def conversation_of(org, number, contact) -> Conversation:
    with tenant_scope(org):
        return conversations.conversation_for(organization=org, contact=contact, channel="sms", phone_number=number)


def announce(org, call, created=False):
    """What telephony sends after the call's transaction commits."""
    with tenant_scope(org):
        call_changed.send(sender=Call, call=Call.objects.select_related("contact", "phone_number", "agent").get(
            pk=call.pk), created=created)


def item_ids(html: str) -> list[str]:
    return re.findall(r'<article id="m-([0-9a-f-]{36})"', html)


# The thread -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_call_shows_between_the_messages_around_it_with_its_outcome_player_and_summary(agent_client, org,
                                                                                         our_number):
    contact = contact_of(org)
    conversation = conversation_of(org, our_number, contact)
    now = timezone.now()
    before = message_at(org, conversation, now - timedelta(minutes=30), "Can you call me?")
    answered = call_at(org, our_number, contact, now - timedelta(minutes=20), duration=192,
                       summary="Wants to change the delivery address.")
    voicemail = call_at(org, our_number, contact, now - timedelta(minutes=10), status="no-answer", answered_at=None,
                        voicemail=True, recording_duration=42, recording_sid="RE" + "1" * 32,
                        recording_url=f"https://api.twilio.com/2010-04-01/Accounts/{ACME_SID}/Recordings/RE{'1' * 32}")
    after = message_at(org, conversation, now, "Thanks for calling back")
    someone_else = call_at(org, our_number, contact_of(org, "+14155550177", "Other"), now - timedelta(minutes=15))

    page = agent_client.get(f"/o/{org.slug}/inbox/", {"view": "all", "c": conversation.pk}).content.decode()
    thread = page[page.index('id="messages"'):page.index('id="composer"')]
    assert item_ids(thread) == [str(before.pk), str(answered.pk), str(voicemail.pk), str(after.pk)]
    assert str(someone_else.pk) not in thread
    answered_html = thread[thread.index(f'id="m-{answered.pk}"'):thread.index(f'id="m-{voicemail.pk}"')]
    assert "Incoming call · <span" in answered_html and "Completed · 3:12" in answered_html
    assert "Wants to change the delivery address." in answered_html
    assert f'href="/o/{org.slug}/calls/{answered.pk}/"' in answered_html
    assert "<audio" not in answered_html  # not recorded
    voicemail_html = thread[thread.index(f'id="m-{voicemail.pk}"'):thread.index(f'id="m-{after.pk}"')]
    assert "Voicemail (0:42)" in voicemail_html and 'class="bubble call inbound missed"' in voicemail_html
    assert f'src="/o/{org.slug}/calls/{voicemail.pk}/recording/"' in voicemail_html
    assert "api.twilio.com" not in page


@pytest.mark.django_db
def test_older_items_page_through_messages_and_calls_alike(agent_client, org, our_number):
    contact = contact_of(org)
    conversation = conversation_of(org, our_number, contact)
    start = timezone.now() - timedelta(hours=1)
    items = []
    for i in range(6):
        at = start + timedelta(minutes=i)
        items.append(call_at(org, our_number, contact, at) if i % 2 else message_at(org, conversation, at, f"m{i}"))
    ids = [str(item.pk) for item in items]
    with tenant_scope(org):
        newest, has_older = selectors.thread_items(organization=org, conversation=conversation, limit=4)
        assert ([str(i.pk) for i in newest], has_older) == (ids[2:], True)
        older, has_older = selectors.thread_items(organization=org, conversation=conversation, before=items[2].pk,
                                                  limit=4)
        assert ([str(i.pk) for i in older], has_older) == (ids[:2], False)
    # The inbox's "older" fragment, anchored on a call.
    html = agent_client.get(f"/o/{org.slug}/inbox/c/{conversation.pk}/older/", {"before": items[3].pk}).content.decode()
    assert item_ids(html) == ids[:3]


@pytest.mark.django_db
def test_a_whatsapp_conversation_on_the_same_number_shows_no_calls(org, our_number):
    contact = contact_of(org)
    call_at(org, our_number, contact, timezone.now())
    with tenant_scope(org):
        whatsapp = conversations.conversation_for(organization=org, contact=contact, channel="whatsapp",
                                                  phone_number=our_number)
        assert selectors.thread_items(organization=org, conversation=whatsapp) == ([], False)


# The conversation follows its calls ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_first_call_from_someone_who_never_texted_opens_their_conversation_and_a_voicemail_counts_once(
        agent_client, org, our_number):
    """The whole way, committed as in production: Twilio's webhooks, the call_changed signal after
    commit, the conversation."""
    params = tw.incoming_call(account_sid=ACME_SID, to=OUR_NUMBER, from_=CUSTOMER)
    assert post("/webhooks/twilio/voice/inbound/", params).status_code == 200  # nobody online: voicemail
    with tenant_scope(org):
        [conversation] = Conversation.objects.select_related("contact")
    assert (conversation.contact.phone_number, conversation.phone_number_id, conversation.channel) == (
        CUSTOMER, our_number.pk, "sms")
    assert (conversation.last_message_preview, conversation.unread_count) == ("Incoming call", 0)
    assert conversation.assignee_id == our_number.agent_id

    sid = params["CallSid"]
    post("/webhooks/twilio/voice/voicemail/", tw.recording(account_sid=ACME_SID, call_sid=sid, duration=12,
                                                           action=True))
    post("/webhooks/twilio/voice/status/", tw.call_status(account_sid=ACME_SID, call_sid=sid, status="completed",
                                                          from_=CUSTOMER, to=OUR_NUMBER, sequence=3, duration=30))
    with tenant_scope(org):
        conversation.refresh_from_db()
        call = Call.objects.get(provider_sid=sid)
    assert (conversation.last_message_preview, conversation.unread_count) == ("Voicemail (0:12)", 1)
    assert conversation.last_message_at == call.ended_at
    # The recording callback repeats what the action said; a later change of the call counts nothing again.
    post("/webhooks/twilio/voice/recording/", tw.recording(account_sid=ACME_SID, call_sid=sid,
                                                           recording_sid=call.recording_sid, duration=12))
    announce(org, call)
    with tenant_scope(org):
        conversation.refresh_from_db()
        assert Conversation.objects.count() == 1
    assert (conversation.last_message_preview, conversation.unread_count) == ("Voicemail (0:12)", 1)

    page = agent_client.get(f"/o/{org.slug}/inbox/", {"view": "all"}).content.decode()
    assert "Voicemail (0:12)" in page  # the row's preview


@pytest.mark.django_db
def test_a_missed_call_moves_the_conversation_up_and_reopens_it(org, our_number):
    contact = contact_of(org)
    conversation = conversation_of(org, our_number, contact)
    with tenant_scope(org):
        Conversation.objects.filter(pk=conversation.pk).update(
            status=ConversationStatus.DONE, unread_count=0, last_message_preview="Thanks, bye",
            last_message_at=timezone.now() - timedelta(hours=1))
    call = call_at(org, our_number, contact, timezone.now(), status="no-answer", answered_at=None)
    announce(org, call, created=True)
    with tenant_scope(org):
        conversation.refresh_from_db()
    assert (conversation.status, conversation.unread_count, conversation.last_message_preview) == (
        "open", 1, "Missed call")
    assert conversation.last_message_at == call.ended_at


@pytest.mark.django_db
def test_an_answered_call_moves_the_conversation_without_making_it_unread(org, our_number):
    contact = contact_of(org)
    conversation = conversation_of(org, our_number, contact)
    call = call_at(org, our_number, contact, timezone.now() - timedelta(minutes=5), duration=75)
    announce(org, call)
    with tenant_scope(org):
        conversation.refresh_from_db()
    assert (conversation.unread_count, conversation.last_message_preview) == (0, "Incoming call, 1:15")
    outbound = call_at(org, our_number, contact, timezone.now(), direction="outbound", status="no-answer",
                       answered_at=None)
    announce(org, outbound)
    with tenant_scope(org):
        conversation.refresh_from_db()
    assert (conversation.unread_count, conversation.last_message_preview) == (0, "Outgoing call: no answer")


@pytest.mark.django_db
def test_a_late_report_of_an_old_call_leaves_the_newer_preview_but_tells_open_tabs(org, our_number):
    contact = contact_of(org)
    conversation = conversation_of(org, our_number, contact)
    now = timezone.now()
    message_at(org, conversation, now, "Newest")
    with tenant_scope(org):
        Conversation.objects.filter(pk=conversation.pk).update(last_message_at=now, last_message_preview="Newest",
                                                               updated_at=now - timedelta(minutes=1))
    old = call_at(org, our_number, contact, now - timedelta(hours=3), status="no-answer", answered_at=None)
    announce(org, old)
    with tenant_scope(org):
        conversation.refresh_from_db()
    assert (conversation.last_message_at, conversation.last_message_preview, conversation.unread_count) == (
        now, "Newest", 0)
    assert conversation.updated_at > now


@pytest.mark.django_db
def test_a_call_without_a_contact_touches_no_conversation(org, our_number):
    call = call_at(org, our_number, None, timezone.now(), status="no-answer", answered_at=None)
    announce(org, call, created=True)
    with tenant_scope(org):
        assert not Conversation.objects.exists()


@pytest.mark.django_db
def test_the_live_poll_brings_a_call_into_the_open_thread(agent_client, org, our_number):
    contact = contact_of(org)
    conversation = conversation_of(org, our_number, contact)
    message_at(org, conversation, timezone.now() - timedelta(minutes=5), "Hello")
    cursor = timezone.now().isoformat()  # the tab has the message already
    call = call_at(org, our_number, contact, timezone.now(), status="ringing", answered_at=None, ended_at=None)
    announce(org, call, created=True)
    data = agent_client.get(f"/o/{org.slug}/inbox/poll/",
                            {"v": "stale", "cursor": cursor, "view": "all", "c": conversation.pk}).json()
    assert [row["id"] for row in data["rows"]] == [str(conversation.pk)]
    assert "Incoming call" in data["rows"][0]["html"]
    assert [item["id"] for item in data["messages"]] == [str(call.pk)], data["messages"]
    [item] = data["messages"]
    assert item["created"] == call.created_at.isoformat()
    assert item["html"].startswith(f'<article id="m-{call.pk}" class="bubble call inbound"')
    assert "Ringing" in item["html"]
    # It ends unanswered: the next poll replaces the same item with the missed call.
    cursor = data["cursor"]
    with tenant_scope(org):
        Call.objects.filter(pk=call.pk).update(status="no-answer", ended_at=timezone.now(),
                                               updated_at=timezone.now())
    announce(org, call)
    data = agent_client.get(f"/o/{org.slug}/inbox/poll/",
                            {"v": "stale", "cursor": cursor, "view": "all", "c": conversation.pk}).json()
    # (The cursor overlaps the last poll by a few seconds: the message comes again; the page places
    # items by id, never twice.)
    [item] = [item for item in data["messages"] if item["id"] == str(call.pk)]
    assert 'class="bubble call inbound missed"' in item["html"]
    assert "Missed call" in item["html"]
