from django.contrib import admin

from core.admin import SecretFieldsAdminMixin, TypedNamesAdminMixin

from .models import PhoneNumber, ProviderAccount


@admin.register(ProviderAccount)
class ProviderAccountAdmin(TypedNamesAdminMixin, SecretFieldsAdminMixin, admin.ModelAdmin):
    name_fields = ["friendly_name"]
    list_display = ["friendly_name", "provider", "organization", "account_sid", "status", "last_verified_at"]
    list_filter = ["provider", "status", "webhook_mode", "organization"]
    search_fields = ["friendly_name", "account_sid"]
    readonly_fields = ["last_verified_at", "last_error", "created_by", "created_at", "updated_at"]
    secret_fields = ["auth_token", "api_key_secret", "api_key"]


@admin.register(PhoneNumber)
class PhoneNumberAdmin(TypedNamesAdminMixin, admin.ModelAdmin):
    name_fields = ["friendly_name"]
    list_display = ["phone_number", "friendly_name", "organization", "agent", "status", "platform_state",
                    "webhook_configured"]
    list_filter = ["status", "provider", "platform", "platform_state", "webhook_configured", "organization"]
    search_fields = ["phone_number", "friendly_name", "provider_sid", "platform_id"]
    autocomplete_fields = ["agent", "client"]
    readonly_fields = ["provider_sid", "platform_id", "last_verified_at", "created_at", "updated_at"]
