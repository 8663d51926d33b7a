"""The form renderer (settings.FORM_RENDERER): Django's, with its plainest widgets written in Python.

Django renders every widget through its template engine: an <input> is two templates (the widget's,
then input.html and attrs.html), a <select> one more for each of its options. The call log's seven
filters took 3.5 ms of a 25 ms page that way (docs/benchmarks.md, issue 21); the same markup built
here takes a few string joins. Only Django's own templates for inputs, check boxes, selects and text
areas are built here, character for character as those templates build them
(tests/softphone/test_forms_renderer.py compares both for every widget Django has and every form of
the product); anything else, and any template
a project would put in their place, goes through Django's templates as before.
"""

from __future__ import annotations

from django.forms.renderers import DjangoTemplates
from django.utils.html import conditional_escape

_WIDGETS = "django/forms/widgets/"
# Templates that are `{% include "django/forms/widgets/input.html" %}` and nothing else.
_INPUTS = frozenset(_WIDGETS + f"{name}.html" for name in (
    "input", "text", "number", "email", "url", "password", "hidden", "date", "datetime", "time", "search",
    "tel", "color", "checkbox"))


def _attrs(attrs: dict) -> str:
    """attrs.html: ` name="value"` for each attribute, ` name` for True, nothing for False."""
    parts = []
    for name, value in attrs.items():
        if value is False:
            continue
        parts.append(f" {conditional_escape(name)}" if value is True
                     else f' {conditional_escape(name)}="{conditional_escape(value)}"')
    return "".join(parts)


def _input(widget: dict) -> str:
    value = widget["value"]
    shown = "" if value is None else f' value="{conditional_escape(value)}"'
    return (f'<input type="{conditional_escape(widget["type"])}" name="{conditional_escape(widget["name"])}"'
            f"{shown}{_attrs(widget['attrs'])}>")


def _select(widget: dict) -> str | None:
    parts = [f'<select name="{conditional_escape(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, group_choices, _ in widget["optgroups"]:
        if group_name:
            parts.append(f'\n  <optgroup label="{conditional_escape(group_name)}">')
        for option in group_choices:
            if option["template_name"] != _WIDGETS + "select_option.html":
                return None  # an option of another kind: Django's templates
            parts.append(f'\n  <option value="{conditional_escape(option["value"])}"{_attrs(option["attrs"])}>'
                         f'{conditional_escape(option["label"])}</option>\n')
        if group_name:
            parts.append("\n  </optgroup>")
    parts.append("\n</select>")
    return "".join(parts)


def _textarea(widget: dict) -> str:
    value = widget["value"]
    return (f'<textarea name="{conditional_escape(widget["name"])}"{_attrs(widget["attrs"])}>\n'
            f'{conditional_escape(value) if value else ""}</textarea>')


class FormRenderer(DjangoTemplates):
    def render(self, template_name, context, request=None):
        widget = context.get("widget") if isinstance(context, dict) else None
        if isinstance(widget, dict) and template_name.startswith(_WIDGETS):
            built = None
            if template_name in _INPUTS:
                built = _input(widget)
            elif template_name == _WIDGETS + "select.html":
                built = _select(widget)
            elif template_name == _WIDGETS + "textarea.html":
                built = _textarea(widget)
            if built is not None:
                return built
        return super().render(template_name, context, request=request)
