"""The production web server (softphone.launcher.web_command: granian serving softphone.wsgi) as a
client meets it over TCP: the product's pages and headers, its own refusals, keep-alive, and a body
that is not what it claims. No test elsewhere starts it (the other tests use Django's test client
and live server)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from softphone.launcher import BASE_DIR, web_command


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[int]:
    """The web process `make run` starts (one worker of two threads here), on a free port, after the
    static files are collected as `make run` collects them (pages name them by their hashed names)."""
    port = _free_port()
    var = tmp_path_factory.mktemp("var")
    log = var / "server.log"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_VERSION", "PYTEST_CURRENT_TEST")}
    env.update({"DJANGO_SETTINGS_MODULE": "softphone.settings", "DEBUG": "false", "SOFTPHONE_VAR_DIR": str(var)})
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"], cwd=BASE_DIR,
                   env=env, check=True, timeout=120)
    with open(log, "wb") as output:
        process = subprocess.Popen(web_command(host="127.0.0.1", port=port, workers=1, threads=2, access_log=False),
                                   cwd=BASE_DIR, env=env, stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the web server did not start: {log.read_text()[-2000:]}") from None
                time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def exchange(port: int, *requests: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """Send each request on one connection, one after the other, and read each answer."""
    answers = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        stream = connection.makefile("rb")
        for request in requests:
            connection.sendall(request)
            status = int(stream.readline().split()[1])
            headers = {}
            while (line := stream.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                headers[name.strip().lower()] = value.strip()
            body = stream.read(int(headers.get("content-length", "0")))
            answers.append((status, headers, body))
    return answers


def get(path: str, port: int) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()


def test_the_login_page_is_served_with_the_product_s_security_headers(server):
    [(status, headers, body)] = exchange(server, get("/accounts/login/", server))
    assert status == 200
    assert b"Log in" in body and b'name="csrfmiddlewaretoken"' in body
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert "csrftoken=" in headers["set-cookie"]


def test_one_connection_carries_several_requests(server):
    answers = exchange(server, get("/accounts/login/", server), get("/no/such/page/", server),
                       get("/accounts/login/", server))
    assert [status for status, _, _ in answers] == [200, 404, 200]


def test_a_body_over_the_limit_is_refused_before_it_is_read(server, settings):
    """The declared length decides (the product's own middleware, under this server too): a webhook
    declaring more than REQUEST_BODY_MAX_BYTES gets 413 at once, without the server waiting for it."""
    declared = settings.REQUEST_BODY_MAX_BYTES + 1
    request = (f"POST /webhooks/twilio/messages/ HTTP/1.1\r\nHost: 127.0.0.1:{server}\r\n"
               f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {declared}\r\n\r\n"
               "From=%2B14155550101").encode()
    [(status, _, body)] = exchange(server, request)
    assert status == 413
    assert b"too large" in body.lower()


def test_a_chunked_body_of_unknown_length_is_read_as_empty(server):
    """A body without a declared length is read as empty (as Django reads such a body under WSGI),
    so nothing unbounded is buffered. Told apart by a NUL character: read, the form would be refused
    for it (400); unread, the login form is refused for its missing CSRF token (403)."""
    form = "username=a%00b&password=x"
    chunked = (f"POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1:{server}\r\n"
               "Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n"
               f"{len(form):x}\r\n{form}\r\n0\r\n\r\n").encode()
    declared = (f"POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1:{server}\r\n"
                f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(form)}\r\n\r\n{form}").encode()
    [(unread, _, _)] = exchange(server, chunked)
    [(read, _, body)] = exchange(server, declared)
    assert (unread, read) == (403, 400)
    assert b"NUL" in body or b"null character" in body.lower(), body
