"""API limits (issue 13, item 5): wrong tokens per address, requests per user, and which address counts."""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory
from rest_framework.authtoken.models import Token
from rest_framework.throttling import SimpleRateThrottle

from core.throttling import client_ip

pytestmark = pytest.mark.django_db


def _token_client(key: str, address: str = "127.0.0.1") -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {key}", REMOTE_ADDR=address)


def _failure_limit() -> int:
    return int(SimpleRateThrottle.THROTTLE_RATES["token_failures"].split("/")[0])


def test_wrong_tokens_from_one_address_are_refused_then_even_the_right_one_waits(owner, org):
    token = Token.objects.create(user=owner)
    url = f"/api/{org.slug}/members"
    for n in range(_failure_limit()):
        response = _token_client(f"{n:040x}").get(url)
        assert response.status_code == 401
        assert response.json() == {"detail": "Invalid token."}
    refused = _token_client("f" * 40).get(url)
    assert refused.status_code == 429
    assert refused.json()["detail"].startswith("Too many wrong API tokens from your address.")
    assert 0 < int(refused["Retry-After"]) <= 60
    assert _token_client(token.key).get(url).status_code == 429  # guessing right gains nothing now

    assert _token_client(token.key, address="198.51.100.20").get(url).status_code == 200  # others unaffected


def test_the_right_token_is_never_counted_as_a_failure(owner, org):
    token = Token.objects.create(user=owner)
    for _ in range(_failure_limit() + 2):
        assert _token_client(token.key).get(f"/api/{org.slug}/members").status_code == 200


def test_the_api_limits_each_user(owner, admin, org, monkeypatch):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "user", "3/minute")
    alice, bob = Token.objects.create(user=owner), Token.objects.create(user=admin)
    url = f"/api/{org.slug}/members"
    assert [_token_client(alice.key).get(url).status_code for _ in range(3)] == [200, 200, 200]
    refused = _token_client(alice.key).get(url)
    assert refused.status_code == 429
    assert refused.json()["detail"].startswith("Request was throttled.")
    assert int(refused["Retry-After"]) > 0
    assert _token_client(bob.key).get(url).status_code == 200


def test_the_api_limits_anonymous_callers_per_address(monkeypatch, db):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "anon", "2/minute")
    client = Client()
    assert [client.get("/api/schema/").status_code for _ in range(2)] == [200, 200]
    assert client.get("/api/schema/").status_code == 429
    assert Client(REMOTE_ADDR="198.51.100.20").get("/api/schema/").status_code == 200


@pytest.mark.parametrize(("proxies", "forwarded", "expected"), [
    (0, "1.2.3.4", "10.0.0.5"),  # no proxy of ours: the header is the client's own words
    (1, "1.2.3.4", "1.2.3.4"),  # the balancer appended what it saw
    (1, "6.6.6.6, 1.2.3.4", "1.2.3.4"),  # entries the client wrote before it are never read
    (2, "6.6.6.6, 1.2.3.4, 10.0.0.9", "1.2.3.4"),
    (2, "1.2.3.4", "10.0.0.5"),  # fewer hops than proxies: it did not come through them all
    (1, "not-an-address", "10.0.0.5"),
    (1, "", "10.0.0.5"),
    (1, "2001:db8::1", "2001:db8::1"),
])
def test_the_client_address_trusts_only_our_own_proxies(settings, proxies, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


def test_an_unreachable_cache_lets_requests_through_instead_of_failing(owner, org, settings):
    """Limits live in Redis; when it cannot answer, requests are served (and the error logged), not 500."""
    token = Token.objects.create(user=owner)
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:1/0", "KEY_PREFIX": "softphone-cache"}}
    url = f"/api/{org.slug}/members"
    assert _token_client(token.key).get(url).status_code == 200
    assert _token_client("0" * 40).get(url).status_code == 401
    assert Client().post("/accounts/password-reset/", {"email": "alice@example.com"}).status_code == 302
