"""core.forms_renderer builds the plainest widgets in Python: the markup must be Django's own, to the
character, for every widget Django has and every widget of the product's forms, with hostile values;
and the product must be using it."""

from __future__ import annotations

import copy
import importlib
import inspect
import pkgutil
from datetime import date

import pytest
from django import forms
from django.conf import settings
from django.contrib.admin import widgets as admin_widgets
from django.forms.renderers import DjangoTemplates, get_default_renderer
from django.utils.safestring import mark_safe

from core.forms_renderer import FormRenderer

HOSTILE = ['"><script>alert(1)</script>', "O'Brien & <Sons>", "café ☕", mark_safe("<b>safe</b>")]
CHOICES = [("", "Any"), ("a", "Alpha & <beta>"), ('"q"', "Quote"), ("Group", [("g1", "One"), ("g2", "Two")])]


def _django_widgets() -> list[forms.Widget]:
    made = []
    for _, cls in inspect.getmembers(forms.widgets, inspect.isclass):
        if not issubclass(cls, forms.Widget) or cls in (forms.Widget, forms.MultiWidget, forms.widgets.ChoiceWidget,
                                                               forms.widgets.DateTimeBaseInput):
            continue
        try:
            widget = cls()
        except TypeError:
            continue
        if hasattr(widget, "choices"):
            widget.choices = CHOICES
        made.append(widget)
    made += [forms.DateInput(attrs={"type": "date", "class": "x", "data-on": True, "hidden": False}),
             forms.TextInput(attrs={"placeholder": "Name <or> number", "maxlength": 10}),
             forms.Textarea(attrs={"rows": 5}), forms.Select(choices=CHOICES, attrs={"required": True}),
             forms.SelectMultiple(choices=CHOICES), admin_widgets.AdminTextInputWidget(),
             admin_widgets.AdminDateWidget()]
    return made


def _product_widgets() -> list[tuple[str, forms.Widget]]:
    made = []
    for app in ("core", "tenants", "telephony", "messaging", "crm", "softphone"):
        package = importlib.import_module(app)
        for info in pkgutil.walk_packages(package.__path__, f"{app}."):
            if ".migrations" in info.name or ".management" in info.name:
                continue
            module = importlib.import_module(info.name)
            for name, cls in inspect.getmembers(module, inspect.isclass):
                if issubclass(cls, forms.BaseForm) and cls.__module__ == module.__name__:
                    made += [(f"{info.name}.{name}.{field}", f.widget) for field, f in cls.base_fields.items()]
    return made


PRODUCT = _product_widgets()


def _values(widget: forms.Widget) -> list:
    values = [None, "", 0, 7, date(2026, 12, 4), *HOSTILE]
    if isinstance(widget, forms.CheckboxInput):
        values += [True, False, "on"]
    if hasattr(widget, "choices"):
        values += ["a", '"q"', "g2", ["a", "g1"]]
    return values


def _both(widget: forms.Widget, value) -> tuple[str, str]:
    """Both renderings; a value the widget itself cannot take fails the same way in both."""
    attrs = {"id": "id_field", "aria-describedby": 'help "x"'}
    try:
        django_made = widget.render("field", value, attrs=dict(attrs), renderer=DjangoTemplates())
    except (TypeError, AttributeError, ValueError) as exc:
        with pytest.raises(type(exc)):
            widget.render("field", value, attrs=dict(attrs), renderer=FormRenderer())
        return "", ""
    ours = widget.render("field", value, attrs=dict(attrs), renderer=FormRenderer())
    return django_made, ours


def test_the_product_renders_its_forms_with_it():
    assert settings.FORM_RENDERER == "core.forms_renderer.FormRenderer"
    assert isinstance(get_default_renderer(), FormRenderer)


@pytest.mark.parametrize("widget", _django_widgets(), ids=lambda w: type(w).__name__)
def test_every_django_widget_renders_as_django_renders_it(widget):
    for value in _values(widget):
        django_made, ours = _both(widget, value)
        assert ours == django_made, (type(widget).__name__, value)


def test_the_product_has_forms_to_compare():
    names = {name for name, _ in PRODUCT}
    assert "telephony.forms.CallFilterForm.number" in names
    assert len(PRODUCT) > 50


@pytest.mark.parametrize("name,widget", PRODUCT, ids=[name for name, _ in PRODUCT])
def test_every_widget_of_the_product_renders_as_django_renders_it(name, widget):
    widget = copy.deepcopy(widget)
    if hasattr(widget, "choices") and not isinstance(getattr(widget, "choices", None), list):
        widget.choices = CHOICES  # a model's choices (a queryset): the test's own
    for value in _values(widget):
        django_made, ours = _both(widget, value)
        assert ours == django_made, (name, value)


def test_hostile_values_are_escaped():
    html = forms.TextInput().render("q", '"><script>x</script>', renderer=FormRenderer())
    assert "<script>" not in html and "&quot;&gt;&lt;script&gt;" in html
    html = forms.Select(choices=[("<x>", "<y>")]).render("s", "<x>", renderer=FormRenderer())
    assert "<x>" not in html and "<y>" not in html and "selected" in html
