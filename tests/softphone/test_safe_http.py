"""core.safe_http on its own: which addresses count as public, and that a connection goes to
the address that was checked (a name that resolves differently the second time changes nothing)."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from core import safe_http
from tests.fakes.listener import Listener


@pytest.mark.parametrize("address, public", [
    ("93.184.215.14", True), ("8.8.8.8", True), ("2606:4700:4700::1111", True),
    ("127.0.0.1", False), ("10.0.0.1", False), ("172.16.5.4", False), ("192.168.1.1", False),
    ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False), ("224.0.0.251", False),
    ("239.255.255.250", False), ("240.0.0.1", False), ("255.255.255.255", False), ("198.18.0.1", False),
    ("::1", False), ("::", False), ("fe80::1", False), ("fc00::1", False), ("ff02::1", False),
    ("::ffff:127.0.0.1", False), ("::ffff:10.0.0.1", False),
    ("::ffff:8.8.8.8", False),  # IPv4-mapped: never a real destination in DNS, refused whatever it maps
    ("64:ff9b::a00:1", False), ("2002:7f00:1::", False), ("2001:0:4136:e378:8000:63bf:f5ff:fffe", False),
])
def test_which_addresses_are_public(address, public):
    assert safe_http.is_public_address(ipaddress.ip_address(address)) is public


def test_the_connection_goes_to_the_address_that_was_checked(monkeypatch, settings):
    """DNS rebinding: rebind.test answers a public-standing address (127.0.0.2) when checked and a
    private one (127.0.0.1) after. The request reaches the checked address, with the name in Host,
    and the name is resolved once."""
    outside = Listener("127.0.0.2")
    inside = Listener("127.0.0.1", port=outside.port)
    settings.SAFE_FETCH_ALLOWED_NETWORKS = ["127.0.0.2/32"]
    answers = ["127.0.0.2", "127.0.0.1", "127.0.0.1"]
    asked = []
    real = socket.getaddrinfo

    def rebinding(host, port, *args, **kwargs):
        if host == "rebind.test":
            asked.append(host)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers.pop(0), port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    try:
        outside.serve("/p.png", b"public", "image/png")
        inside.serve("/p.png", b"internal", "image/png")
        fetched = safe_http.fetch(f"http://rebind.test:{outside.port}/p.png")
        assert fetched.file.read() == b"public"
        assert asked == ["rebind.test"]
        assert inside.seen == []
        assert [s.headers["host"] for s in outside.seen] == [f"rebind.test:{outside.port}"]
    finally:
        outside.stop()
        inside.stop()


def test_a_name_with_one_private_address_among_public_ones_is_refused(monkeypatch):
    def mixed(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port))]

    monkeypatch.setattr(socket, "getaddrinfo", mixed)
    with pytest.raises(safe_http.FetchRefused, match="not a public internet address"):
        safe_http.check_public_https_url("https://mixed.test/x.png")


def test_credentials_go_to_trusted_origins_only_and_not_across_a_redirect(settings):
    settings.SAFE_FETCH_ALLOWED_NETWORKS = ["127.0.0.2/32"]
    vendor, other = Listener("127.0.0.1"), Listener("127.0.0.2")
    try:
        target = other.serve("/file", b"data", "image/png")
        start = vendor.redirect("/media", target, status=307)
        fetched = safe_http.fetch(start, trusted_origins=frozenset({vendor.base_url}),
                                  credentials={"Authorization": "Basic c2VjcmV0"})
        assert fetched.file.read() == b"data"
        assert vendor.authorizations() == ["Basic c2VjcmV0"]
        assert other.authorizations() == []
        # A trusted origin is scheme, host and port: the same host on another port is foreign.
        with pytest.raises(safe_http.FetchRefused):
            safe_http.fetch(f"http://127.0.0.1:{other.port}/file", trusted_origins=frozenset({vendor.base_url}),
                            credentials={"Authorization": "Basic c2VjcmV0"})
    finally:
        vendor.stop()
        other.stop()
