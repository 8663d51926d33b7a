"""The agent inbox, through its pages: what an agent sees and does (the browser tests drive the same
pages in Chromium; these check rows, queries and refusals quickly)."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core import stamps
from crm import merges
from crm import services as crm_services
from messaging import selectors
from messaging.models import CannedReply, Conversation, ConversationStatus, Direction, Message, MessageStatus
from messaging.services import conversations, outbound
from messaging.services import live as live_service
from tenants.scoping import tenant_scope
from tests.messaging.conftest import CUSTOMER
from tests.vendor_fixtures import ACME_SID

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def make_conversation(org, number, phone, *, name="", messages=1, body="Hello there", at=None, assignee=None,
                      status=ConversationStatus.OPEN, labels=()):
    at = at or timezone.now()
    with tenant_scope(org):
        contact = crm_services.contact_for(organization=org, phone=phone)
        if name:
            contact.name = name
            contact.save()
        conversation = conversations.conversation_for(organization=org, contact=contact, channel="sms",
                                                      phone_number=number)
        for i in range(messages):
            Message.objects.create(organization=org, conversation=conversation, direction=Direction.INBOUND,
                                   channel="sms", body=f"{body} {i}", status=MessageStatus.RECEIVED,
                                   provider_sid=f"SM{conversation.pk.hex[:16]}{i:016d}")
        Conversation.objects.filter(pk=conversation.pk).update(
            last_message_at=at, last_message_preview=f"{body} {messages - 1}", unread_count=messages,
            assignee=assignee, status=status, labels=list(labels))
        conversation.refresh_from_db()
        return conversation


def inbox_url(org, **params):
    return f"/o/{org.slug}/inbox/" + (f"?{urlencode(params)}" if params else "")


def test_the_inbox_lists_newest_activity_first_with_previews_and_badges(agent_client, org, our_number, agent):
    now = timezone.now()
    older = make_conversation(org, our_number, "+14155550101", name="Olga Older", at=now - timedelta(hours=2))
    newer = make_conversation(org, our_number, "+14155550102", name="Nina Newer", at=now, messages=3)
    page = agent_client.get(inbox_url(org, view="all")).content.decode()
    assert page.index("Nina Newer") < page.index("Olga Older")
    assert f'id="row-{newer.pk}"' in page and f'id="row-{older.pk}"' in page
    assert 'aria-label="3 unread"' in page
    assert "Hello there 2" in page  # the last message's preview
    assert '<span id="unread-total">2</span>' in page


def test_views_and_filters(agent_client, org, our_number, agent):
    make_conversation(org, our_number, "+14155550103", name="Mine Person", assignee=agent)
    free = make_conversation(org, our_number, "+14155550104", name="Free Person")
    make_conversation(org, our_number, "+14155550105", name="Done Person", status=ConversationStatus.DONE,
                      labels=["vip"])
    default = agent_client.get(inbox_url(org)).content.decode()  # an agent starts on Mine, Open
    assert "Mine Person" in default and "Free Person" not in default
    unassigned = agent_client.get(inbox_url(org, view="unassigned")).content.decode()
    assert "Free Person" in unassigned and "Mine Person" not in unassigned and "Done Person" not in unassigned
    finished = agent_client.get(inbox_url(org, view="all", status="done")).content.decode()
    assert "Done Person" in finished and "Free Person" not in finished
    labelled = agent_client.get(inbox_url(org, view="all", status="", label="vip")).content.decode()
    assert "Done Person" in labelled and "Mine Person" not in labelled
    with tenant_scope(org):
        Conversation.objects.filter(pk=free.pk).update(unread_count=0)
    unread = agent_client.get(inbox_url(org, view="all", unread="on")).content.decode()
    assert "Mine Person" in unread and "Free Person" not in unread
    line = agent_client.get(inbox_url(org, view="all", line=f"n:{our_number.pk}")).content.decode()
    assert "Mine Person" in line


def test_search_finds_names_numbers_and_message_text_in_every_status(agent_client, org, our_number):
    make_conversation(org, our_number, "+14155550106", name="Maria Lopez", body="Where is my order 1042")
    make_conversation(org, our_number, "+14155550107", name="Bob Stone", body="Thanks", status=ConversationStatus.DONE)
    by_name = agent_client.get(inbox_url(org, view="all", q="mar")).content.decode()
    assert "Maria Lopez" in by_name and "Bob Stone" not in by_name
    by_text = agent_client.get(inbox_url(org, view="all", q="ord 1042")).content.decode()
    assert "Maria Lopez" in by_text and "Bob Stone" not in by_text
    by_number = agent_client.get(inbox_url(org, view="all", q="555-0107")).content.decode()
    assert "Bob Stone" in by_number and "Maria Lopez" not in by_number  # found although Done
    nothing = agent_client.get(inbox_url(org, view="all", q="zzzz")).content.decode()
    assert "No conversations here." in nothing


def test_paging_is_by_cursor_and_shows_every_row_once(agent_client, org, our_number):
    now = timezone.now()
    for i in range(55):
        make_conversation(org, our_number, f"+1415555{1000 + i:04d}", name=f"Person {i:02d}",
                          at=now - timedelta(minutes=i))
    first = agent_client.get(inbox_url(org, view="all")).content.decode()
    assert first.count('class="row-item') == 50
    after = re.search(r'after=([^"]+)"', first).group(1)  # as the "Load more" button asks for it
    rest = agent_client.get(f"/o/{org.slug}/inbox/list/?view=all&after={after}")
    assert rest.status_code == 200
    names = re.findall(r'row-name">(Person \d+)<', first) + re.findall(r'row-name">(Person \d+)<', rest.content.decode())
    assert names == [f"Person {i:02d}" for i in range(55)]


def test_bad_filters_and_cursors_are_400_with_a_reason(agent_client, org):
    response = agent_client.get(inbox_url(org, status="sleeping"))
    assert response.status_code == 400 and "sleeping" in response.content.decode()
    response = agent_client.get(f"/o/{org.slug}/inbox/list/?after=yesterday")
    assert response.status_code == 400 and "reload the inbox" in response.content.decode()
    response = agent_client.get(f"/o/{org.slug}/inbox/poll/?cursor=nope")
    assert response.status_code == 400


def test_opening_a_conversation_marks_it_read_for_the_team(agent_client, owner_client, org, our_number):
    conversation = make_conversation(org, our_number, CUSTOMER, name="Reader", messages=2)
    response = agent_client.get(f"/o/{org.slug}/inbox/c/{conversation.pk}/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Hello there 0" in body and "Hello there 1" in body
    assert 'hx-swap-oob="true"' in body  # the contact pane comes along
    with tenant_scope(org):
        conversation.refresh_from_db()
    assert conversation.unread_count == 0
    assert f'id="row-{conversation.pk}" class="row-item"' in owner_client.get(inbox_url(org, view="all")).content.decode()


def test_stored_markup_is_shown_as_text_everywhere(agent_client, org, our_number):
    conversation = make_conversation(org, our_number, CUSTOMER, name=XSS, body=XSS)
    with tenant_scope(org):
        Message.objects.create(organization=org, conversation=conversation, direction=Direction.INBOUND, channel="mms",
                               body="", status=MessageStatus.RECEIVED, provider_sid="SMxssmedia",
                               media=[{"url": "https://api.twilio.com/x.jpg", "content_type": "image/jpeg",
                                       "type": "image", "caption": XSS}], media_type="image")
    page = agent_client.get(inbox_url(org, view="all", c=conversation.pk)).content.decode()
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "onerror=alert(1)&gt;" in page


def test_list_and_thread_run_a_constant_number_of_queries(agent_client, org, our_number, agent):
    def count(url):
        with CaptureQueriesContext(connection) as queries:
            assert agent_client.get(url).status_code == 200
        return len(queries)

    first = make_conversation(org, our_number, "+14155550110", messages=2, assignee=agent, labels=["a"])
    unread_thread = count(inbox_url(org, view="all", c=first.pk))  # opening it marks it read: one UPDATE
    small_list, small_thread = count(inbox_url(org, view="all")), count(inbox_url(org, view="all", c=first.pk))
    assert small_thread == unread_thread - 1  # a read conversation is not written again
    for i in range(20):
        make_conversation(org, our_number, f"+1415555{2000 + i:04d}", messages=1, assignee=agent, labels=["b"])
    with tenant_scope(org):
        for i in range(40):
            Message.objects.create(organization=org, conversation=first, direction=Direction.OUTBOUND, channel="sms",
                                   body=f"reply {i}", status=MessageStatus.DELIVERED, created_by=agent.user)
    assert count(inbox_url(org, view="all")) == small_list
    assert count(inbox_url(org, view="all", c=first.pk)) == small_thread


def test_replying_queues_the_message_and_shows_the_bubble(agent_client, org, our_number, twilio,
                                                         django_capture_on_commit_callbacks):
    conversation = make_conversation(org, our_number, CUSTOMER)
    with django_capture_on_commit_callbacks(execute=True):
        response = agent_client.post(f"/o/{org.slug}/inbox/c/{conversation.pk}/send/",
                                     {"body": "On its way <b>now</b>"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 201
    assert "On its way &lt;b&gt;now&lt;/b&gt;" in response.content.decode()
    assert "Pending" in response.content.decode()  # the bubble starts pending; the worker sends it
    sent = twilio.messages(ACME_SID)
    assert [m["body"] for m in sent] == ["On its way <b>now</b>"]
    with tenant_scope(org):
        message = Message.objects.get(conversation=conversation, direction=Direction.OUTBOUND)
    assert message.status == MessageStatus.QUEUED and message.created_by.username == "dana"


def test_a_private_note_is_kept_and_never_sent(agent_client, org, our_number, twilio,
                                               django_capture_on_commit_callbacks):
    conversation = make_conversation(org, our_number, CUSTOMER)
    with django_capture_on_commit_callbacks(execute=True):
        response = agent_client.post(f"/o/{org.slug}/inbox/c/{conversation.pk}/send/",
                                     {"body": "Customer is a VIP", "note": "on"}, HTTP_HX_REQUEST="true")
        with tenant_scope(org):
            outbound.messages_sweep(organization=org)  # nor does the sweeper pick it up
    assert response.status_code == 201 and "Private note" in response.content.decode()
    assert twilio.messages(ACME_SID) == []
    with tenant_scope(org):
        assert Message.objects.get(conversation=conversation, direction=Direction.NOTE).body == "Customer is a VIP"


def test_refused_replies_say_why_and_store_nothing(agent_client, org, our_number, twilio):
    conversation = make_conversation(org, our_number, CUSTOMER)
    with tenant_scope(org):
        crm_services.contact_set_opt_out(contact=conversation.contact, channel="sms", opted_out=True, source="STOP")
    page = agent_client.get(inbox_url(org, view="all", c=conversation.pk)).content.decode()
    assert "opted out of SMS" in page  # the verdict, before anything is typed
    response = agent_client.post(f"/o/{org.slug}/inbox/c/{conversation.pk}/send/", {"body": "Hi"},
                                 HTTP_HX_REQUEST="true")
    assert response.status_code == 400 and "opted out" in response.content.decode()
    empty = agent_client.post(f"/o/{org.slug}/inbox/c/{conversation.pk}/send/", {"body": ""}, HTTP_HX_REQUEST="true")
    assert empty.status_code == 400
    with tenant_scope(org):
        assert not Message.objects.filter(conversation=conversation, direction=Direction.OUTBOUND).exists()
    assert twilio.messages(ACME_SID) == []


def test_an_attachment_is_sent_by_a_signed_link_the_provider_can_fetch(agent_client, org, our_number, twilio,
                                                                       settings, tmp_path, client,
                                                                       django_capture_on_commit_callbacks):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    conversation = make_conversation(org, our_number, CUSTOMER)
    picture = SimpleUploadedFile("p.png", b"\x89PNG\r\n\x1a\nfake", content_type="image/png")
    with django_capture_on_commit_callbacks(execute=True):
        response = agent_client.post(f"/o/{org.slug}/inbox/c/{conversation.pk}/send/",
                                     {"body": "", "attachment": picture}, HTTP_HX_REQUEST="true")
    assert response.status_code == 201
    media_url = [r.form for r in twilio.requests if r.path.endswith("/Messages.json")][0]["MediaUrl"]
    media_url = media_url[0] if isinstance(media_url, list) else media_url
    assert media_url.startswith(settings.PUBLIC_BASE_URL + "/attachments/")
    fetched = client.get(media_url.removeprefix(settings.PUBLIC_BASE_URL))  # no login, as Twilio fetches
    assert fetched.status_code == 200 and b"".join(fetched.streaming_content).endswith(b"fake")
    assert client.get("/attachments/forged-token/").status_code == 404
    too_big = SimpleUploadedFile("big.png", b"0" * (5 * 1024 * 1024 + 1), content_type="image/png")
    response = agent_client.post(f"/o/{org.slug}/inbox/c/{conversation.pk}/send/", {"attachment": too_big},
                                 HTTP_HX_REQUEST="true")
    assert response.status_code == 400 and "5 MB" in response.content.decode()


def test_actions_assign_snooze_label_and_mark_unread(agent_client, org, our_number, agent):
    conversation = make_conversation(org, our_number, CUSTOMER)
    url = f"/o/{org.slug}/inbox/c/{conversation.pk}/update/"
    assert agent_client.post(url, {"assignee": "me"}, HTTP_HX_REQUEST="true").status_code == 200
    assert agent_client.post(url, {"add_label": "refund"}, HTTP_HX_REQUEST="true").status_code == 200
    later = (timezone.localtime() + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
    head = agent_client.post(url, {"status": "snoozed", "snooze_until": later}, HTTP_HX_REQUEST="true")
    assert "Snoozed until" in head.content.decode()
    past = agent_client.post(url, {"status": "snoozed", "snooze_until": "2020-01-01T10:00"}, HTTP_HX_REQUEST="true")
    assert past.status_code == 400 and "future" in past.content.decode()
    with tenant_scope(org):
        Conversation.objects.filter(pk=conversation.pk).update(unread_count=0)
    agent_client.post(url, {"unread": "on"}, HTTP_HX_REQUEST="true")
    with tenant_scope(org):
        conversation.refresh_from_db()
    assert (conversation.assignee_id, conversation.labels, conversation.status, conversation.unread_count) == (
        agent.pk, ["refund"], "snoozed", 1)
    with tenant_scope(org):
        Conversation.objects.filter(pk=conversation.pk).update(snoozed_until=timezone.now() - timedelta(minutes=1))
        conversations.conversations_wake(organization=org)
        conversation.refresh_from_db()
    assert conversation.status == "open"


def test_the_live_poll_is_empty_until_something_changes(agent_client, org, our_number, twilio_posts):
    from tests.vendor_fixtures import ACME_TOKEN

    conversation = make_conversation(org, our_number, CUSTOMER, name="Live Person")
    page = agent_client.get(inbox_url(org, view="all", c=conversation.pk)).content.decode()
    version = re.search(r'data-version="([^"]*)"', page).group(1)
    cursor = re.search(r'data-cursor="([^"]*)"', page).group(1)
    poll = f"/o/{org.slug}/inbox/poll/"
    first = agent_client.get(poll, {"v": version, "cursor": cursor, "view": "all", "c": conversation.pk})
    assert first.status_code in (200, 204)
    if first.status_code == 200:  # the page's own mark-as-read moved the counter; take the new place
        version, cursor = first.json()["version"], first.json()["cursor"]
    with CaptureQueriesContext(connection) as queries:
        quiet = agent_client.get(poll, {"v": version, "cursor": cursor, "view": "all", "c": conversation.pk})
    assert quiet.status_code == 204
    assert not [q for q in queries if "messaging_" in q["sql"]]  # answered without reading messages
    twilio_posts.inbound(ACME_TOKEN, body="Is anyone there?", message_sid="SM" + "7" * 32)
    changed = agent_client.get(poll, {"v": version, "cursor": cursor, "view": "all", "c": conversation.pk})
    assert changed.status_code == 200
    data = changed.json()
    assert data["version"] != version
    assert [row["id"] for row in data["rows"]] == [str(conversation.pk)]
    assert any("Is anyone there?" in m["html"] for m in data["messages"])


def test_the_live_poll_reports_delivery_and_rows_leaving_the_view(agent_client, org, our_number, twilio,
                                                                  twilio_posts, django_capture_on_commit_callbacks):
    from tests.vendor_fixtures import ACME_TOKEN

    conversation = make_conversation(org, our_number, CUSTOMER)
    with django_capture_on_commit_callbacks(execute=True):
        agent_client.post(f"/o/{org.slug}/inbox/c/{conversation.pk}/send/", {"body": "Sent"}, HTTP_HX_REQUEST="true")
    sid = twilio.messages(ACME_SID)[0]["sid"]
    cursor = (timezone.now() - timedelta(seconds=1)).isoformat()
    twilio_posts.status(ACME_TOKEN, message_sid=sid, status="delivered")
    data = agent_client.get(f"/o/{org.slug}/inbox/poll/",
                            {"v": "x", "cursor": cursor, "view": "all", "c": conversation.pk}).json()
    assert any("Delivered" in m["html"] for m in data["messages"])
    agent_client.post(f"/o/{org.slug}/inbox/c/{conversation.pk}/update/", {"status": "done"}, HTTP_HX_REQUEST="true")
    data = agent_client.get(f"/o/{org.slug}/inbox/poll/", {"v": "x", "cursor": cursor, "view": "all",
                                                            "status": "open"}).json()
    assert str(conversation.pk) in data["gone"]


def test_redis_down_the_poll_reads_the_database(agent_client, org, our_number, monkeypatch):
    conversation = make_conversation(org, our_number, CUSTOMER)

    # Every Redis client of the app, pointed at a port where nothing listens.
    monkeypatch.setattr("core.stamps._client", stamps.client_for("redis://127.0.0.1:1/0"))
    assert live_service.inbox_version(org) == ""
    cursor = (timezone.now() - timedelta(minutes=1)).isoformat()
    response = agent_client.get(f"/o/{org.slug}/inbox/poll/", {"v": "", "cursor": cursor, "view": "all"})
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["rows"]] == [str(conversation.pk)]


def test_canned_replies_are_offered_in_the_composer(owner_client, agent_client, org, our_number):
    response = owner_client.post(f"/o/{org.slug}/canned-replies/", {"shortcut": "hours", "title": "Opening hours",
                                                                   "body": "We are open 9 to 5."})
    assert response.status_code == 302
    duplicate = owner_client.post(f"/o/{org.slug}/canned-replies/", {"shortcut": "hours", "title": "Again",
                                                                    "body": "x"})
    assert duplicate.status_code == 400 and "already used" in duplicate.content.decode()
    refused = agent_client.post(f"/o/{org.slug}/canned-replies/", {"shortcut": "x", "title": "x", "body": "x"})
    assert refused.status_code == 403
    conversation = make_conversation(org, our_number, CUSTOMER)
    page = agent_client.get(inbox_url(org, view="all", c=conversation.pk)).content.decode()
    assert 'data-shortcut="hours" data-body="We are open 9 to 5."' in page
    with tenant_scope(org):
        assert CannedReply.objects.count() == 1


def test_availability_and_contact_notes(agent_client, org, our_number, agent):
    response = agent_client.post(f"/o/{org.slug}/inbox/availability/", {"availability": "away"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    with tenant_scope(org):
        agent.refresh_from_db()
    assert agent.availability == "away"
    assert agent_client.post(f"/o/{org.slug}/inbox/availability/", {"availability": "asleep"},
                             HTTP_HX_REQUEST="true").status_code == 400
    conversation = make_conversation(org, our_number, CUSTOMER)
    response = agent_client.post(f"/o/{org.slug}/inbox/contacts/{conversation.contact_id}/notes/",
                                 {"notes": "Prefers mornings"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    with tenant_scope(org):
        conversation.contact.refresh_from_db()
    assert conversation.contact.notes == "Prefers mornings"


def test_the_inbox_page_has_a_csp_without_inline_scripts(agent_client, org):
    response = agent_client.get(inbox_url(org))
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "<script>" not in response.content.decode()  # every script is a file


def test_sentiment_and_inbound_through_the_webhook_show_up(agent_client, org, our_number, twilio_posts):
    from tests.vendor_fixtures import ACME_TOKEN

    twilio_posts.inbound(ACME_TOKEN, body="This is terrible, I am very angry", message_sid="SM" + "8" * 32)
    with tenant_scope(org):
        conversation = Conversation.objects.get()
    page = agent_client.get(inbox_url(org, view="all", c=conversation.pk)).content.decode()
    assert "Sentiment: </span>negative" in page


def test_posts_without_the_csrf_token_are_refused(agent_user, org, our_number):
    from django.test import Client

    conversation = make_conversation(org, our_number, CUSTOMER)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(agent_user)
    for path, data in [("send/", {"body": "hi"}), ("update/", {"status": "done"})]:
        response = browser.post(f"/o/{org.slug}/inbox/c/{conversation.pk}/{path}", data, HTTP_HX_REQUEST="true")
        assert response.status_code == 403, path
    page = browser.get(inbox_url(org, view="all"))
    token = page.cookies["csrftoken"].value
    response = browser.post(f"/o/{org.slug}/inbox/c/{conversation.pk}/update/", {"status": "done"},
                            HTTP_HX_REQUEST="true", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200  # the header htmx sends from <body hx-headers>
    with tenant_scope(org):
        assert not Message.objects.filter(conversation=conversation, direction=Direction.OUTBOUND).exists()
        conversation.refresh_from_db()
    assert conversation.status == "done"


def test_a_number_without_mms_says_so_when_a_file_is_attached(agent_client, org, our_number):
    conversation = make_conversation(org, our_number, CUSTOMER)
    with tenant_scope(org):
        our_number.capabilities = {"sms": True, "mms": False, "voice": True}
        our_number.save()
    page = agent_client.get(inbox_url(org, view="all", c=conversation.pk)).content.decode()
    assert 'data-media-refusal="+14155550142 cannot send MMS (pictures or files); send text only."' in page


def test_the_rows_links_are_the_routes_urls(agent_client, org, our_number):
    from django.urls import reverse

    conversation = make_conversation(org, our_number, CUSTOMER)
    page = agent_client.get(inbox_url(org, view="all")).content.decode()
    opened = reverse("messaging:conversation-open", kwargs={"org_slug": org.slug, "conversation_id": conversation.pk})
    assert f'hx-get="{opened}"' in page
    assert f'href="{reverse("messaging:inbox", kwargs={"org_slug": org.slug})}?c={conversation.pk}"' in page


def test_the_quiet_path_answers_from_redis_without_the_session_or_the_database(agent_client, org, our_number,
                                                                               twilio_posts):
    from django.test import Client

    from tests.vendor_fixtures import ACME_TOKEN

    make_conversation(org, our_number, CUSTOMER)
    page = agent_client.get(inbox_url(org, view="all")).content.decode()
    live_url = re.search(r'data-live-url="([^"]+)"', page).group(1)
    version = re.search(r'data-version="([^"]*)"', page).group(1)
    cursor = re.search(r'data-cursor="([^"]*)"', page).group(1)
    anonymous = Client()  # the tab sends no cookies on this path
    with CaptureQueriesContext(connection) as queries:
        quiet = anonymous.get(live_url, {"v": version, "cursor": cursor})
    assert quiet.status_code == 204 and len(queries) == 0
    twilio_posts.inbound(ACME_TOKEN, body="News?", message_sid="SM" + "9" * 32)
    assert anonymous.get(live_url, {"v": version, "cursor": cursor}).status_code == 200  # ask the real poll
    stale = (timezone.now() - timedelta(minutes=5)).isoformat()
    assert anonymous.get(live_url, {"v": version, "cursor": stale}).status_code == 200  # recheck the database
    forged = live_url.replace("/live/", "/live/x")
    assert anonymous.get(forged, {"v": version, "cursor": cursor}).status_code == 404
    data = agent_client.get(f"/o/{org.slug}/inbox/poll/", {"v": version, "cursor": cursor, "view": "all"}).json()
    assert data["token"] and any("News?" in row["html"] for row in data["rows"])


def test_the_label_filter_offers_each_label_in_use_once(agent_client, org, our_number, agent):
    now = timezone.now()
    make_conversation(org, our_number, "+14155550161", labels=["vip", "refund"], at=now)
    make_conversation(org, our_number, "+14155550162", labels=["vip"], at=now - timedelta(hours=1))
    make_conversation(org, our_number, "+14155550163", labels=["b2b"], at=now - timedelta(hours=2))
    page = agent_client.get(inbox_url(org, view="all")).content.decode()
    offered = re.findall(r'<option value="([^"]*)" >', page.split('name="label"', 1)[1].split("</select>", 1)[0])
    assert offered == ["b2b", "refund", "vip"]


def test_a_change_wakes_only_the_tabs_that_can_show_it(agent_client, org, our_number, agent, twilio_posts,
                                                        django_capture_on_commit_callbacks):
    """Mine tabs sleep through changes to colleagues' conversations; All tabs and the tab that has
    the conversation open do not; a reassignment wakes the new assignee's Mine tab."""
    from django.test import Client

    from tests import factories
    from tests.vendor_fixtures import ACME_TOKEN

    colleague = factories.make_agent(org, user=factories.make_user("colleague"), name="Colleague")
    theirs = make_conversation(org, our_number, CUSTOMER, assignee=colleague)
    anonymous = Client()

    def tab(**params):
        page = agent_client.get(inbox_url(org, **params)).content.decode()
        live_url = re.search(r'data-live-url="([^"]+)"', page).group(1)
        version = re.search(r'data-version="([^"]*)"', page).group(1)
        cursor = re.search(r'data-cursor="([^"]*)"', page).group(1)
        query = {"v": version, "cursor": cursor, "view": params.get("view", ""), "c": params.get("c", "")}
        return lambda: anonymous.get(live_url, query).status_code

    mine, everything, open_there = tab(), tab(view="all"), tab(c=theirs.pk)
    assert (mine(), everything(), open_there()) == (204, 204, 204)
    twilio_posts.inbound(ACME_TOKEN, body="For the colleague", message_sid="SM" + "7" * 32)
    assert mine() == 204  # not this agent's conversation
    assert everything() == 200 and open_there() == 200
    mine = tab()
    with django_capture_on_commit_callbacks(execute=True):
        response = agent_client.post(f"/o/{org.slug}/inbox/c/{theirs.pk}/update/", {"assignee": "me"},
                                     HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert mine() == 200  # now it is


def test_a_conversation_opened_on_a_full_page_shows_its_messages_in_the_thread_not_as_banners(
        agent_client, org, our_number, agent):
    """Where a call's notification and the call log lead (?c=...): the thread's messages once, and
    the page's flash messages (none here) stay empty."""
    conversation = make_conversation(org, our_number, CUSTOMER, name="Maria Lopez", messages=2)
    page = agent_client.get(inbox_url(org, view="all", c=conversation.pk)).content.decode()
    assert page.count("Hello there 1") == 2  # its bubble and the row's preview
    assert '<ul class="messages">' not in page
    assert "inbound sms received" not in page


def test_the_unread_figure_counts_to_999_then_says_999_plus(agent_client, org, our_number):
    from messaging import selectors

    make_conversation(org, our_number, "+14155550167", messages=2)
    page = agent_client.get(inbox_url(org, view="all")).content.decode()
    assert '<span id="unread-total">1</span> unread' in page
    with tenant_scope(org), connection.cursor() as cursor:
        cursor.execute(  # 1,000 more unread conversations, each of its own contact
            "insert into crm_contact (id, organization_id, phone_number, address_kind, name, email, "
            "whatsapp_profile_name, wa_id, profile_image_url, sms_opt_out_source, whatsapp_opt_out_source, notes, "
            "created_at, updated_at) select gen_random_uuid(), %s, '+1555' || lpad(i::text, 7, '0'), 'phone', '', '', "
            "'', '', '', '', '', '', now(), now() from generate_series(1, 1000) i", [org.pk])
        cursor.execute(
            "insert into messaging_conversation (id, organization_id, contact_id, channel, phone_number_id, status, "
            "unread_count, last_message_preview, labels, created_at, updated_at, last_message_at) "
            "select gen_random_uuid(), organization_id, id, 'sms', %s, 'open', 1, 'hi', '{}', now(), now(), now() "
            "from crm_contact where organization_id = %s and phone_number like '+1555%%'", [our_number.pk, org.pk])
        assert selectors.inbox_unread_total(organization=org) == 1000  # counted no further than it shows
    page = agent_client.get(inbox_url(org, view="all")).content.decode()
    assert '<span id="unread-total">999+</span> unread' in page


def _search_names(client, org, q) -> list[str]:
    """Every row a search lists, following "Load more" to the end."""
    page = client.get(inbox_url(org, view="all", q=q)).content.decode()
    names = re.findall(r'row-name">([^<]+)<', page)
    while (after := re.search(r'after=([^"&]+)', page)) is not None:
        query = urlencode({"view": "all", "q": q})
        page = client.get(f"/o/{org.slug}/inbox/list/?{query}&after={after.group(1)}").content.decode()
        names += re.findall(r'row-name">([^<]+)<', page)
    return names


def test_a_search_lists_the_same_rows_whether_its_matches_are_sorted_or_walked_to(agent_client, org, our_number,
                                                                                    monkeypatch):
    """Each kind of match is sorted, or found by walking the conversations newest first, as the
    planner's estimate of its matches says (messaging.selectors._search_order); a message word the
    estimates say nothing of is looked for in the newest conversations first. Every way lists every
    match once, newest first, across pages."""
    now = timezone.now()
    expected = []
    for i in range(180):  # more matches of each kind than a page holds
        at = now - timedelta(minutes=(i * 37) % 180)  # created in another order than their activity
        if i % 3 == 0:
            make_conversation(org, our_number, f"+1415556{i:04d}", name=f"Nora Person {i:03d}", at=at)
        elif i % 3 == 1:
            make_conversation(org, our_number, f"+1415556{i:04d}", name=f"Other Person {i:03d}", at=at,
                              body="Nora told me to write")
        else:
            make_conversation(org, our_number, f"+1415556{i:04d}", name=f"Third Person {i:03d}", at=at)
            continue
        expected.append((at, f"{'Nora' if i % 3 == 0 else 'Other'} Person {i:03d}"))
    expected = [name for _, name in sorted(expected, reverse=True)]
    assert len(expected) == 120

    found = {}
    monkeypatch.setattr("messaging.selectors.counts.estimated", lambda qs: 0)  # few: sorted, the messages'
    for window in (0, 40, 10**6):  # after a window (_window) of none, some, or every conversation
        monkeypatch.setattr("messaging.selectors.WINDOW", window)
        found[f"sorted after a window of {window}"] = _search_names(agent_client, org, "nora")
    monkeypatch.setattr("messaging.selectors.counts.estimated", lambda qs: 10**12)  # every match walked to,
    monkeypatch.setattr("messaging.selectors.UNSEEN_MARGIN", 0)  # the message words' too
    found["walked"] = _search_names(agent_client, org, "nora")
    assert found == {way: expected for way in found}


def test_a_short_word_matches_message_text_only_as_a_whole_word(agent_client, org, our_number):
    make_conversation(org, our_number, "+14155550111", name="Short Word", body="I want 4 of them")
    make_conversation(org, our_number, "+14155550112", name="Long Number", body="Where is order 41234")
    assert _search_names(agent_client, org, "4") == ["Short Word"]
    assert _search_names(agent_client, org, "412") == ["Long Number"]  # three characters: a prefix
    assert _search_names(agent_client, org, "order 41") == []


def test_a_rare_word_beside_a_common_one_finds_the_same_rows_either_way(agent_client, org, our_number, monkeypatch):
    """With one word far rarer than another, the rows are found through the rare word and checked for
    the rest (messaging.search.words_matched): the rows listed are the same."""
    make_conversation(org, our_number, "+14155550121", name="Has Both", body="Where is my order 41234")
    make_conversation(org, our_number, "+14155550122", name="Other Number", body="Where is my order 41299")
    make_conversation(org, our_number, "+14155550123", name="Number Only", body="Ref 41234 please")
    make_conversation(org, our_number, "+14155550124", name="Orders Plural", body="Two orders: 41234 and 5")
    expected = {"Has Both", "Orders Plural"}
    monkeypatch.setattr("messaging.search.RAREST_FIRST_RATIO", 0)  # always the rarest word first
    assert set(_search_names(agent_client, org, "order 41234")) == expected
    monkeypatch.setattr("messaging.search.RAREST_FIRST_RATIO", 10**18)  # never
    assert set(_search_names(agent_client, org, "order 41234")) == expected


def test_words_in_different_messages_or_in_the_name_and_a_message_do_not_combine(agent_client, org, our_number,
                                                                                    monkeypatch):
    """Every word typed is in the contact's name or every word in one message: walking the
    conversations reads the words of all their messages at once (migration 0015), and still lists
    exactly what sorting the matching messages' conversations lists."""
    quill = make_conversation(org, our_number, "+14155550131", name="Nora Quill", body="My parcel is late")
    make_conversation(org, our_number, "+14155550132", name="Pat Parcel", body="Thanks")
    with tenant_scope(org):
        Message.objects.create(organization=org, conversation=quill, direction=Direction.OUTBOUND, channel="sms",
                               body="We are sorry: a new one leaves today", status=MessageStatus.SENT)
    monkeypatch.setattr("messaging.selectors.UNSEEN_MARGIN", 0)  # no estimate taken for an unseen word's
    for estimate in (0, 10**12):  # every match sorted, then every match walked to
        monkeypatch.setattr("messaging.selectors.counts.estimated", lambda qs, estimate=estimate: estimate)
        assert _search_names(agent_client, org, "parcel late") == ["Nora Quill"]  # one message
        assert _search_names(agent_client, org, "nora quill") == ["Nora Quill"]  # the name
        assert sorted(_search_names(agent_client, org, "parcel")) == ["Nora Quill", "Pat Parcel"]
        assert _search_names(agent_client, org, "late sorry") == []  # two messages
        assert _search_names(agent_client, org, "nora parcel") == []  # the name and a message
        assert _search_names(agent_client, org, "pat thanks") == []


@pytest.fixture
def walked(monkeypatch):
    """Every search walks the conversations and tests the words on their rows (contact_words,
    message_words) alone: sorting would find the contacts and messages through their own indexes
    and hide a word the triggers failed to keep."""
    monkeypatch.setattr("messaging.selectors.counts.estimated", lambda qs: 10**12)
    monkeypatch.setattr("messaging.selectors.UNSEEN_MARGIN", 0)


def test_search_follows_renames_new_edited_and_removed_messages(agent_client, org, our_number, walked):
    """The words a search reads are kept by the database (migration 0015's triggers): a renamed contact
    is found by its new name only, a new message's words at once, and an edited or removed message's
    words no longer."""
    conversation = make_conversation(org, our_number, "+14155550141", name="Wanda Oldname", body="About the kettle")
    with tenant_scope(org):
        contact = conversation.contact
        contact.name = "Wanda Newname"
        contact.save()
    assert _search_names(agent_client, org, "newname") == ["Wanda Newname"]
    assert _search_names(agent_client, org, "oldname") == []
    with tenant_scope(org):
        Message.objects.create(organization=org, conversation=conversation, direction=Direction.INBOUND,
                               channel="sms", body="And a toaster", status=MessageStatus.RECEIVED)
        Message.objects.create(organization=org, conversation=conversation, direction=Direction.INBOUND,
                               channel="mms", body="", status=MessageStatus.RECEIVED)  # a picture alone
    assert _search_names(agent_client, org, "toaster") == ["Wanda Newname"]
    with tenant_scope(org):
        Message.objects.filter(conversation=conversation, body__contains="toaster").update(body="And a blender")
        Message.objects.filter(conversation=conversation, body__contains="kettle").delete()
    assert _search_names(agent_client, org, "toaster") == []
    assert _search_names(agent_client, org, "kettle") == []
    assert _search_names(agent_client, org, "blender") == ["Wanda Newname"]


def test_search_follows_a_merge_of_two_contacts(agent_client, org, our_number, owner, walked):
    """Merging moves the duplicate's conversation (or its messages) to the survivor: the duplicate's
    words are found on the survivor's row, under the survivor's name, and its old name no longer."""
    survivor = make_conversation(org, our_number, "+14155550151", name="Sam Survivor", body="About the invoice")
    duplicate = make_conversation(org, our_number, "+14155550152", name="Dan Duplicate", body="My refund please")
    with tenant_scope(org):
        merges.contact_merge(organization=org, actor=owner, survivor=survivor.contact, duplicate=duplicate.contact)
    assert _search_names(agent_client, org, "refund") == ["Sam Survivor"]
    assert _search_names(agent_client, org, "invoice") == ["Sam Survivor"]
    assert _search_names(agent_client, org, "duplicate") == []



def test_a_message_word_the_statistics_say_nothing_about_is_looked_for_in_the_newest_first(org, monkeypatch):
    """A word the planner estimates at its floor for unseen words may be in no message or in
    thousands: it is looked for through the newest conversations first, then sorted (what that costs
    is bounded by its real matches), never walked to the end (a walk to a word in no message reads
    every conversation). Above the floor the rule decides; several words, or a number, are sorted."""
    with tenant_scope(org):
        by_name, by_text = selectors._search_matches(org, "melissa")
        _, by_both = selectors._search_matches(org, "melissa order")
        _, _, by_digits = selectors._search_matches(org, "4155550")  # name, number, messages
    floor = 2468.0

    def how(match, matching, conversations):
        monkeypatch.setattr("messaging.selectors.counts.estimated",
                            lambda qs: floor if qs is match.unseen else matching)
        _, order, windowed = selectors._search_order(match, conversations, 51)
        return "windowed" if windowed else "walked" if order[0] == "-last_message_at" else "sorted"

    assert how(by_text, floor, 10**6) == "windowed"
    assert how(by_both, floor, 10**6) == "sorted"
    assert how(by_digits, floor, 10**6) == "sorted"  # a number: an order number or a code, in few messages
    assert how(by_text, floor * 2, 10**6) == "walked"
    assert how(by_text, floor * 2, 10**8) == "sorted"  # rare among a hundred million conversations
    assert by_name.unseen is None and how(by_name, floor, 10**6) == "walked"


def test_a_search_in_a_view_that_shows_nothing_is_empty_not_an_error(owner_client, org, our_number, monkeypatch):
    """The owner is no agent: "Mine" shows them nothing, and a search there, looked for through the
    newest conversations first, finds nothing rather than failing."""
    make_conversation(org, our_number, "+14155550181", name="Melissa Window", body="Where is it")
    monkeypatch.setattr("messaging.selectors.counts.estimated", lambda qs: 0)  # the message word windowed
    response = owner_client.get(inbox_url(org, view="mine", q="melissa"))
    assert response.status_code == 200 and "Melissa Window" not in response.content.decode()
    assert "Melissa Window" in owner_client.get(inbox_url(org, view="all", q="melissa")).content.decode()
