"""Forms of `crm`'s pages."""

from __future__ import annotations

import phonenumbers
from django import forms

from .models import OrderStatus
from .selectors import LAST_CONTACT


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
    label = forms.CharField(required=False, max_length=50, label="Label",
                            widget=forms.TextInput(attrs={"list": "contact-labels", "placeholder": "Any label"}))
    last_contact = forms.ChoiceField(choices=[("", "Any time"), *LAST_CONTACT.items()], required=False,
                                     label="Last contact")
    opted_out = forms.BooleanField(required=False, label="Opted out")
    sort = forms.ChoiceField(choices=[("name", "By name"), ("newest", "Newest first")], required=False,
                             label="Order")


class ContactEditForm(forms.Form):
    name = forms.CharField(required=False, max_length=200)
    email = forms.CharField(required=False, max_length=254, widget=forms.EmailInput)
    labels = forms.CharField(required=False, max_length=1100, help_text="Separated by commas, e.g. vip, wholesale",
                             widget=forms.TextInput(attrs={"list": "contact-labels"}))
    notes = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 4}))

    def clean_labels(self) -> list[str]:
        return [label for label in self.cleaned_data["labels"].split(",") if label.strip()]


class ContactImportForm(forms.Form):
    file = forms.FileField(label="CSV file", error_messages={"required": "Choose the CSV file to import.",
                                           "empty": "The file is empty: choose the CSV file to import."},
                           widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}))
    country = forms.ChoiceField(label="Numbers without a country code are in", initial="US",
                                choices=sorted((region, region) for region in phonenumbers.SUPPORTED_REGIONS))
