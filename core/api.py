"""What every REST endpoint shares: paging and one error shape (core.schema documents both)."""

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import EmptyPage
from django.http import Http404
from rest_framework import exceptions, pagination
from rest_framework.fields import get_error_detail
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.counts import CappedPaginator

# A page-numbered list counts its rows only this far (core.counts): counting a million contacts took
# 200 ms, on every page (docs/benchmarks.md, issue 21). Past it the answer says `count` 10,000 and
# `countExact` false; the pages go on, `next` saying whether another follows.
COUNT_UP_TO = 10_000


class _Paginator(CappedPaginator):
    def __init__(self, object_list, per_page, orphans=0, allow_empty_first_page=True):
        super().__init__(object_list, per_page, cap=COUNT_UP_TO)

    def page(self, number):
        page = super().page(number)
        if self.capped and not page.object_list and page.number > 1:  # past the end of a long list
            raise EmptyPage("That page contains no results.")
        return page


class Pagination(pagination.PageNumberPagination):
    page_size_query_param = "pageSize"
    max_page_size = 200
    django_paginator_class = _Paginator
    last_page_strings = ()  # a long list's last page is not known without counting it

    def get_paginated_response(self, data):
        paginator = self.page.paginator
        return Response({"count": min(paginator.count, COUNT_UP_TO), "countExact": not paginator.capped,
                         "next": self.get_next_link(), "previous": self.get_previous_link(), "results": data})

    def get_paginated_response_schema(self, schema):
        page = super().get_paginated_response_schema(schema)
        page["properties"]["count"]["description"] = (
            f"How many rows the list has, counted up to {COUNT_UP_TO:,}; past that, {COUNT_UP_TO:,} "
            "and `countExact` is false.")
        page["properties"]["countExact"] = {"type": "boolean", "example": True,
                                            "description": "Whether `count` is the whole list's."}
        page["required"] = [*page.get("required", []), "countExact"]
        return page


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
