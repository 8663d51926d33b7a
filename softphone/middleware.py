from django.conf import settings
from django.http import HttpResponse, HttpResponseBadRequest, JsonResponse
from django.template.loader import render_to_string

# The hosts the Twilio Voice SDK (static/vendor/twilio.min.js, served by us) talks to, as its README
# lists them for CSP (node_modules/@twilio/voice-sdk/README.md, "Content Security Policy"): signalling
# over a WebSocket to the default ("roaming") edge, call-quality events to the event gateway, and its
# ring and DTMF sounds (fetched, or played by an <audio> element). The call's own audio arrives as a
# MediaStream (`mediastream:`). Any other edge or a home-region grant would need its own hosts here.
TWILIO_VOICE_CONNECT = ("wss://voice-js.roaming.twilio.com https://eventgw.twilio.com "
                        "https://sdk.twilio.com https://media.twiliocdn.com")
TWILIO_VOICE_MEDIA = "mediastream: https://sdk.twilio.com https://media.twiliocdn.com"

# No inline scripts or styles anywhere: every script is a static file of ours.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        f"connect-src 'self' {TWILIO_VOICE_CONNECT}",
        f"media-src 'self' {TWILIO_VOICE_MEDIA}",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = getattr(settings, "CONTENT_SECURITY_POLICY", CONTENT_SECURITY_POLICY)

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", self.policy)
        return response


TOO_LARGE = "This is too large to accept: an attachment can be at most {attachment_mb} MB."


def too_large_response(request) -> HttpResponse:
    """413 in the form the caller reads: JSON for the API, a sentence for htmx (the composer shows
    it), a page otherwise."""
    message = TOO_LARGE.format(attachment_mb=megabytes(settings.ATTACHMENT_MAX_BYTES))
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message}, status=413)
    if request.headers.get("HX-Request") == "true":
        return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
    return HttpResponse(render_to_string("413.html", {"message": message}, request=request), status=413)


def megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}".removesuffix(".0")


class RequestBodyLimitMiddleware:
    """Refuse a body larger than REQUEST_BODY_MAX_BYTES before anything reads it, from its declared
    Content-Length (Django's WSGI request reads no more than that: a body of unknown length is read
    as empty; softphone/asgi.py caps the stream under ASGI)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > settings.REQUEST_BODY_MAX_BYTES:
            return too_large_response(request)
        return self.get_response(request)


def _nul_parameter(params) -> str | None:
    for name, values in params.lists():
        if "\x00" in name or any("\x00" in value for value in values):
            return name
    return None


class RefuseNulCharactersMiddleware:
    """A NUL character (U+0000) in a query parameter or a form field is a 400 with a reason.

    PostgreSQL cannot hold U+0000 in text: a NUL that reached a query or a row was a server error
    wherever a view read a parameter directly (`?search=%00abc`). One check here covers every view.
    Webhook bodies are left to the webhook views, which keep a customer's message that carries one
    (as U+FFFD), and JSON bodies to the API's parser (core.parsers.JSONParser).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        name = None
        if "%00" in request.META.get("QUERY_STRING", ""):
            name = _nul_parameter(request.GET)
            where = "query parameter"
        if (name is None and request.method == "POST" and not request.path_info.startswith("/webhooks/")
                and request.content_type == "application/x-www-form-urlencoded" and b"%00" in request.body):
            name = _nul_parameter(request.POST)
            where = "form field"
        if name is None:
            return self.get_response(request)
        shown = name.replace("\x00", "\\x00")[:60]
        detail = f"The {where} '{shown}' contains a NUL character (\\x00), which is not allowed."
        if request.path_info.startswith("/api/"):
            return JsonResponse({"detail": detail}, status=400)
        return HttpResponseBadRequest(detail, content_type="text/plain; charset=utf-8")
