"""`{% path %}`: Django's `{% url %}`, reversed once per process (core.paths says why)."""

from __future__ import annotations

from django import template

from core import paths

register = template.Library()


@register.simple_tag
def path(viewname: str, **kwargs) -> str:
    """The path of a named route, as `{% url %}` gives it (values are escaped by autoescaping)."""
    return paths.path(viewname, **kwargs)
