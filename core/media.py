"""Files we serve that came from outside (customers' attachments, call recordings): what a browser
may do with them, and the same sealed answer for the errors on those routes."""

from __future__ import annotations

from django.http import HttpResponse

# Play or show it, nothing else: no script, no style, no plugin, a unique origin if it is ever opened
# as a document.
MEDIA_CSP = "sandbox; default-src 'none'"


def sealed(response: HttpResponse) -> HttpResponse:
    """Mark a served file (or an error in its place) so the browser neither sniffs nor runs it."""
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = MEDIA_CSP
    return response


def media_error(message: str, status: int) -> HttpResponse:
    return sealed(HttpResponse(message, status=status, content_type="text/plain; charset=utf-8"))
