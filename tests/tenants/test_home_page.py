"""An organization's home page: open conversations by status, who waits longest for an answer, today's
first-response time, missed calls, and messages and calls per day as server-drawn charts. Agents land
in the inbox, owners and admins on this page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from crm import services as crm_services
from messaging.models import Conversation, Message
from messaging.services import conversations
from telephony.models import Call, PhoneNumber, Provider
from tenants.scoping import tenant_scope
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def activity(org, owner, twilio_account):
    now = timezone.now()
    with tenant_scope(org):
        number = PhoneNumber.objects.create(organization=org, provider_account=twilio_account, provider=Provider.TWILIO,
                                            phone_number="+14155550142", provider_sid="PN" + "4" * 32,
                                            capabilities={"voice": True, "sms": True})

        def conversation(phone, name, status="open"):
            contact = crm_services.contact_for(organization=org, phone=phone)
            contact.name = name
            contact.save()
            found = conversations.conversation_for(organization=org, contact=contact, channel="sms", phone_number=number)
            Conversation.objects.filter(pk=found.pk).update(status=status)
            return found

        def message(conv, direction, body, at, by=None):
            made = Message.objects.create(organization=org, conversation=conv, direction=direction, channel="sms",
                                          body=body, status="received" if direction == "inbound" else "delivered",
                                          created_by=by)
            Message.objects.filter(pk=made.pk).update(created_at=at)

        # Ana wrote 10 minutes ago and nobody answered yet; Ben was answered after 90 seconds.
        ana, ben = conversation("+14155550101", "Ana Waiting"), conversation("+14155550102", "Ben Answered")
        conversation("+14155550103", "Cy Done", status="done")
        message(ana, "inbound", "Is anyone there?", now - timedelta(minutes=10))
        Conversation.objects.filter(pk=ana.pk).update(last_inbound_at=now - timedelta(minutes=10),
                                                      last_message_at=now - timedelta(minutes=10))
        message(ben, "inbound", "Hello", now - timedelta(minutes=5))
        message(ben, "outbound", "Hi Ben!", now - timedelta(minutes=5) + timedelta(seconds=90), by=owner)
        Conversation.objects.filter(pk=ben.pk).update(last_inbound_at=now - timedelta(minutes=5),
                                                      last_message_at=now - timedelta(minutes=3, seconds=30))
        message(ben, "inbound", "Earlier question", now - timedelta(days=3))
        # A missed call today, from Ana.
        Call.objects.create(organization=org, phone_number=number, contact=ana.contact, direction="inbound",
                            from_number="+14155550101", to_number=number.phone_number, provider_sid="CA" + "7" * 32,
                            status="no-answer")
    return ana, ben


def test_the_home_page_shows_the_days_figures_and_charts(owner_client, org, activity):
    page = owner_client.get(f"/o/{org.slug}/").content.decode()
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    assert "2 open" in text and "1 done" in text
    assert "1 waiting for an answer" in text
    assert "1 min 30 s first response today (1 answered, 1 not yet)" in text
    waiting = page[page.index("Waiting longest"):]
    assert "Ana Waiting" in waiting and "Ben Answered" not in waiting[:waiting.index("</ol>")]
    assert "1 missed today" in text and "Latest missed calls" in text
    # Two charts, drawn on the server, each an image with a title and its figures in a table.
    assert page.count('<svg class="chart"') == 2
    assert "<title id=\"chart-messages-per-day--last-28-days-t\">Messages per day, last 28 days</title>" in page
    today = timezone.localdate()
    assert re.search(rf"<td>{today:%a %b} {today.day}</td><td>2</td><td>1</td>", page)  # today: 2 in, 1 out


def test_agents_land_in_the_inbox_and_owners_on_the_home_page(client, org, owner, agent_user):
    client.post("/accounts/login/", {"username": "dana", "password": PASSWORD})
    assert client.get("/")["Location"] == f"/o/{org.slug}/inbox/"
    client.logout()
    client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert client.get("/")["Location"] == f"/o/{org.slug}/"
