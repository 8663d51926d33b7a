"""An attacker's (or a CDN's) HTTP server for tests: it records every request it receives, headers
included, and answers each path as told: bytes, a redirect, a body that never ends, or one that
trickles. Binds to any loopback address (127.0.0.2 stands for "another host" in the tests)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        listener = self.server.listener
        with listener.lock:
            listener.seen.append(Seen("GET", self.path, {k.lower(): v for k, v in self.headers.items()}))
        answer = listener.answers.get(self.path.partition("?")[0], ("status", 404))
        kind, arg = answer
        try:
            if kind == "status":
                self.send_response(arg)
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif kind == "body":
                content, content_type = arg
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)
            elif kind == "redirect":
                self.send_response(arg[1])
                self.send_header("Location", arg[0])
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif kind == "endless":  # no Content-Length: bytes until the client hangs up
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.end_headers()
                chunk = b"\0" * 65536
                while not listener.stopping.is_set():
                    self.wfile.write(chunk)
            elif kind == "trickle":  # one byte per interval, for ever
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.end_headers()
                while not listener.stopping.is_set():
                    self.wfile.write(b"\0")
                    self.wfile.flush()
                    time.sleep(arg)
            elif kind == "slow_headers":  # a status line, then a header one byte at a time, for ever
                self.wfile.write(b"HTTP/1.0 200 OK\r\nX-Padding: ")
                while not listener.stopping.is_set():
                    self.wfile.write(b"a")
                    self.wfile.flush()
                    time.sleep(arg)
        except (BrokenPipeError, ConnectionResetError):
            with listener.lock:
                listener.hung_up.append(self.path)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, listener: Listener, host: str, port: int) -> None:
        super().__init__((host, port), _Handler)
        self.listener = listener

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class Listener:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.lock = threading.Lock()
        self.seen: list[Seen] = []
        self.hung_up: list[str] = []
        self.answers: dict[str, tuple[str, Any]] = {}
        self.stopping = threading.Event()
        self._server = _Server(self, host, port)
        address, port = self._server.server_address[:2]
        self.port = port
        self.base_url = f"http://{address}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    def serve(self, path: str, content: bytes, content_type: str) -> str:
        self.answers[path] = ("body", (content, content_type))
        return self.base_url + path

    def redirect(self, path: str, location: str, status: int = 302) -> str:
        self.answers[path] = ("redirect", (location, status))
        return self.base_url + path

    def endless(self, path: str) -> str:
        self.answers[path] = ("endless", None)
        return self.base_url + path

    def trickle(self, path: str, interval: float = 0.2) -> str:
        self.answers[path] = ("trickle", interval)
        return self.base_url + path

    def slow_headers(self, path: str, interval: float = 0.05) -> str:
        self.answers[path] = ("slow_headers", interval)
        return self.base_url + path

    def authorizations(self) -> list[str]:
        with self.lock:
            return [s.headers["authorization"] for s in self.seen if "authorization" in s.headers]

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
