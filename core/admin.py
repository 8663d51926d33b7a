"""Admin helpers shared by every app."""

from django import forms

from .validators import validate_name, validate_vapi_id


class SecretInput(forms.PasswordInput):
    """Never renders the stored value; an empty submission keeps it."""

    def __init__(self, attrs=None):
        super().__init__(attrs={"autocomplete": "new-password", **(attrs or {})}, render_value=False)

    def format_value(self, value):
        return None


class SecretFieldsAdminMixin:
    """Encrypted fields are write-only in the admin: shown as "set" or "not set", replaced by typing
    a new value, kept when left empty."""

    secret_fields: list[str] = []

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        for name in self.secret_fields:
            if name in form.base_fields:
                field = form.base_fields[name]
                field.widget = SecretInput()
                field.required = False
                is_set = bool(obj is not None and getattr(obj, name))
                field.help_text = ("A value is set; type a new one to replace it, leave empty to keep it."
                                   if is_set else "Not set.")
        return form

    def save_model(self, request, obj, form, change):
        if change:
            for name in self.secret_fields:
                if name in form.changed_data and not form.cleaned_data.get(name):
                    # Empty means "keep": reload the stored value instead of wiping it.
                    setattr(obj, name, getattr(type(obj)._base_manager.get(pk=obj.pk), name))
        super().save_model(request, obj, form, change)


class TypedNamesAdminMixin:
    """Names typed in the admin pass the same checks as in the product (no control characters;
    VAPI ids are UUIDs)."""

    name_fields: list[str] = []
    vapi_id_fields: list[str] = []

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        for names, validator in ((self.name_fields, validate_name), (self.vapi_id_fields, validate_vapi_id)):
            for name in names:
                field = form.base_fields.get(name)
                if field is not None and validator not in field.validators:
                    field.validators = [*field.validators, validator]
        return form
