"""The inbox's media view: a customer's attachment fetched from the vendor with the account's
credentials, and nothing else. Real Twilio SDK-side behaviour comes from the Twilio fake (which
checks the Basic credentials and redirects to a CDN); other hosts are local listeners that record
what they receive. 127.0.0.2 stands for a public host where a test says so
(SAFE_FETCH_ALLOWED_NETWORKS); 127.0.0.1 is what it is, a private address."""

from __future__ import annotations

import base64
import time

import pytest

from crm import services as crm_services
from messaging.models import Direction, Message, MessageStatus, WhatsAppSender
from messaging.services import conversations, outbound
from softphone.simulator import whatsapp_webhooks as meta
from softphone.simulator.whatsapp import FakeWhatsApp
from tenants.scoping import tenant_scope
from tests.fakes.listener import Listener
from tests.messaging.test_whatsapp_cloud import ACCESS_TOKEN, DISPLAY, PHONE_NUMBER_ID, post
from tests.vendor_fixtures import ACME_SID, ACME_TOKEN

PNG = b"\x89PNG\r\n\x1a\n" + b"picture" * 100
SVG = (b'<svg xmlns="http://www.w3.org/2000/svg"><script href="/o/acme/media/x/0/"/>'
       b"<script>alert(document.cookie)</script></svg>")
ACME_BASIC = "Basic " + base64.b64encode(f"{ACME_SID}:{ACME_TOKEN}".encode()).decode()


@pytest.fixture
def cdn(settings):
    """Twilio's CDN: another host, standing for a public one."""
    server = Listener("127.0.0.2")
    settings.SAFE_FETCH_ALLOWED_NETWORKS = ["127.0.0.2/32"]
    yield server
    server.stop()


@pytest.fixture
def listener():
    """A server on a private address (an internal service, or an attacker's listener)."""
    server = Listener("127.0.0.1")
    yield server
    server.stop()


def inbound_with_media(org, twilio_posts, url: str, content_type: str) -> Message:
    response, params = twilio_posts.inbound(ACME_TOKEN, body="", media=[(url, content_type)])
    assert response.status_code == 200
    with tenant_scope(org):
        return Message.objects.get(provider_sid=params["MessageSid"])


def media_requests(twilio) -> list:
    return [r for r in twilio.requests if "/Media/" in r.path]


def assert_served(response, body: bytes, content_type: str, disposition: str) -> None:
    """What the browser receives: the bytes, their type, inline or a download, always sandboxed."""
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == body
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"].startswith(disposition)
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"


@pytest.mark.django_db
def test_twilio_media_is_fetched_with_the_credentials_and_the_cdn_redirect_without(
        owner_client, org, our_number, twilio, twilio_posts, cdn):
    cdn_url = cdn.serve("/media/abc.png", PNG, "image/png")
    message = inbound_with_media(org, twilio_posts, twilio.add_media(ACME_SID, b"", "image/png", redirect=cdn_url),
                                 "image/png")
    assert_served(owner_client.get(f"/o/acme/media/{message.pk}/0/"), PNG, "image/png", "inline")
    # Twilio authenticated the request as Acme's account; the CDN got no credentials.
    assert [r.account_sid for r in media_requests(twilio)] == [ACME_SID]
    assert [s.path for s in cdn.seen] == ["/media/abc.png"]
    assert cdn.authorizations() == []


@pytest.mark.django_db
def test_a_redirect_to_a_private_address_is_refused_and_never_requested(owner_client, org, our_number, twilio,
                                                                        twilio_posts, listener):
    inside = listener.serve("/admin/secret.png", PNG, "image/png")
    message = inbound_with_media(org, twilio_posts, twilio.add_media(ACME_SID, b"", "image/png", redirect=inside),
                                 "image/png")
    response = owner_client.get(f"/o/acme/media/{message.pk}/0/")
    assert response.status_code == 502
    assert "not a public internet address" in response.content.decode()
    assert PNG not in response.content
    assert listener.seen == []


@pytest.mark.django_db
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "[::ffff:127.0.0.1]", "0.0.0.0",
                                  "169.254.169.254", "10.0.0.1", "224.0.0.1"])
def test_redirects_to_internal_and_reserved_addresses_are_refused(owner_client, org, our_number, twilio,
                                                                  twilio_posts, host):
    message = inbound_with_media(org, twilio_posts, twilio.add_media(
        ACME_SID, b"", "image/png", redirect=f"http://{host}:9/latest/meta-data/"), "image/png")
    response = owner_client.get(f"/o/acme/media/{message.pk}/0/")
    assert response.status_code == 502
    assert "not a public internet address" in response.content.decode()


@pytest.mark.django_db
def test_a_stored_inbound_url_on_another_host_gets_no_credentials(owner_client, org, our_number, twilio,
                                                                  twilio_posts, listener, cdn):
    """A signed webhook carried a media URL that is not Twilio's: it is not fetched at all, from a
    private or a public host."""
    for server in (listener, cdn):
        url = server.serve("/steal.png", PNG, "image/png")
        message = inbound_with_media(org, twilio_posts, url, "image/png")
        response = owner_client.get(f"/o/acme/media/{message.pk}/0/")
        assert response.status_code == 502
        assert server.seen == []
    # Nor a Twilio-looking URL over plain http, nor another account's media, nor a malformed URL.
    for url in [f"http://api.twilio.com/2010-04-01/Accounts/{ACME_SID}/Messages/MM1/Media/ME1",
                twilio.add_media("AC" + "b" * 32, PNG, "image/png"), "https://[::1", "https://api.twilio.com:99999/"]:
        message = inbound_with_media(org, twilio_posts, url, "image/png")
        assert owner_client.get(f"/o/acme/media/{message.pk}/0/").status_code == 502
    assert media_requests(twilio) == []


@pytest.mark.django_db
def test_outbound_media_is_never_fetched_by_the_proxy(owner_client, org, our_number, twilio, listener):
    """The reproduction of the issue: a message an agent sent with a media URL of their choosing
    (stored before URLs were checked) no longer makes the server call it with the credentials."""
    url = listener.serve("/x.png", PNG, "image/png")
    with tenant_scope(org):
        message = Message.objects.create(
            organization=org, conversation=_conversation(org, our_number), direction=Direction.OUTBOUND,
            channel="mms", media=[{"url": url}], media_type="image", status=MessageStatus.SENT)
    response = owner_client.get(f"/o/acme/media/{message.pk}/0/")
    assert response.status_code == 404
    assert listener.seen == []


def _conversation(org, number):
    contact = crm_services.contact_for(organization=org, phone="+14155550199")
    return conversations.conversation_for(organization=org, contact=contact, channel="sms", phone_number=number)


@pytest.mark.django_db
@pytest.mark.parametrize("declared", [True, False])
def test_an_oversize_upstream_is_cut_at_the_cap(owner_client, org, our_number, twilio, twilio_posts, cdn, settings,
                                                declared):
    settings.SAFE_FETCH_MAX_BYTES = 256 * 1024
    if declared:  # the Content-Length says so: refused before the body is read
        target = cdn.serve("/big.png", b"\0" * (settings.SAFE_FETCH_MAX_BYTES + 1), "image/png")
    else:  # no Content-Length, bytes for ever
        target = cdn.endless("/endless.png")
    message = inbound_with_media(org, twilio_posts, twilio.add_media(ACME_SID, b"", "image/png", redirect=target),
                                 "image/png")
    started = time.monotonic()
    response = owner_client.get(f"/o/acme/media/{message.pk}/0/")
    assert response.status_code == 502
    assert "larger than" in response.content.decode()
    assert time.monotonic() - started < 5


@pytest.mark.django_db
@pytest.mark.parametrize("slow", ["body", "headers"])
def test_a_trickling_upstream_is_cut_at_the_total_time(owner_client, org, our_number, twilio, twilio_posts, cdn,
                                                       settings, slow):
    """One byte every 50 ms (of the body, or of the headers) never trips a per-read timeout; the
    whole fetch still has a deadline."""
    settings.SAFE_FETCH_TIMEOUT_SECONDS = 1.0
    settings.SAFE_FETCH_READ_TIMEOUT_SECONDS = 10.0
    target = cdn.trickle("/slow.png", interval=0.05) if slow == "body" else cdn.slow_headers("/slow.png")
    message = inbound_with_media(org, twilio_posts, twilio.add_media(ACME_SID, b"", "image/png", redirect=target),
                                 "image/png")
    started = time.monotonic()
    response = owner_client.get(f"/o/acme/media/{message.pk}/0/")
    elapsed = time.monotonic() - started
    assert response.status_code == 502
    assert "took too long" in response.content.decode()
    assert elapsed < 3


@pytest.mark.django_db
@pytest.mark.parametrize("content_type, body", [
    ("image/svg+xml", SVG),
    ("text/html", b"<script>alert(1)</script>"),
    ("application/javascript", b"alert(1)"),
    ("text/html; charset=utf-8", b"<h1>x</h1>"),
    ("application/pdf", b"%PDF-1.4"),
])
def test_anything_but_raster_images_audio_and_video_is_a_sandboxed_download(
        owner_client, org, our_number, twilio, twilio_posts, content_type, body):
    message = inbound_with_media(org, twilio_posts, twilio.add_media(ACME_SID, body, content_type), content_type)
    assert_served(owner_client.get(f"/o/acme/media/{message.pk}/0/"), body, "application/octet-stream", "attachment")


@pytest.mark.django_db
def test_media_the_vendor_no_longer_has_is_404_and_an_outsider_sees_nothing(owner_client, outsider_client, org,
                                                                            our_number, twilio, twilio_posts):
    url = twilio.add_media(ACME_SID, PNG, "image/png")
    missing = url[:-1] + ("0" if url[-1] != "0" else "1")
    message = inbound_with_media(org, twilio_posts, missing, "image/png")
    assert owner_client.get(f"/o/acme/media/{message.pk}/0/").status_code == 404
    good = inbound_with_media(org, twilio_posts, url, "image/png")
    assert owner_client.get(f"/o/acme/media/{good.pk}/0/").status_code == 200
    assert owner_client.get(f"/o/acme/media/{good.pk}/1/").status_code == 404
    assert outsider_client.get(f"/o/acme/media/{good.pk}/0/").status_code == 404


# Outbound media URLs at the API ------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("url, reason", [
    ("http://93.184.215.14/a.jpg", "https://"),
    ("https://127.0.0.1:9999/x.png", "not a public internet address"),
    ("https://localhost/x.png", "not a public internet address"),
    ("https://10.1.2.3/x.png", "not a public internet address"),
    ("https://169.254.169.254/latest/meta-data/", "not a public internet address"),
    ("https://[::1]/x.png", "not a public internet address"),
    ("https://[::ffff:192.168.0.1]/x.png", "not a public internet address"),
    ("https://0.0.0.0/x.png", "not a public internet address"),
    ("https://user:pw@93.184.215.14/x.png", "user name or password"),
    ("https://no-such-host.invalid/x.png", "could not be resolved"),
])
def test_outbound_media_urls_must_be_public_https(owner_client, org, our_number, twilio, url, reason):
    conversation = _in_scope_conversation(org, our_number)
    response = owner_client.post(f"/api/acme/conversations/{conversation.pk}/messages",
                                 {"body": "x", "mediaUrls": [url]}, content_type="application/json")
    assert response.status_code == 400
    assert reason in response.json()["mediaUrls"][0]
    with tenant_scope(org):
        assert not Message.objects.filter(direction=Direction.OUTBOUND).exists()


def _in_scope_conversation(org, number):
    with tenant_scope(org):
        return _conversation(org, number)


@pytest.mark.django_db
def test_a_public_https_media_url_is_sent(owner_client, org, our_number, twilio, django_capture_on_commit_callbacks):
    conversation = _in_scope_conversation(org, our_number)
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(f"/api/acme/conversations/{conversation.pk}/messages",
                                     {"body": "x", "mediaUrls": ["https://93.184.215.14/a.jpg"]},
                                     content_type="application/json")
    assert response.status_code == 202
    assert twilio.messages(ACME_SID)[0]["num_media"] == "1"


@pytest.mark.django_db
def test_a_queued_media_url_is_checked_again_when_sent(org, our_number, twilio):
    """What a name resolves to can change between the API and the worker: the worker checks again
    and fails the message with the reason instead of handing the URL to the vendor."""
    with tenant_scope(org):
        message = Message.objects.create(
            organization=org, conversation=_conversation(org, our_number), direction=Direction.OUTBOUND,
            channel="mms", media=[{"url": "https://127.0.0.1/x.png"}], media_type="image",
            status=MessageStatus.PENDING)
        assert outbound.message_deliver(organization=org, message_id=message.pk) == "failed"
        message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert "not a public internet address" in message.error_message
    assert twilio.messages(ACME_SID) == []


# WhatsApp Cloud ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_whatsapp_token_goes_only_to_whatsapps_configured_hosts(owner_client, org, settings):
    """The Graph API's answer names where to download the media; an address outside the Graph
    API's configured host and Meta's media hosts is refused, and the token never goes there. Here
    the Graph API is configured as http://localhost:<port> and its answer points at 127.0.0.1."""
    graph = FakeWhatsApp(access_token=ACCESS_TOKEN)
    try:
        settings.WHATSAPP_GRAPH_BASE_URL = graph.start().replace("127.0.0.1", "localhost")
        graph.add_phone_number(PHONE_NUMBER_ID, DISPLAY)
        with tenant_scope(org):
            WhatsAppSender.objects.create(organization=org, name="Acme WhatsApp", display_phone_number=DISPLAY,
                                          phone_number_id=PHONE_NUMBER_ID, access_token=ACCESS_TOKEN,
                                          app_secret="acme-app-secret", verify_token="acme-verify-token")
        graph.add_media("media-9", PNG, "image/png")
        post(meta.inbound_media(phone_number_id=PHONE_NUMBER_ID, display_phone_number=DISPLAY,
                                from_wa_id="16505551234", media_type="image", media_id="media-9",
                                mime_type="image/png"))
        with tenant_scope(org):
            message = Message.objects.get()
        response = owner_client.get(f"/o/acme/media/{message.pk}/0/")
        assert response.status_code == 502
        assert [r.path for r in graph.requests if r.method == "GET"] == [f"/{settings.WHATSAPP_GRAPH_VERSION}/media-9"]
        settings.WHATSAPP_MEDIA_ORIGINS = [graph.base_url]  # now a media host of Meta's: served, with the token
        served = owner_client.get(f"/o/acme/media/{message.pk}/0/")
        assert served.status_code == 200 and b"".join(served.streaming_content) == PNG
        assert [r.token for r in graph.requests if "/media-download/" in r.path] == [ACCESS_TOKEN]
    finally:
        graph.stop()


@pytest.fixture
def meta_media(org, settings):
    """The Graph API, whose media downloads come from one of Meta's media hosts."""
    graph = FakeWhatsApp(access_token=ACCESS_TOKEN)
    settings.WHATSAPP_GRAPH_BASE_URL = graph.start()
    settings.WHATSAPP_MEDIA_ORIGINS = [graph.base_url]
    graph.add_phone_number(PHONE_NUMBER_ID, DISPLAY)
    with tenant_scope(org):
        WhatsAppSender.objects.create(organization=org, name="Acme WhatsApp", display_phone_number=DISPLAY,
                                      phone_number_id=PHONE_NUMBER_ID, access_token=ACCESS_TOKEN,
                                      app_secret="acme-app-secret", verify_token="acme-verify-token")
    yield graph
    graph.stop()


def whatsapp_media_message(org, media_id: str) -> Message:
    post(meta.inbound_media(phone_number_id=PHONE_NUMBER_ID, display_phone_number=DISPLAY, from_wa_id="16505551234",
                            media_type="image", media_id=media_id, mime_type="image/png"))
    with tenant_scope(org):
        return Message.objects.get(media__0__media_id=media_id)


@pytest.mark.django_db
def test_whatsapp_media_meta_no_longer_has_is_404_and_an_outage_at_meta_is_502(owner_client, org, meta_media):
    expired = whatsapp_media_message(org, "media-expired")  # Graph: no such object (code 100)
    response = owner_client.get(f"/o/acme/media/{expired.pk}/0/")
    assert (response.status_code, response.content) == (404, b"The provider no longer has this attachment.")

    meta_media.add_media("media-1", PNG, "image/png")
    kept = whatsapp_media_message(org, "media-1")
    meta_media.fail_next(1, status=500)
    response = owner_client.get(f"/o/acme/media/{kept.pk}/0/")
    assert (response.status_code, response.content) == (502, b"The attachment could not be fetched from the provider.")
    assert_served(owner_client.get(f"/o/acme/media/{kept.pk}/0/"), PNG, "image/png", "inline")
