"""What every REST endpoint shares: paging and one error shape (core.schema documents both)."""

from django.core.exceptions import PermissionDenied
from django.http import Http404
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
