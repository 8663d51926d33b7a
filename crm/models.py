"""Customers (seed 002's contacts, seed 003's per-agent customers as ordinary rows) and their orders
(seed 003's per-agent orders and order items, as ordinary tenant rows)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q, Value

from core import phones
from tenants.access import TenantManager
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


CONTACT_LABEL_LONGEST = 50
CONTACT_LABELS_MAX = 20


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
    # The team's tags for the customer ("vip", "wholesale"), kept sorted, at most CONTACT_LABELS_MAX.
    labels = ArrayField(models.CharField(max_length=CONTACT_LABEL_LONGEST), default=list, blank=True,
                        db_default=Value([], output_field=ArrayField(models.CharField(max_length=CONTACT_LABEL_LONGEST))))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Inbox search by name, WhatsApp profile name or email, word prefixes ('simple': names as typed).
    search_vector = models.GeneratedField(
        expression=SearchVector("name", "whatsapp_profile_name", "email", config="simple"),
        output_field=SearchVectorField(), db_persist=True)

    objects = TenantManager(WithoutSearchVectorManager)

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
            # Contacts page by name: organization_id = ? order by name, phone_number, id
            models.Index(fields=["organization", "name", "phone_number", "id"], name="contact_org_name_idx"),
            # Contacts page, newest first: organization_id = ? order by created_at desc, id desc
            models.Index(fields=["organization", "-created_at", "-id"], name="contact_org_recent_idx"),
            # Label filter: organization_id = ? and labels @> array[?]
            GinIndex(fields=["labels"], name="contact_labels_idx"),
            # The labels in use (the filter's suggestions): organization_id = ? and labels <> '{}', the
            # labelled contacts only
            models.Index(fields=["organization"], condition=~Q(labels=[]), name="contact_labelled_idx"),
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


# Orders ---------------------------------------------------------------------------------------------


class ContactLabelUse(TenantModel):
    """How many of an organization's contacts carry each label, so that the contacts page's label
    filter and the edit form's suggestions list the labels in use from a few rows instead of reading
    every labelled contact (a tenth of a second at a million contacts). Kept by a trigger on the
    contacts table (migration 0012), so every writer keeps it right: the edit form, imports, merges,
    bulk SQL, deletes. messaging.LabelUse does the same for conversations."""

    label = models.CharField(max_length=CONTACT_LABEL_LONGEST)
    contacts = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["label"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "label"], name="contact_label_use_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.contacts})"


class OrderStatus(models.TextChoices):
    """Seed 003's order_status, in its workflow's order."""

    PENDING = "pending", "Pending"
    CONFIRMED = "confirmed", "Confirmed"
    PROCESSING = "processing", "Processing"
    SHIPPED = "shipped", "Shipped"
    DELIVERED = "delivered", "Delivered"
    CANCELLED = "cancelled", "Cancelled"
    REFUNDED = "refunded", "Refunded"


# Where an order may go from each status (seed 003's workflow): forward one step at a time; cancelled
# before it ships; refunded once delivered. Cancelled and refunded are final.
ORDER_TRANSITIONS: dict[str, tuple[str, ...]] = {
    OrderStatus.PENDING: (OrderStatus.CONFIRMED, OrderStatus.CANCELLED),
    OrderStatus.CONFIRMED: (OrderStatus.PROCESSING, OrderStatus.CANCELLED),
    OrderStatus.PROCESSING: (OrderStatus.SHIPPED, OrderStatus.CANCELLED),
    OrderStatus.SHIPPED: (OrderStatus.DELIVERED,),
    OrderStatus.DELIVERED: (OrderStatus.REFUNDED,),
    OrderStatus.CANCELLED: (),
    OrderStatus.REFUNDED: (),
}
# Items can change only while the order is still being put together.
ORDER_EDITABLE = (OrderStatus.PENDING, OrderStatus.CONFIRMED)

# Money: Decimal with two places, never float. Bounds a person could mean, which also keep every sum
# inside its column: a line at most 1,000,000 x 99,999,999.99; an order at most 1,000 lines.
MONEY_PLACES = 2
UNIT_PRICE_MAX_DIGITS = 10
QUANTITY_MAX = 1_000_000
ORDER_ITEMS_MAX = 1_000


class OrderCounter(TenantModel):
    """The last order number handed out in the organization (orders are numbered from 1001): one row
    per organization, advanced by an atomic upsert, so numbers never repeat and concurrent orders wait
    for each other only for that one statement."""

    organization = models.OneToOneField("tenants.Organization", on_delete=models.CASCADE, related_name="+")
    last_number = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"last order #{self.last_number}"


class Order(TenantModel):
    """What a customer ordered, taken in the conversation (seed 003's agt_{id}_orders).

    `total` is the sum of the items' line totals, kept by the database: a trigger on the items adds
    each change's difference (crm/sql/orders.sql), so no writer can leave it wrong and concurrent
    edits add up. `version` grows with every change to the order or its items: a change made against
    an older version is refused as a conflict (crm.services.orders)."""

    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="orders")
    number = models.PositiveIntegerField(help_text="The order's reference in the organization, e.g. 1042")
    status = models.CharField(max_length=12, choices=OrderStatus.choices, default=OrderStatus.PENDING)
    currency = models.CharField(max_length=3)
    total = models.DecimalField(max_digits=18, decimal_places=MONEY_PLACES, default=0, editable=False)
    notes = models.TextField(blank=True)
    shipping_address = models.TextField(blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "number"], name="order_number_unique_per_org"),
            models.CheckConstraint(condition=Q(total__gte=0), name="order_total_not_negative"),
            models.CheckConstraint(condition=Q(status__in=OrderStatus.values), name="order_status_known"),
            models.CheckConstraint(condition=Q(currency__regex=r"^[A-Z]{3}$"), name="order_currency_iso"),
        ]
        indexes = [
            # Orders page: organization_id = ? order by created_at desc (optionally status = ?)
            models.Index(fields=["organization", "-created_at"], name="order_org_recent_idx"),
            # ... and what they add up to: sum(total) group by currency, from the index alone
            models.Index(fields=["organization", "status", "-created_at"], include=["currency", "total"],
                         name="order_org_status_idx"),
            # A contact's orders (panel, contact page): organization_id = ? and contact_id = ?
            models.Index(fields=["organization", "contact", "-created_at"], name="order_contact_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.number}"

    @property
    def editable(self) -> bool:
        return self.status in ORDER_EDITABLE

    @property
    def next_statuses(self) -> tuple[str, ...]:
        return ORDER_TRANSITIONS[self.status]


class OrderItem(TenantModel):
    """One line of an order (seed 003's agt_{id}_orders_items): the database keeps its rules."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    name = models.CharField(max_length=200)
    quantity = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1), MaxValueValidator(QUANTITY_MAX)])
    unit_price = models.DecimalField(max_digits=UNIT_PRICE_MAX_DIGITS, decimal_places=MONEY_PLACES,
                                     validators=[MinValueValidator(0)])
    line_total = models.GeneratedField(expression=F("quantity") * F("unit_price"),
                                       output_field=models.DecimalField(max_digits=17, decimal_places=MONEY_PLACES),
                                       db_persist=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0) & Q(quantity__lte=QUANTITY_MAX),
                                   name="order_item_quantity_positive"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="order_item_price_not_negative"),
            models.CheckConstraint(condition=~Q(name=""), name="order_item_named"),
        ]
        indexes = [
            # An order's lines: order_id = ?
            models.Index(fields=["order", "created_at"], name="order_item_order_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.name}"


class OrderStatusChange(TenantModel):
    """Every move of an order through its workflow: from, to, who and when."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="status_changes")
    # None for the order's creation: it had no status before (a blank would be a status the API's enum
    # does not have).
    from_status = models.CharField(max_length=12, choices=OrderStatus.choices, null=True, blank=True)  # noqa: DJ001
    to_status = models.CharField(max_length=12, choices=OrderStatus.choices)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["changed_at", "id"]
        indexes = [models.Index(fields=["order", "changed_at"], name="order_status_change_idx")]

    def __str__(self) -> str:
        return f"{self.from_status or 'new'} -> {self.to_status}"


# Merges ---------------------------------------------------------------------------------------------


class ContactMerge(TenantModel):
    """Two contacts found to be the same person, made one (crm.services.contact_merge): the duplicate's
    conversations, calls and orders moved to `contact`, the duplicate removed, and this record kept.

    It also keeps the duplicate's address reaching the person: a message or call from `merged_address`
    finds `contact` (crm.services.contacts_for, telephony/sql/voice.sql), so a merge is not undone by
    the customer writing again from their other number. When `contact` is itself merged into another
    contact later, its records move with everything else, and the address follows."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="merges",
                                help_text="The contact that remained (the survivor).")
    merged_contact_id = models.UUIDField(help_text="The id the duplicate had, before it was removed.")
    merged_address = models.CharField(max_length=phones.ADDRESS_LONGEST)
    merged_name = models.CharField(max_length=200, blank=True)
    # Everything the duplicate was (its fields as they were) and what moved (counts per kind of row).
    merged_snapshot = models.JSONField(default=dict)
    moved = models.JSONField(default=dict)
    merged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    merged_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-merged_at"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "merged_address"], name="contact_merge_address_unique"),
        ]
        indexes = [
            # A contact's page: contact_id = ? order by merged_at desc
            models.Index(fields=["contact", "-merged_at"], name="contact_merge_contact_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.merged_name or self.merged_address} merged into {self.contact_id}"


# Imports --------------------------------------------------------------------------------------------


class ContactImportStatus(models.TextChoices):
    PREVIEWED = "previewed", "Previewed"
    APPLIED = "applied", "Applied"


class ContactImport(TenantModel):
    """A CSV file of contacts, read (crm.imports.contact_import_preview) and, once confirmed, applied.

    `rows` keeps every line of the file as read: its line number, cleaned values (`phone` canonical),
    its `error` (why it is set aside) or what it will do (`contact_id`: fill in that contact; `same_as`:
    folded into an earlier line with the same number; neither: a new contact)."""

    file_name = models.CharField(max_length=255)
    default_country = models.CharField(max_length=2, help_text="How numbers without a country code were read.")
    status = models.CharField(max_length=10, choices=ContactImportStatus.choices, default=ContactImportStatus.PREVIEWED)
    rows = models.JSONField(default=list)
    summary = models.JSONField(default=dict)
    result = models.JSONField(default=dict)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    applied_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The import page's recent imports: organization_id = ? order by created_at desc
            models.Index(fields=["organization", "-created_at"], name="contact_import_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_status_display().lower()})"
