from django.contrib import admin

from core.admin import SecretFieldsAdminMixin, TypedNamesAdminMixin

from .models import Call, CallDrain, PhoneNumber, ProviderAccount, VoicePolicy
from .services import platform


@admin.register(ProviderAccount)
class ProviderAccountAdmin(TypedNamesAdminMixin, SecretFieldsAdminMixin, admin.ModelAdmin):
    name_fields = ["friendly_name"]
    list_display = ["friendly_name", "provider", "organization", "account_sid", "status", "last_verified_at"]
    list_filter = ["provider", "status", "webhook_mode", "organization"]
    search_fields = ["friendly_name", "account_sid"]
    readonly_fields = ["last_verified_at", "last_error", "created_by", "created_at", "updated_at"]
    secret_fields = ["auth_token", "api_key_secret", "api_key", "webhook_secret"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "webhook_secret" in form.changed_data and form.cleaned_data.get("webhook_secret"):
            # VAPI presents the secret on every report: tell it the new one, through each number.
            count = platform.platform_report_secret_changed(organization=obj.organization, account=obj,
                                                            actor=request.user)
            self.message_user(request, f"The new webhook secret is being sent to VAPI for {count} number"
                                       f"{'' if count == 1 else 's'}.")


@admin.register(PhoneNumber)
class PhoneNumberAdmin(TypedNamesAdminMixin, admin.ModelAdmin):
    name_fields = ["friendly_name"]
    list_display = ["phone_number", "friendly_name", "organization", "agent", "status", "platform_state",
                    "webhook_configured"]
    list_filter = ["status", "provider", "platform", "platform_state", "webhook_configured", "organization"]
    search_fields = ["phone_number", "friendly_name", "provider_sid", "platform_id"]
    autocomplete_fields = ["agent", "client"]
    readonly_fields = ["provider_sid", "platform_id", "last_verified_at", "created_at", "updated_at"]


@admin.register(Call)
class CallAdmin(admin.ModelAdmin):
    list_display = ["created_at", "direction", "from_number", "to_number", "status", "agent", "duration",
                    "voicemail", "organization"]
    list_filter = ["direction", "status", "voicemail", "provider", "organization"]
    search_fields = ["from_number", "to_number", "provider_sid", "child_sid"]
    date_hierarchy = "created_at"
    raw_id_fields = ["phone_number", "agent", "contact", "transferred_by", "transferred_to", "created_by"]
    readonly_fields = ["provider", "provider_sid", "child_sid", "conference_name", "conference_sid", "last_sequence",
                       "recording_sid", "recording_url", "created_at", "updated_at"]


@admin.register(VoicePolicy)
class VoicePolicyAdmin(admin.ModelAdmin):
    list_display = ["organization", "allow_premium_rate", "allow_emergency", "updated_at"]


@admin.register(CallDrain)
class CallDrainAdmin(admin.ModelAdmin):
    """Read-only: whether a worker has been asked to show an organization's new calls in their
    conversations. An admin who sees calls missing from the inbox can clear a stuck request by
    deleting the row (the next call or the messages sweep asks again)."""

    list_display = ["organization", "requested_until"]
    readonly_fields = ["organization", "requested_until"]

    def has_add_permission(self, request):
        return False
