"""What every REST endpoint shares: paging and one error shape (softphone.schema documents both)."""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from djangorestframework_camel_case.parser import CamelCaseJSONParser
from rest_framework import exceptions, pagination
from rest_framework.views import exception_handler as drf_exception_handler


class Pagination(pagination.PageNumberPagination):
    page_size_query_param = "pageSize"
    max_page_size = 200


def exception_handler(exc, context):
    """DRF's handler, with messages a person can read for the common cases.

    Errors keep DRF's shape (``{"detail": "..."}`` or field errors) so clients can rely on it.
    """
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or "You do not have permission to do that.")
    elif isinstance(exc, exceptions.ParseError):
        exc = exceptions.ParseError(
            "The request body is not valid JSON. Send a JSON object with Content-Type: application/json."
        )
    return drf_exception_handler(exc, context)


def _contains_nul(data) -> bool:
    """Whether any key or string in parsed JSON holds U+0000 (iterative: depth costs no stack)."""
    pending = [data]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


class JSONParser(CamelCaseJSONParser):
    """camelCase JSON bodies, refusing what the database cannot hold or the parser cannot nest.

    PostgreSQL stores no U+0000 in text or JSON: a NUL anywhere in a body (a free-form field such as
    `metadata` included) is a 400 here rather than a server error at the insert. Nesting deeper than
    Python's parser goes is a 400 too, not a RecursionError."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ValidationError({"detail": "The JSON body is nested too deeply."}) from None
        if _contains_nul(data):
            raise exceptions.ValidationError(
                {"detail": "The JSON body contains a NUL character (\\u0000), which is not allowed."})
        return data
