"""Who is asking, and how often: the client's address, API rate limits, and a limit on wrong tokens.

The client's address is what every limit keys on (the login lockout too: AXES_CLIENT_IP_CALLABLE).
It is the TCP peer's address (REMOTE_ADDR) unless TRUSTED_PROXY_COUNT says how many proxies of
ours stand in front of the application (docs/operations.md: one load balancer). Each such proxy
appends the address it saw to X-Forwarded-For, so the client's is the TRUSTED_PROXY_COUNT-th from
the right; anything further left was written by the client and is never read. A request that did
not come through that many proxies, or whose entry is not an address, is keyed on REMOTE_ADDR.
"""

from __future__ import annotations

import ipaddress
import logging

import redis
from django.conf import settings
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

logger = logging.getLogger(__name__)


def client_ip(request) -> str:
    remote = request.META.get("REMOTE_ADDR", "") or ""
    count = settings.TRUSTED_PROXY_COUNT
    if count > 0:
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        if len(hops) >= count:
            try:
                return str(ipaddress.ip_address(hops[-count]))
            except ValueError:
                pass
    return remote


class _ByClientAddress:
    """Keys on client_ip; and when the cache (Redis) cannot answer, lets the request through with a
    logged error rather than failing it: a limit is a brake, not a reason for a 500."""

    def get_ident(self, request):
        return client_ip(request)

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except redis.RedisError as exc:
            logger.error("rate limit %s not checked: the cache is unreachable (%s)", self.scope, type(exc).__name__)
            return True


class AddressRateThrottle(_ByClientAddress, SimpleRateThrottle):
    """A limit per client address for any view: DEFAULT_THROTTLE_RATES[scope]."""

    def get_cache_key(self, request, view=None):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class ApiUserRateThrottle(_ByClientAddress, UserRateThrottle):
    """Signed-in callers (session or token), per user: DEFAULT_THROTTLE_RATES["user"]."""


class ApiAnonRateThrottle(_ByClientAddress, AnonRateThrottle):
    """Anonymous callers of the API, per address: DEFAULT_THROTTLE_RATES["anon"]."""


class TokenFailureThrottle(AddressRateThrottle):
    """Wrong API tokens, per address: DEFAULT_THROTTLE_RATES["token_failures"].

    DRF runs throttles after authentication, so a request with a wrong token is refused (401)
    before any throttle sees it. This one is asked by the authentication itself: it counts only
    failures, and once an address has used them up every token from it is refused (429) until the
    oldest failure leaves the window, the right one too, so guessing gains nothing."""

    scope = "token_failures"

    def _load(self, request) -> None:
        self.key = self.get_cache_key(request)
        self.now = self.timer()
        self.history = [moment for moment in self.cache.get(self.key, []) if moment > self.now - self.duration]

    def seconds_to_wait(self, request) -> float | None:
        """None while the address may still try; else how long it must wait."""
        try:
            self._load(request)
        except redis.RedisError as exc:
            logger.error("wrong-token limit not checked: the cache is unreachable (%s)", type(exc).__name__)
            return None
        if len(self.history) < self.num_requests:
            return None
        return max(self.wait() or 1.0, 1.0)

    def record_failure(self, request) -> None:
        try:
            self._load(request)
            self.history.insert(0, self.now)
            self.cache.set(self.key, self.history[: self.num_requests], self.duration)
        except redis.RedisError as exc:
            logger.error("wrong token not counted: the cache is unreachable (%s)", type(exc).__name__)


class LimitedTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, refusing an address that sent too many wrong tokens."""

    def authenticate(self, request):
        offered = get_authorization_header(request).split()
        if not offered or offered[0].lower() != self.keyword.lower().encode():
            return None  # no token offered: nothing to count (sessions go their own way)
        limit = TokenFailureThrottle()
        wait = limit.seconds_to_wait(request)
        if wait is not None:
            raise exceptions.Throttled(wait=wait, detail="Too many wrong API tokens from your address.")
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            limit.record_failure(request)
            raise
