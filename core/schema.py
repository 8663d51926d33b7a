"""The OpenAPI schema (drf-spectacular) says what the API really answers, errors included.

Kept apart from core.api: DRF imports the pagination class named in its settings while it
loads its generic views, which drf-spectacular's AutoSchema needs.
"""

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from drf_spectacular import openapi
from drf_spectacular.plumbing import ResolvedComponent

ERROR_SCHEMA = {
    "type": "object",
    "description": "What went wrong, in a sentence a person can read.",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "description": "The request was refused. Each key names a field of the request (camelCase) with its messages; "
                   "`detail` or `nonFieldErrors` is about the request as a whole. A list field's errors are keyed "
                   "by the position of the item.",
    "additionalProperties": {
        "anyOf": [
            {"type": "string"},
            {"type": "array", "items": {"type": "string"}},
            {"type": "object", "additionalProperties": {}},
        ],
    },
    "example": {"name": ["This field is required."]},
}
# Every operation under /api/<slug>/ can answer these (the tenant middleware, DRF's authentication
# and permissions, the NUL guard and the lookups by id all run before or around any view).
ERROR_RESPONSES = {
    "400": ("ValidationError", "The request is invalid: see the messages."),
    "401": ("Error", "No credentials, or credentials that are not valid."),
    "403": ("Error", "Authenticated, but this member may not do that (or the CSRF token is missing)."),
    "404": ("Error", "No such organization for you, or no such object in it."),
}
THROTTLED = ("Error", "Too many requests: wait as long as the Retry-After header says.")


def _blank_model_field(field) -> bool:
    """Whether a serializer field reads a model column that may hold "" (blank=True).

    DRF builds read-only model fields without allow_blank, so drf-spectacular documents an empty
    email or URL as a violation of its format."""
    model = getattr(getattr(getattr(field, "parent", None), "Meta", None), "model", None)
    if model is None or not isinstance(field.source, str) or "." in field.source:
        return False
    try:
        column = model._meta.get_field(field.source)
    except FieldDoesNotExist:
        return False
    return isinstance(column, models.CharField | models.TextField) and column.blank


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's schema, with the error answers every operation can give documented on it."""

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if schema.get("type") == "string" and ("format" in schema or "pattern" in schema) and _blank_model_field(field):
            outer = {"readOnly", "writeOnly", "nullable", "deprecated", "description", "title"}
            inner = {key: schema.pop(key) for key in list(schema) if key not in outer}
            schema["anyOf"] = [inner, {"type": "string", "maxLength": 0}]
        return schema

    def _error_ref(self, name: str) -> dict:
        schema = VALIDATION_ERROR_SCHEMA if name == "ValidationError" else ERROR_SCHEMA
        component = ResolvedComponent(name=name, type=ResolvedComponent.SCHEMA, object=f"core.schema.{name}",
                                      schema=schema)
        self.registry.register_on_missing(component)
        return component.ref

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        errors = dict(ERROR_RESPONSES)
        if self.view.get_throttles():
            errors["429"] = THROTTLED
        media_types = self.map_renderers("media_type")
        for code, (name, description) in errors.items():
            responses.setdefault(code, {
                "content": {media_type: {"schema": self._error_ref(name)} for media_type in media_types},
                "description": description,
            })
        return responses
