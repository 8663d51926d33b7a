"""What every vendor webhook needs at the HTTP edge, before it knows which tenant it is about."""

from __future__ import annotations

from urllib.parse import parse_qsl

from django.conf import settings
from django.http import HttpRequest


def webhook_form(request: HttpRequest) -> dict[str, str] | None:
    """The form parameters as a plain dict, or None when the body cannot be read as a form.

    Parsed here rather than through request.POST: a QueryDict costs three times as much, on the
    busiest endpoints we have (an inbound message, a call whose caller hears silence meanwhile).
    Vendors send each name once; a repeated name keeps its last value, as QueryDict.dict() does,
    and a signature check can still ask for every value (request.POST.lists())."""
    if request.content_type != "application/x-www-form-urlencoded":
        return request.POST.dict()
    try:
        return dict(parse_qsl(request.body.decode(), keep_blank_values=True,
                              max_num_fields=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS))
    except ValueError:  # not UTF-8, or more fields than any vendor's request has
        return None
