"""A vendor's HTTP API on one configured base URL, for adapters that talk to it without an SDK
(Vonage, Bandwidth; VAPI has its own).

Every request goes to the base URL the settings name, with a path the adapter built: never to a URL
that came from input or from an answer (a next-page link), so the credentials it carries reach the
vendor's host only. Answers of "too many requests" (429, or what the adapter says means that) are
retried with backoff, honouring Retry-After up to a bound; everything else is the adapter's to read.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import quote, urlsplit

import requests

from core.vendors import ProviderError

LONGEST_WAIT = 10.0  # seconds: a Retry-After longer than this is not waited for inside a request


class VendorHttp:
    def __init__(self, base_url: str, *, label: str, timeout: float, retries: int,
                 throttled: Callable[[requests.Response], bool] | None = None):
        self.base_url = base_url.rstrip("/")
        self.label = label
        self.timeout = timeout
        self.retries = retries
        self.throttled = throttled or (lambda response: response.status_code == 429)
        self.session = requests.Session()

    def url(self, path: str) -> str:
        """The base URL and a path of ours (segments that came from input are `segment()`-quoted);
        "" is the base URL itself (an endpoint configured whole, as a token URL is)."""
        if path == "":
            return self.base_url
        if not path.startswith("/") or "//" in path or "\\" in path or any(ord(c) < 33 for c in path):
            raise ProviderError(f"Refused to send a request outside {self.label}'s API.", permanent=True)
        return self.base_url + path

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        url = self.url(path)
        delay = 0.5
        for attempt in range(self.retries + 1):
            try:
                response = self.session.request(method, url, timeout=self.timeout, allow_redirects=False, **kwargs)
            except requests.RequestException:
                raise ProviderError(f"{self.label} could not be reached; try again shortly.", permanent=False) from None
            if not self.throttled(response) or attempt == self.retries:
                return response
            time.sleep(min(_retry_after(response, delay), LONGEST_WAIT))
            delay *= 2
        return response  # pragma: no cover - the loop always returns


def segment(value: str) -> str:
    """One path segment from input, quoted so it stays one segment."""
    return quote(str(value), safe="")


def _retry_after(response: requests.Response, default: float) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return default


def same_origin(url: str, base_url: str) -> bool:
    """Whether `url` is on the host of `base_url` (scheme, host and port)."""
    a, b = urlsplit(url), urlsplit(base_url)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)
