import json
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "softphone.settings")
django_application = get_asgi_application()

from django.conf import settings  # noqa: E402 (after the settings module is chosen)

from softphone.middleware import TOO_LARGE, megabytes  # noqa: E402


def limit_request_body(app, *, limit: int | None = None):
    """Django's ASGI handler reads a whole request body into a file before any middleware runs, so
    the body limit is applied here, on the stream: a declared Content-Length over the limit is
    refused unread, and a body of unknown length (chunked) is cut off as soon as it passes the limit.
    Either way the answer is 413 and Django never sees the request."""

    async def guarded(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        cap = settings.REQUEST_BODY_MAX_BYTES if limit is None else limit
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > cap:
            return await _refuse(scope, send)
        received, total = [], 0
        while True:
            message = await receive()
            received.append(message)
            if message["type"] != "http.request":
                break
            total += len(message.get("body", b""))
            if total > cap:
                return await _refuse(scope, send)
            if not message.get("more_body"):
                break

        async def replay():
            return received.pop(0) if received else await receive()

        return await app(scope, replay, send)

    return guarded


async def _refuse(scope, send) -> None:
    message = TOO_LARGE.format(attachment_mb=megabytes(settings.ATTACHMENT_MAX_BYTES))
    if scope.get("path", "").startswith("/api/"):
        body, content_type = json.dumps({"detail": message}).encode(), b"application/json"
    else:
        body, content_type = message.encode(), b"text/plain; charset=utf-8"
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


application = limit_request_body(django_application)
