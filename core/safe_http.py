"""Fetching a URL that came from outside (a stored media URL, a vendor's redirect) without letting it
reach our own network or carry credentials where they do not belong.

- A URL's origin (scheme, host, port) is either one the caller trusts (a vendor's configured base
  URL: configuration, never input) or a foreign one. Credentials go to trusted origins only.
- A foreign origin's name is resolved here, every address it resolves to must be public (not
  loopback, private, link-local, multicast, reserved, unspecified, shared, nor an IPv6 form of
  one), and the connection goes to the address that was checked: a second resolution (DNS
  rebinding) cannot swap it. TLS still verifies the certificate against the name.
- Redirects are followed by hand, each hop checked the same way, at most MAX_REDIRECTS.
- The body is read into a spooled file under a size cap and the whole fetch (every hop, every
  read) under one deadline, so neither a huge nor a trickling upstream holds a worker.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import certifi
import urllib3
import urllib3.connection
from django.conf import settings

MAX_REDIRECTS = 3
READ_CHUNK = 64 * 1024
REDIRECT_STATUSES = {301, 302, 303, 307, 308}
# 64:ff9b::/96 (NAT64) carries an IPv4 address in its last 32 bits.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class FetchRefused(Exception):
    """The URL may not be fetched (not public, not http(s), too large, too slow...). The message is
    for a person and never carries a credential."""


class FetchFailed(Exception):
    """The upstream answered, but not with the content (a 4xx/5xx, or the connection broke)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def _split(url: str):
    try:
        return urlsplit(url)
    except (ValueError, TypeError, AttributeError):
        raise FetchRefused("The address is not a valid URL.") from None


def origin_of(url: str) -> str:
    """"scheme://host[:port]" in lower case, with the default port left out: the unit of trust."""
    parts = _split(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        raise FetchRefused("The address has an invalid port.") from None
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}" if port in (None, default) else f"{scheme}://{host}:{port}"


def _exempt(address: Address) -> bool:
    # For local development and tests only (empty in production): networks where a fake stands in
    # for the public internet.
    return any(address in ipaddress.ip_network(net) for net in settings.SAFE_FETCH_ALLOWED_NETWORKS)


def is_public_address(address: Address) -> bool:
    """Whether an address is on the public internet: not ours, not anybody's private network."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address.teredo:
            embedded = address.teredo[1]
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and not is_public_address(embedded):
            return False
    return address.is_global and not (
        address.is_private or address.is_loopback or address.is_link_local or address.is_multicast
        or address.is_reserved or address.is_unspecified
    )


def resolve_public(host: str, port: int) -> Address:
    """The address to connect to for a foreign host: every address the name resolves to must be
    public (one private answer among public ones is refused), and the first is used."""
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            raise FetchRefused(f"The name {host} could not be resolved.") from None
        addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    if not addresses:
        raise FetchRefused(f"The name {host} could not be resolved.")
    for address in addresses:
        if not (is_public_address(address) or _exempt(address)):
            raise FetchRefused(f"{host} is not a public internet address.")
    return addresses[0]


def check_public_https_url(url: str) -> None:
    """For URLs we hand to a vendor to fetch (outbound media): https, no user name or password in
    it, and a name that resolves to public addresses only. Raises FetchRefused with the reason."""
    parts = _split(url)
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise FetchRefused("Attachments must be https:// URLs.")
    if parts.username is not None or parts.password is not None:
        raise FetchRefused("Attachment URLs may not carry a user name or password.")
    origin_of(url)  # a malformed port is refused here
    resolve_public(parts.hostname, parts.port or 443)


@dataclass
class Fetched:
    """A fetched body (in a spooled temporary file, at position 0) and what the upstream said it is."""

    content_type: str
    size: int
    file: tempfile.SpooledTemporaryFile

    def close(self) -> None:
        self.file.close()


def fetch(url: str, *, trusted_origins: frozenset[str] = frozenset(), credentials: dict[str, str] | None = None,
          max_bytes: int | None = None, timeout: float | None = None) -> Fetched:
    """GET ``url`` and return its body. ``credentials`` (request headers) are sent only to
    ``trusted_origins``, whose addresses are configuration and are not checked; every other origin
    must resolve to public addresses and gets no credentials. Raises FetchRefused or FetchFailed."""
    max_bytes = settings.SAFE_FETCH_MAX_BYTES if max_bytes is None else max_bytes
    timeout = settings.SAFE_FETCH_TIMEOUT_SECONDS if timeout is None else timeout
    deadline = time.monotonic() + timeout
    for _hop in range(MAX_REDIRECTS + 1):
        exchange = _Exchange(url, trusted_origins=trusted_origins, credentials=credentials or {}, deadline=deadline)
        try:
            response = exchange.open()
            if response.status in REDIRECT_STATUSES and response.headers.get("Location"):
                try:
                    url = urljoin(url, response.headers["Location"])
                except ValueError:
                    raise FetchRefused("The upstream redirected to an invalid address.") from None
                continue
            if response.status != 200:
                raise FetchFailed(f"The upstream answered {response.status}.", status=response.status)
            return exchange.read(max_bytes=max_bytes)
        finally:
            exchange.close()
    raise FetchRefused("Too many redirects.")


def _too_large(max_bytes: int) -> str:
    return f"The file is larger than {max_bytes / (1024 * 1024):.1f}".removesuffix(".0") + " MB."


class _Exchange:
    """One request and its response on one connection, under the fetch's deadline: a watchdog
    shuts the socket down when the deadline passes, whatever the connection is waiting for (the
    status line, headers that trickle in, the body); each single read also has its own timeout."""

    def __init__(self, url: str, *, trusted_origins: frozenset[str], credentials: dict, deadline: float):
        self.url, self.trusted_origins, self.credentials, self.deadline = url, trusted_origins, credentials, deadline
        self.connection = None
        self.sock = None
        self.response = None
        self.watchdog = None

    def _late(self) -> bool:
        return time.monotonic() >= self.deadline

    def _cut(self) -> None:
        # The socket as connected: http.client hands it over to the response (and clears the
        # connection's) when the upstream will close, as HTTP/1.0 upstreams do.
        sock = self.sock or getattr(self.connection, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def open(self):
        parts = _split(self.url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise FetchRefused("Only http(s) addresses can be fetched.")
        if parts.username is not None or parts.password is not None:
            raise FetchRefused("Addresses with a user name or password are not fetched.")
        trusted = origin_of(self.url) in self.trusted_origins
        host = parts.hostname
        port = parts.port or (443 if scheme == "https" else 80)
        connect_to = host if trusted else str(resolve_public(host, port))
        headers = {"Host": parts.netloc, "Accept-Encoding": "gzip, deflate", "User-Agent": "Softphone media fetch"}
        if trusted:
            headers.update(self.credentials)
        per_read = min(_remaining(self.deadline), settings.SAFE_FETCH_READ_TIMEOUT_SECONDS)
        if scheme == "https":
            self.connection = urllib3.connection.HTTPSConnection(
                connect_to, port, timeout=per_read, cert_reqs="CERT_REQUIRED", ca_certs=certifi.where(),
                server_hostname=host, assert_hostname=host)
        else:
            self.connection = urllib3.connection.HTTPConnection(connect_to, port, timeout=per_read)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.watchdog = threading.Timer(max(0.0, self.deadline - time.monotonic()), self._cut)
        self.watchdog.daemon = True
        self.watchdog.start()
        try:
            self.connection.request("GET", path, headers=headers, preload_content=False, decode_content=True)
            self.sock = self.connection.sock
            if self._late():  # the watchdog may have fired before there was a socket to cut
                raise FetchRefused("The upstream took too long.")
            self.response = self.connection.getresponse()
        except (urllib3.exceptions.HTTPError, OSError, http.client.HTTPException) as exc:
            if self._late():
                raise FetchRefused("The upstream took too long.") from None
            raise FetchFailed(f"The upstream could not be reached ({type(exc).__name__}).") from None
        return self.response

    def read(self, *, max_bytes: int) -> Fetched:
        response = self.response
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise FetchRefused(_too_large(max_bytes))
        spool = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)
        size = 0
        try:
            while True:
                try:
                    chunk = response.read1(READ_CHUNK, decode_content=True)
                except (urllib3.exceptions.HTTPError, OSError, http.client.HTTPException) as exc:
                    if self._late() or isinstance(exc, urllib3.exceptions.ReadTimeoutError):
                        raise FetchRefused("The upstream took too long.") from None
                    raise FetchFailed(f"The upstream broke off ({type(exc).__name__}).") from None
                if not chunk:
                    if self._late():  # the watchdog ended the body, not the upstream
                        raise FetchRefused("The upstream took too long.")
                    break
                size += len(chunk)
                if size > max_bytes:  # also caps what a compressed body expands to
                    raise FetchRefused(_too_large(max_bytes))
                spool.write(chunk)
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        return Fetched(content_type=response.headers.get("Content-Type", ""), size=size, file=spool)

    def close(self) -> None:
        if self.watchdog is not None:
            self.watchdog.cancel()
        if self.response is not None:
            self.response.close()
        if self.connection is not None:
            self.connection.close()


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise FetchRefused("The upstream took too long.")
    return left
