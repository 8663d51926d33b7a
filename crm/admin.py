from django.contrib import admin
from django.db.models import F

from core.admin import TypedNamesAdminMixin

from .models import (
    Contact,
    ContactImport,
    ContactLabelUse,
    ContactMerge,
    Order,
    OrderCounter,
    OrderItem,
    OrderStatusChange,
)


@admin.register(Contact)
class ContactAdmin(TypedNamesAdminMixin, admin.ModelAdmin):
    name_fields = ["name"]
    list_display = ["phone_number", "name", "organization", "whatsapp_profile_name", "sms_opted_out_at",
                    "whatsapp_opted_out_at", "created_at"]
    list_filter = ["organization"]
    search_fields = ["phone_number", "name", "email", "wa_id", "whatsapp_profile_name"]


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    fields = ["name", "quantity", "unit_price", "line_total"]
    readonly_fields = ["line_total"]
    extra = 0


class OrderStatusChangeInline(admin.TabularInline):
    model = OrderStatusChange
    fields = ["from_status", "to_status", "changed_by", "changed_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    """Orders as staff see them. The status moves only through its workflow (the inbox, the API), so
    it is read-only here; the total is the database's sum of the lines. Any change made here moves the
    order's version on, so an agent's change made against the version before it is refused."""

    list_display = ["number", "organization", "contact", "status", "total", "currency", "created_at"]
    list_filter = ["status", "organization"]
    search_fields = ["number", "contact__name", "contact__phone_number"]
    readonly_fields = ["number", "status", "total", "currency", "version", "created_by", "created_at", "updated_at"]
    raw_id_fields = ["contact"]
    inlines = [OrderItemInline, OrderStatusChangeInline]

    def has_add_permission(self, request):
        return False  # an order is numbered and recorded by crm.services.order_create

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        Order.objects.filter(pk=form.instance.pk).update(version=F("version") + 1)


@admin.register(OrderItem)
class OrderItemAdmin(admin.ModelAdmin):
    list_display = ["order", "name", "quantity", "unit_price", "line_total", "organization"]
    list_filter = ["organization"]
    search_fields = ["name", "order__number"]
    readonly_fields = ["order", "line_total"]

    def has_add_permission(self, request):
        return False  # lines are added on their order

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        Order.objects.filter(pk=obj.order_id).update(version=F("version") + 1)

    def delete_model(self, request, obj):
        order_id = obj.order_id
        super().delete_model(request, obj)
        Order.objects.filter(pk=order_id).update(version=F("version") + 1)


@admin.register(OrderStatusChange)
class OrderStatusChangeAdmin(admin.ModelAdmin):
    """Read-only: the history of every order's workflow."""

    list_display = ["order", "from_status", "to_status", "changed_by", "changed_at", "organization"]
    list_filter = ["to_status", "organization"]
    readonly_fields = ["organization", "order", "from_status", "to_status", "changed_by", "changed_at"]

    def has_add_permission(self, request):
        return False


@admin.register(OrderCounter)
class OrderCounterAdmin(admin.ModelAdmin):
    """Read-only: the last order number each organization handed out."""

    list_display = ["organization", "last_number"]
    readonly_fields = ["organization", "last_number"]

    def has_add_permission(self, request):
        return False


@admin.register(ContactMerge)
class ContactMergeAdmin(admin.ModelAdmin):
    """Merges as they happened (crm.merges): a record, never edited; removing one would stop its
    number from reaching the contact it was merged into, so it is kept."""

    list_display = ["merged_address", "merged_name", "contact", "organization", "merged_by", "merged_at"]
    list_filter = ["organization"]
    search_fields = ["merged_address", "merged_name", "contact__name", "contact__phone_number"]
    readonly_fields = ["contact", "merged_contact_id", "merged_address", "merged_name", "merged_snapshot", "moved",
                       "merged_by", "merged_at", "organization"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ContactImport)
class ContactImportAdmin(admin.ModelAdmin):
    """CSV imports of contacts (crm.imports): what each file held, line by line, and what it did. A
    record: it is made and applied on the contacts page, never here."""

    list_display = ["file_name", "organization", "status", "created_by", "created_at", "applied_at"]
    list_filter = ["status", "organization"]
    search_fields = ["file_name"]
    readonly_fields = ["file_name", "organization", "status", "default_country", "summary", "result", "rows",
                       "created_by", "created_at", "applied_by", "applied_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ContactLabelUse)
class ContactLabelUseAdmin(admin.ModelAdmin):
    """Read-only: the labels each organization's contacts carry and how many carry each, as the
    contacts page's label filter lists them. A trigger keeps the counts; there is nothing to edit."""

    list_display = ["label", "organization", "contacts"]
    list_filter = ["organization"]
    readonly_fields = ["organization", "label", "contacts"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
