from django.contrib import admin

from softphone.admin import SecretFieldsAdminMixin, TypedNamesAdminMixin

from .models import CannedReply, Conversation, InboundDrain, InboundEvent, Message, WhatsAppSender


@admin.register(WhatsAppSender)
class WhatsAppSenderAdmin(TypedNamesAdminMixin, SecretFieldsAdminMixin, admin.ModelAdmin):
    name_fields = ["name"]
    list_display = ["name", "display_phone_number", "organization", "phone_number_id", "is_active"]
    list_filter = ["is_active", "organization"]
    search_fields = ["name", "display_phone_number", "phone_number_id"]
    secret_fields = ["access_token", "app_secret"]


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["contact", "channel", "organization", "status", "assignee", "unread_count", "last_message_at"]
    list_filter = ["status", "channel", "organization"]
    search_fields = ["contact__phone_number", "contact__name"]
    raw_id_fields = ["contact", "phone_number", "whatsapp_sender", "assignee"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["created_at", "organization", "direction", "channel", "status", "provider_sid", "error_code"]
    list_filter = ["direction", "channel", "status", "organization"]
    search_fields = ["provider_sid", "body"]
    raw_id_fields = ["conversation", "created_by"]
    readonly_fields = ["provider_sid", "sentiment", "attempts", "created_at", "updated_at", "sent_at"]


@admin.register(InboundEvent)
class InboundEventAdmin(admin.ModelAdmin):
    list_display = ["received_at", "organization", "provider", "provider_sid", "processed_at"]
    list_filter = ["provider", "organization"]
    search_fields = ["provider_sid"]
    readonly_fields = ["organization", "provider", "provider_sid", "phone_number", "payload", "received_at",
                       "processed_at"]


@admin.register(InboundDrain)
class InboundDrainAdmin(admin.ModelAdmin):
    """Read-only: whether a worker has been asked to process an organization's events. An admin
    who sees events waiting can clear a stuck request by deleting the row (the next webhook or the
    sweeper asks again)."""

    list_display = ["organization", "requested_until"]
    readonly_fields = ["organization", "requested_until"]

    def has_add_permission(self, request):
        return False


@admin.register(CannedReply)
class CannedReplyAdmin(TypedNamesAdminMixin, admin.ModelAdmin):
    name_fields = ["title"]
    list_display = ["shortcut", "title", "organization", "updated_at"]
    list_filter = ["organization"]
    search_fields = ["shortcut", "title", "body"]
    raw_id_fields = ["created_by"]
