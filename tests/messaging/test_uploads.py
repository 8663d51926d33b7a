"""Uploads and the files we host: bodies over the limit are refused before they are read, files no
message refers to are deleted, and links to our files expire with a reason."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import time

import pytest
from django.core import signing
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from crm import services as crm_services
from messaging.models import Direction, Message
from messaging.services import attachments, conversations
from messaging.tasks import attachments_sweep
from softphone.asgi import limit_request_body
from tenants.scoping import tenant_scope
from tests.messaging.conftest import CUSTOMER

PICTURE = b"\x89PNG\r\n\x1a\n" + b"p" * 1000


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _conversation(org, number):
    with tenant_scope(org):
        contact = crm_services.contact_for(organization=org, phone=CUSTOMER)
        return conversations.conversation_for(organization=org, contact=contact, channel="sms", phone_number=number)


def stored_files(root) -> list[str]:
    return sorted(p.name for p in root.rglob("*") if p.is_file())


# Body limits -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_composer_upload_over_the_limit_is_413_with_a_sentence_and_nothing_is_kept(
        agent_client, org, our_number, media_root, settings, twilio):
    conversation = _conversation(org, our_number)
    too_big = SimpleUploadedFile("big.png", b"0" * (settings.REQUEST_BODY_MAX_BYTES + 1), content_type="image/png")
    response = agent_client.post(f"/o/{org.slug}/inbox/c/{conversation.pk}/send/", {"attachment": too_big},
                                 HTTP_HX_REQUEST="true")
    assert response.status_code == 413
    assert response.content.decode() == "This is too large to accept: an attachment can be at most 5 MB."
    too_big.seek(0)
    page = agent_client.post(f"/o/{org.slug}/inbox/c/{conversation.pk}/send/", {"attachment": too_big})
    assert page.status_code == 413 and "at most 5 MB" in page.content.decode() and "<html" in page.content.decode()
    assert stored_files(media_root) == []
    with tenant_scope(org):
        assert not Message.objects.filter(direction=Direction.OUTBOUND).exists()


@pytest.mark.django_db
def test_an_api_body_over_the_limit_is_413_json(owner_client, org, our_number, settings):
    conversation = _conversation(org, our_number)
    body = json.dumps({"body": "x" * (settings.REQUEST_BODY_MAX_BYTES + 1)})
    response = owner_client.post(f"/api/acme/conversations/{conversation.pk}/messages", body,
                                 content_type="application/json")
    assert response.status_code == 413
    assert response.json() == {"detail": "This is too large to accept: an attachment can be at most 5 MB."}


def _session_request(live_server, client, path: str, declared: int) -> bytes:
    """Headers of a logged-in multipart POST that announces ``declared`` bytes, and none of the body.
    What the server answers within 5 s (b"" if it waits for the body instead)."""
    host, port = live_server.url.removeprefix("http://").split(":")
    token = "a" * 32
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Cookie: sessionid={client.cookies['sessionid'].value}; csrftoken={token}\r\n"
            f"X-CSRFToken: {token}\r\nHX-Request: true\r\n"
            f"Content-Type: multipart/form-data; boundary=xyz\r\nContent-Length: {declared}\r\n\r\n")
    answer = b""
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(head.encode())
        while not _complete(answer):
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            answer += chunk
    return answer


def _complete(answer: bytes) -> bool:
    head, separator, body = answer.partition(b"\r\n\r\n")
    if not separator:
        return False
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


@pytest.mark.django_db(transaction=True)
def test_the_limit_is_enforced_before_the_body_is_read(live_server, agent_client, org, our_number, settings):
    """The client announces 100 MB and sends none of it: the answer comes at once, so the server
    never waited for (let alone spooled) the body."""
    conversation = _conversation(org, our_number)
    started = time.monotonic()
    answer = _session_request(live_server, agent_client, f"/o/{org.slug}/inbox/c/{conversation.pk}/send/",
                              100 * 1024 * 1024)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"at most 5 MB" in answer
    assert time.monotonic() - started < 4


def _asgi(app, *, body_chunks, headers=()):
    """Run an ASGI app on one request; returns (status, body, what the inner app received)."""
    messages = [{"type": "http.request", "body": chunk, "more_body": i < len(body_chunks) - 1}
                for i, chunk in enumerate(body_chunks)]
    sent = []

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/api/acme/messages", "headers": list(headers),
             "query_string": b"", "http_version": "1.1"}
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def test_under_asgi_a_chunked_body_is_cut_off_at_the_limit():
    """Django's ASGI handler reads the whole body before any middleware: the guard in front of it
    counts the stream (no Content-Length) and answers 413 once it passes the limit."""
    seen = []

    async def django_stand_in(scope, receive, send):
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        seen.append(body)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    app = limit_request_body(django_stand_in, limit=1000)
    status, body = _asgi(app, body_chunks=[b"x" * 600, b"x" * 600, b"x" * 600])
    assert status == 413 and "at most" in json.loads(body)["detail"]
    status, _ = _asgi(app, body_chunks=[b"x"], headers=[(b"content-length", b"5000")])
    assert status == 413
    assert seen == []
    assert _asgi(app, body_chunks=[b"x" * 500, b"y" * 500]) == (200, b"ok")
    assert seen == [b"x" * 500 + b"y" * 500]


# Files no message refers to ---------------------------------------------------------------------


def _age(path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


@pytest.mark.django_db
def test_uploads_no_message_refers_to_are_deleted_after_the_grace_period(
        agent_client, org, our_number, twilio, media_root, settings, django_capture_on_commit_callbacks):
    conversation = _conversation(org, our_number)
    with django_capture_on_commit_callbacks(execute=True):
        sent = agent_client.post(f"/o/{org.slug}/inbox/c/{conversation.pk}/send/",
                                 {"attachment": SimpleUploadedFile("p.png", PICTURE, content_type="image/png")},
                                 HTTP_HX_REQUEST="true")
    assert sent.status_code == 201
    # A file stored for a reply that never became a message (a worker killed between the two).
    upload = SimpleUploadedFile("o.png", PICTURE, content_type="image/png")
    with tenant_scope(org):
        attachments.attachment_store(organization=org, upload=upload)
    kept, orphan = sorted(media_root.rglob("*.png"), key=lambda p: p.stat().st_mtime)
    for path in (kept, orphan):
        _age(path, settings.ATTACHMENT_ORPHAN_GRACE_SECONDS + 60)
    upload = SimpleUploadedFile("n.png", PICTURE, content_type="image/png")
    with tenant_scope(org):  # a new upload, its message not yet written: within the grace period
        attachments.attachment_store(organization=org, upload=upload)
    fresh = [p for p in media_root.rglob("*.png") if p not in (kept, orphan)][0]
    attachments_sweep.delay()
    assert sorted(stored_files(media_root)) == sorted([kept.name, fresh.name])
    with tenant_scope(org):
        link = Message.objects.get(direction=Direction.OUTBOUND).media[0]["url"]
    assert agent_client.get(link.removeprefix(settings.PUBLIC_BASE_URL)).status_code == 200


# Links expire ---------------------------------------------------------------------------------


class _SignedLongAgo(signing.TimestampSigner):
    def timestamp(self):
        return signing.b62_encode(int(time.time()) - 8 * 24 * 3600)


@pytest.mark.django_db
def test_an_expired_attachment_link_is_refused_with_the_reason(client, org, media_root, settings):
    settings.ATTACHMENT_LINK_SECONDS = 24 * 3600
    upload = SimpleUploadedFile("p.png", PICTURE, content_type="image/png")
    with tenant_scope(org):
        link = attachments.attachment_store(organization=org, upload=upload)
    path = link.removeprefix(settings.PUBLIC_BASE_URL)
    fresh = client.get(path)
    assert fresh.status_code == 200 and b"".join(fresh.streaming_content) == PICTURE
    assert fresh["Content-Security-Policy"] == "sandbox; default-src 'none'"
    name = next(media_root.rglob("*.png")).relative_to(media_root).as_posix()
    old = _SignedLongAgo(salt=attachments.SIGNER_SALT).sign_object({"path": name, "type": "image/png"},
                                                                    compress=True)
    expired = client.get(f"/attachments/{old}/")
    assert expired.status_code == 410
    assert "This attachment link has expired." in expired.content.decode()
    forged = client.get(f"/attachments/{old[:-3]}abc/")
    assert forged.status_code == 404 and "not valid" in forged.content.decode()
    assert default_storage.exists(name)


@pytest.mark.django_db
def test_a_thread_shows_a_working_link_to_a_sent_attachment_whose_link_expired(agent_client, org, our_number,
                                                                               media_root, settings):
    conversation = _conversation(org, our_number)
    upload = SimpleUploadedFile("p.png", PICTURE, content_type="image/png")
    with tenant_scope(org):
        attachments.attachment_store(organization=org, upload=upload)
    name = next(media_root.rglob("*.png")).relative_to(media_root).as_posix()
    old = _SignedLongAgo(salt=attachments.SIGNER_SALT).sign_object({"path": name, "type": "image/png"},
                                                                    compress=True)
    stored = f"{settings.PUBLIC_BASE_URL}/attachments/{old}/"
    with tenant_scope(org):
        Message.objects.create(organization=org, conversation=conversation, direction=Direction.OUTBOUND,
                               channel="mms", media=[{"url": stored, "content_type": "image/png"}],
                               media_type="image", status="delivered")
    assert agent_client.get(stored.removeprefix(settings.PUBLIC_BASE_URL)).status_code == 410
    page = agent_client.get(f"/o/{org.slug}/inbox/?view=all&c={conversation.pk}").content.decode()
    links = re.findall(r'class="attachment" href="([^"]+)"', page)
    assert len(links) == 1 and links[0] != stored
    fresh = agent_client.get(links[0].removeprefix(settings.PUBLIC_BASE_URL))
    assert fresh.status_code == 200 and b"".join(fresh.streaming_content) == PICTURE
