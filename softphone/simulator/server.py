"""A tiny threaded HTTP server that the vendors' simulations build on.

A fake subclasses `FakeServer` and implements `handle(request) -> Response`; the server runs on
127.0.0.1 on a free port in a daemon thread, so real HTTP clients (the vendors' SDKs, `requests`)
talk to it exactly as they would to the vendor.
"""

from __future__ import annotations

import json
import sys
import threading
import traceback
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    query: str
    headers: Message
    body: bytes


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, payload: Any) -> Response:
    return Response(status, json.dumps(payload).encode(), {"Content-Type": "application/json"})


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.0 closes the connection after each response, so no kept-alive connection can
    # still be answered by a handler thread once the fake has been stopped.
    protocol_version = "HTTP/1.0"
    disable_nagle_algorithm = True
    server: _Server

    def _dispatch(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path, _, query = self.path.partition("?")
        request = Request(self.command, unquote(path), query, self.headers, body)
        try:
            response = self.server.fake.handle(request)
        except Exception:
            # A bug in a fake must fail the test loudly, not look like a vendor outage.
            response = Response(500, traceback.format_exc().encode(), {"Content-Type": "text/plain"})
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that gave up (timeout tests) close the socket before the answer is written.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeServer:
    """Base class of the fakes: `start()` returns the base URL, `stop()` shuts down; a context manager."""

    base_url: str | None = None

    def __init__(self) -> None:
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    def handle(self, request: Request) -> Response:
        raise NotImplementedError

    # The simulator (softphone.simulator.state) keeps a fake's state between requests by pickling it:
    # what belongs to this process (its server, thread and lock) is left out and made afresh.
    _PROCESS_LOCAL = ("_httpd", "_thread", "_lock")

    def __getstate__(self) -> dict:
        return {key: value for key, value in self.__dict__.items() if key not in self._PROCESS_LOCAL}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._httpd = self._thread = None
        self._lock = threading.Lock()

    def start(self) -> str:
        if self._httpd is None:
            self._httpd = _Server(self)
            # A short poll interval keeps stop() (and so every test's teardown) fast.
            self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True,
                                            name=f"{type(self).__name__}-server")
            self._thread.start()
            host, port = self._httpd.server_address[:2]
            self.base_url = f"http://{host}:{port}"
        return self.base_url

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join()
            self._httpd = self._thread = None
            self.base_url = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
