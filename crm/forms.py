"""Forms of `crm`'s pages."""

from __future__ import annotations

from django import forms

from .models import OrderStatus


class OrderFilterForm(forms.Form):
    """The orders page's filters (the same as the API's, with a search for the customer)."""

    status = forms.ChoiceField(choices=[("", "Any status"), *OrderStatus.choices], required=False, label="Status")
    customer = forms.CharField(required=False, max_length=100, label="Customer",
                               widget=forms.TextInput(attrs={"placeholder": "Name or number"}))
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}),
                                error_messages={"invalid": "Enter the first day as YYYY-MM-DD."})
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}),
                              error_messages={"invalid": "Enter the last day as YYYY-MM-DD."})

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise forms.ValidationError("The first day comes after the last day.")
        return data


class ContactFilterForm(forms.Form):
    """The contacts page's search, filters and order."""

    q = forms.CharField(required=False, max_length=100, label="Search",
                        widget=forms.TextInput(attrs={"placeholder": "Name, number or email", "type": "search"}))
    has_open_orders = forms.BooleanField(required=False, label="Has open orders")
    opted_out = forms.BooleanField(required=False, label="Opted out")
    sort = forms.ChoiceField(choices=[("name", "By name"), ("newest", "Newest first")], required=False,
                             label="Order")


class ContactEditForm(forms.Form):
    name = forms.CharField(required=False, max_length=200)
    email = forms.CharField(required=False, max_length=254, widget=forms.EmailInput)
    notes = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 4}))
