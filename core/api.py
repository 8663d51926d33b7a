"""What every REST endpoint shares: paging and one error shape (core.schema documents both)."""

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, pagination
from rest_framework.fields import get_error_detail
from rest_framework.views import exception_handler as drf_exception_handler


class Pagination(pagination.PageNumberPagination):
    page_size_query_param = "pageSize"
    max_page_size = 200


class NewestFirstPagination(pagination.CursorPagination):
    """For long lists (hundreds of thousands of rows): newest first, `next` and `previous` links with
    an opaque cursor, no count (counting every row on every page is what makes deep lists slow)."""

    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "pageSize"
    max_page_size = 200


def _validation_error(exc: DjangoValidationError) -> exceptions.ValidationError:
    """A service's ValidationError as DRF's 400. Errors on fields stay keyed by field (the renderer
    camelCases the names: ``{"phoneNumber": ["..."]}``); errors about the request as a whole, a plain
    message, a list of them or a dict's NON_FIELD_ERRORS, are the list under ``detail``."""
    detail = get_error_detail(exc)
    if isinstance(detail, dict):
        return exceptions.ValidationError(
            {("detail" if field == NON_FIELD_ERRORS else field): messages for field, messages in detail.items()})
    return exceptions.ValidationError({"detail": detail})


def exception_handler(exc, context):
    """DRF's handler, with messages a person can read for the common cases.

    Errors keep DRF's shape (``{"detail": "..."}`` or field errors) so clients can rely on it. Views
    let a service's Django ValidationError through: it becomes a 400 here, in one shape.
    """
    if isinstance(exc, DjangoValidationError):
        exc = _validation_error(exc)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or "You do not have permission to do that.")
    elif isinstance(exc, exceptions.ParseError):
        exc = exceptions.ParseError(
            "The request body is not valid JSON. Send a JSON object with Content-Type: application/json."
        )
    return drf_exception_handler(exc, context)
