"""WhatsApp Cloud API directly: the verification handshake, signed webhooks, sending."""

import pytest
from django.test import Client

from messaging.models import Conversation, Message, WhatsAppSender
from messaging.services import outbound
from softphone.simulator import whatsapp_webhooks as meta
from softphone.simulator.whatsapp import FakeWhatsApp
from tenants.scoping import tenant_scope

PHONE_NUMBER_ID = "106540352242922"
DISPLAY = "+14155550123"
APP_SECRET = "acme-app-secret"
ACCESS_TOKEN = "acme-wa-access-token"
CUSTOMER_WA = "16505551234"


@pytest.fixture
def graph(settings):
    fake = FakeWhatsApp(access_token=ACCESS_TOKEN)
    settings.WHATSAPP_GRAPH_BASE_URL = fake.start()
    fake.add_phone_number(PHONE_NUMBER_ID, DISPLAY)
    yield fake
    fake.stop()


@pytest.fixture
def sender(org):
    with tenant_scope(org):
        return WhatsAppSender.objects.create(
            organization=org, name="Acme WhatsApp", display_phone_number=DISPLAY, phone_number_id=PHONE_NUMBER_ID,
            business_account_id="102290129340398", access_token=ACCESS_TOKEN, app_secret=APP_SECRET,
            verify_token="acme-verify-token")


def post(payload: dict, secret: str | None = APP_SECRET, body: bytes | None = None):
    raw = body if body is not None else meta.encode(payload)
    headers = {"HTTP_X_HUB_SIGNATURE_256": meta.sign(raw, secret)} if secret else {}
    return Client().post("/webhooks/whatsapp/", raw, content_type="application/json", **headers)


def inbound_text(body="Hola, ¿tienen envíos?", **kwargs):
    return meta.inbound_text(phone_number_id=PHONE_NUMBER_ID, display_phone_number=DISPLAY,
                             from_wa_id=CUSTOMER_WA, body=body, profile_name="Ana", **kwargs)


def messages_of(org):
    with tenant_scope(org):
        return list(Message.objects.order_by("created_at").values_list("direction", "body", "status"))


@pytest.mark.django_db
def test_the_verification_handshake(sender):
    ok = Client().get("/webhooks/whatsapp/", {"hub.mode": "subscribe", "hub.verify_token": "acme-verify-token",
                                              "hub.challenge": "1158201444"})
    assert (ok.status_code, ok.content) == (200, b"1158201444")
    bad = Client().get("/webhooks/whatsapp/", {"hub.mode": "subscribe", "hub.verify_token": "guess",
                                               "hub.challenge": "x"})
    assert bad.status_code == 403


@pytest.mark.django_db
def test_a_signed_message_is_stored_once(org, sender):
    payload = inbound_text()
    assert post(payload).status_code == 200
    assert post(payload).status_code == 200  # Meta retries: stored once
    assert messages_of(org) == [("inbound", "Hola, ¿tienen envíos?", "received")]
    with tenant_scope(org):
        conversation = Conversation.objects.select_related("contact").get()
    assert conversation.whatsapp_sender_id == sender.pk
    assert (conversation.contact.phone_number, conversation.contact.whatsapp_profile_name) == ("+16505551234", "Ana")


@pytest.mark.django_db
@pytest.mark.parametrize("case", ["missing", "wrong_secret", "reserialised"])
def test_unsigned_or_badly_signed_posts_are_403_and_store_nothing(org, sender, case):
    payload = inbound_text()
    if case == "missing":
        response = post(payload, secret=None)
    elif case == "wrong_secret":
        response = post(payload, secret="another-tenants-secret")
    else:
        import json

        # Signed over different bytes than those sent: the raw body is what counts.
        signed = json.dumps(payload, indent=2).encode()
        response = Client().post("/webhooks/whatsapp/", meta.encode(payload), content_type="application/json",
                                 HTTP_X_HUB_SIGNATURE_256=meta.sign(signed, APP_SECRET))
    assert response.status_code == 403
    assert messages_of(org) == []


@pytest.mark.django_db
def test_unknown_senders_and_garbage_are_refused(org, sender):
    other = meta.inbound_text(phone_number_id="999", display_phone_number=DISPLAY, from_wa_id=CUSTOMER_WA, body="x")
    assert post(other).status_code == 404
    assert Client().post("/webhooks/whatsapp/", b"not json", content_type="application/json").status_code == 400
    assert messages_of(org) == []


@pytest.mark.django_db
def test_sending_within_the_window_and_statuses_moving_forward(org, sender, graph):
    post(inbound_text())
    graph.open_window(CUSTOMER_WA)
    with tenant_scope(org):
        conversation = Conversation.objects.get()
        reply = outbound.message_send(organization=org, actor=None, conversation=conversation, body="¡Sí!")
        assert outbound.message_deliver(organization=org, message_id=reply.pk) == "sent"
    [sent] = graph.sent()
    assert (sent["to"], sent["text"]["body"], sent["phone_number_id"]) == (CUSTOMER_WA, "¡Sí!", PHONE_NUMBER_ID)
    for status in ("sent", "read", "delivered"):
        post(meta.status_update(phone_number_id=PHONE_NUMBER_ID, display_phone_number=DISPLAY, wamid=sent["wamid"],
                                status=status, recipient_id=CUSTOMER_WA))
    assert messages_of(org)[-1] == ("outbound", "¡Sí!", "read")


@pytest.mark.django_db
def test_a_failed_status_shows_metas_reason(org, sender, graph):
    post(inbound_text())
    graph.open_window(CUSTOMER_WA)
    with tenant_scope(org):
        conversation = Conversation.objects.get()
        reply = outbound.message_send(organization=org, actor=None, conversation=conversation, body="hi")
        outbound.message_deliver(organization=org, message_id=reply.pk)
    wamid = graph.sent()[0]["wamid"]
    post(meta.status_update(phone_number_id=PHONE_NUMBER_ID, display_phone_number=DISPLAY, wamid=wamid,
                            status="failed", recipient_id=CUSTOMER_WA,
                            errors=[meta.status_error(131026, "Message Undeliverable", "Recipient unavailable")]))
    with tenant_scope(org):
        failed = Message.objects.get(pk=reply.pk)
    assert (failed.status, failed.error_code) == ("failed", "131026")
    assert failed.error_message == "WhatsApp could not deliver the message to this recipient."


@pytest.mark.django_db
def test_inbound_media_is_served_through_our_view_with_the_token_kept_server_side(owner_client, org, sender, graph,
                                                                                  outsider_client):
    graph.add_media("media-1", b"\x89PNG fake image", "image/png")
    post(meta.inbound_media(phone_number_id=PHONE_NUMBER_ID, display_phone_number=DISPLAY, from_wa_id=CUSTOMER_WA,
                            media_type="image", media_id="media-1", mime_type="image/png", caption="my order"))
    with tenant_scope(org):
        message = Message.objects.get()
    assert (message.media_type, message.body) == ("image", "my order")
    response = owner_client.get(f"/o/acme/media/{message.pk}/0/")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == b"\x89PNG fake image"
    api = owner_client.get(f"/api/acme/conversations/{message.conversation_id}/messages").json()
    assert api["results"][0]["media"][0]["url"] == f"/o/acme/media/{message.pk}/0/"
    assert ACCESS_TOKEN not in str(api)
    assert outsider_client.get(f"/o/acme/media/{message.pk}/0/").status_code == 404


@pytest.mark.django_db
def test_a_message_with_a_nul_character_is_kept_with_the_character_replaced(org, sender):
    """PostgreSQL cannot store U+0000: the message is kept with U+FFFD in its place, instead of
    failing every time Meta retries it. The signature covers the body as sent."""
    assert post(inbound_text(body="before\x00after")).status_code == 200
    assert messages_of(org) == [("inbound", "before\ufffdafter", "received")]


# Attachments go out as what they are (issue 14: documents and videos used to go out as images) ---------

INVOICE = "https://93.184.215.14/files/invoice.pdf"
CLIP = "https://93.184.215.14/clips/unboxing.mp4"


def send_and_deliver(org, body: str, urls: list[str], content_type: str = "") -> Message:
    with tenant_scope(org):
        conversation = Conversation.objects.get()
        queued = outbound.message_send(organization=org, actor=None, conversation=conversation, body=body,
                                       media_urls=urls, media_content_type=content_type)
        assert outbound.message_deliver(organization=org, message_id=queued.pk) == "sent"
        return Message.objects.get(pk=queued.pk)


def what_meta_received(graph) -> list[dict]:
    return [{k: v for k, v in sent.items() if k not in ("wamid", "phone_number_id")} for sent in graph.sent()]


@pytest.mark.django_db
def test_a_pdf_goes_out_as_a_document_with_its_file_name_and_a_video_as_a_video(org, sender, graph):
    post(inbound_text())
    graph.open_window(CUSTOMER_WA)
    invoice = send_and_deliver(org, "Your invoice", [INVOICE], "application/pdf")
    clip = send_and_deliver(org, "How it looks", [CLIP], "video/mp4")
    assert what_meta_received(graph) == [
        {"messaging_product": "whatsapp", "to": CUSTOMER_WA, "type": "document",
         "document": {"link": INVOICE, "filename": "invoice.pdf", "caption": "Your invoice"}},
        {"messaging_product": "whatsapp", "to": CUSTOMER_WA, "type": "video",
         "video": {"link": CLIP, "caption": "How it looks"}},
    ]
    assert (invoice.status, invoice.media_type, clip.status, clip.media_type) == ("queued", "document",
                                                                                 "queued", "video")


@pytest.mark.django_db
def test_an_uploaded_pdf_is_a_document_named_by_its_type(org, sender, graph, settings, tmp_path):
    """Our upload links name no file: the customer gets "attachment.pdf"."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from messaging.services import attachments

    settings.MEDIA_ROOT = str(tmp_path)
    post(inbound_text())
    graph.open_window(CUSTOMER_WA)
    link = attachments.attachment_store(organization=org, upload=SimpleUploadedFile(
        "Factura marzo.pdf", b"%PDF-1.4 invoice", content_type="application/pdf"))
    send_and_deliver(org, "", [link], "application/pdf")
    assert what_meta_received(graph) == [{"messaging_product": "whatsapp", "to": CUSTOMER_WA, "type": "document",
                                          "document": {"link": link, "filename": "attachment.pdf"}}]


@pytest.mark.django_db
def test_a_bare_url_is_sent_by_its_extension_and_otherwise_as_a_picture(org, sender, graph):
    """The API takes URLs without a type: an audio file's extension says what it is (and Meta takes
    no caption on audio); a URL without one is taken for a picture, as before."""
    post(inbound_text())
    graph.open_window(CUSTOMER_WA)
    send_and_deliver(org, "listen", ["https://93.184.215.14/voice/note.mp3"])
    send_and_deliver(org, "look", ["https://93.184.215.14/p/12345"])
    assert what_meta_received(graph) == [
        {"messaging_product": "whatsapp", "to": CUSTOMER_WA, "type": "audio",
         "audio": {"link": "https://93.184.215.14/voice/note.mp3"}},
        {"messaging_product": "whatsapp", "to": CUSTOMER_WA, "type": "image",
         "image": {"link": "https://93.184.215.14/p/12345", "caption": "look"}},
    ]


@pytest.mark.django_db
def test_a_send_meta_refuses_fails_at_once_with_a_readable_reason(org, sender, graph):
    """Our window is open (the customer wrote) but Meta's is not: Meta's code 131047, in words."""
    post(inbound_text())
    with tenant_scope(org):
        conversation = Conversation.objects.get()
        queued = outbound.message_send(organization=org, actor=None, conversation=conversation, body="hi")
        assert outbound.message_deliver(organization=org, message_id=queued.pk) == "failed"
        failed = Message.objects.get(pk=queued.pk)
    assert (failed.status, failed.error_code) == ("failed", "131047")
    assert failed.error_message == ("WhatsApp allows only approved templates more than 24 hours after the "
                                    "customer's last message.")
    assert graph.sent() == []
