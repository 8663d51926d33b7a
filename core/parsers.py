"""The API's JSON parser.

A module of its own, importing nothing of DRF's views: DRF resolves DEFAULT_PARSER_CLASSES while
`rest_framework.views` is first imported, so a parser kept in a module that itself imports the views
(core.api) is "partially initialised" whenever that module is the first to import them, as in a
Celery worker, which then fails to start.
"""

from djangorestframework_camel_case.parser import CamelCaseJSONParser
from rest_framework import exceptions


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
