"""Customers (seed 002's contacts, seed 003's per-agent customers as ordinary rows)."""

from __future__ import annotations

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django_scopes import ScopedManager

from core import phones
from tenants.models import TenantModel, WithoutSearchVectorManager


class Channel(models.TextChoices):
    SMS = "sms", "SMS"
    WHATSAPP = "whatsapp", "WhatsApp"


class AddressKind(models.TextChoices):
    """What a contact's address is (core.phones.contact_address)."""

    PHONE = phones.PHONE, "Phone number"
    SHORT_CODE = phones.SHORT_CODE, "Short code"
    ALPHANUMERIC = phones.ALPHANUMERIC, "Alphanumeric sender"
    UNRECOGNISED = phones.UNRECOGNISED, "Unrecognised number"


# Senders that can send to us but never receive: carriers refuse messages to them.
NO_REPLIES = {AddressKind.SHORT_CODE, AddressKind.ALPHANUMERIC}


class Contact(TenantModel):
    """A person (or a sender) who reaches the organization. One per address per organization:
    phone numbers are stored in one canonical E.164 form (see core.phones.canonical_contact_number);
    short codes, alphanumeric sender ids and numbers libphonenumber rejects are kept as they arrived,
    and `address_kind` says which it is."""

    phone_number = models.CharField(max_length=phones.ADDRESS_LONGEST)
    address_kind = models.CharField(max_length=12, choices=AddressKind.choices, default=AddressKind.PHONE)
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    whatsapp_profile_name = models.CharField(max_length=200, blank=True)
    wa_id = models.CharField("WhatsApp id", max_length=32, blank=True)
    profile_image_url = models.URLField(max_length=500, blank=True)
    # Opt-out per channel: when, and how (the keyword the customer sent, or who changed it).
    sms_opted_out_at = models.DateTimeField(null=True, blank=True)
    sms_opt_out_source = models.CharField(max_length=100, blank=True)
    whatsapp_opted_out_at = models.DateTimeField(null=True, blank=True)
    whatsapp_opt_out_source = models.CharField(max_length=100, blank=True)
    notes = models.TextField(blank=True, help_text="The team's notes about this customer.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Inbox search by name, WhatsApp profile name or email, word prefixes ('simple': names as typed).
    search_vector = models.GeneratedField(
        expression=SearchVector("name", "whatsapp_profile_name", "email", config="simple"),
        output_field=SearchVectorField(), db_persist=True)

    objects = ScopedManager(WithoutSearchVectorManager, organization="organization")

    class Meta:
        ordering = ["name", "phone_number"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "phone_number"], name="contact_phone_unique_per_org"),
        ]
        indexes = [
            # Inbox search: organization_id = ? and search_vector @@ to_tsquery(?)
            GinIndex(fields=["search_vector"], name="contact_search_idx"),
            # Inbox search by any part of the number: phone_number like '%5550142%' (trigrams)
            GinIndex(fields=["phone_number"], opclasses=["gin_trgm_ops"], name="contact_phone_trgm_idx"),
        ]

    def __str__(self) -> str:
        return self.name or self.whatsapp_profile_name or self.phone_number

    @property
    def display_name(self) -> str:
        return str(self)

    @property
    def takes_replies(self) -> bool:
        return self.address_kind not in NO_REPLIES

    @property
    def odd_address(self) -> bool:
        """Shown with its kind: anything but a number libphonenumber accepts."""
        return self.address_kind != AddressKind.PHONE

    def opted_out(self, channel: str) -> bool:
        return bool(self.whatsapp_opted_out_at if channel == Channel.WHATSAPP else self.sms_opted_out_at)
