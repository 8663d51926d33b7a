from django.contrib import admin, messages
from django.utils.text import Truncator

from core.admin import SecretFieldsAdminMixin, TypedNamesAdminMixin

from .models import (
    CannedReply,
    Conversation,
    InboundDrain,
    InboundEvent,
    LabelUse,
    Message,
    WhatsAppSender,
    WhatsAppTemplate,
)
from .services import events


@admin.register(WhatsAppSender)
class WhatsAppSenderAdmin(TypedNamesAdminMixin, SecretFieldsAdminMixin, admin.ModelAdmin):
    name_fields = ["name"]
    list_display = ["name", "display_phone_number", "organization", "phone_number_id", "is_active", "status",
                    "last_checked_at"]
    list_filter = ["is_active", "status", "organization"]
    search_fields = ["name", "display_phone_number", "phone_number_id"]
    secret_fields = ["access_token", "app_secret"]
    # What Meta said and when it last called: recorded by the checks and the webhook, not typed.
    readonly_fields = ["status", "last_error", "last_checked_at", "verified_name", "quality_rating",
                       "webhook_verified_at", "last_webhook_at"]


@admin.register(WhatsAppTemplate)
class WhatsAppTemplateAdmin(admin.ModelAdmin):
    """Read-only: templates are written and reviewed at Meta (or Twilio) and synced from there; an
    edit here would be overwritten by the next sync and never reach the vendor."""

    list_display = ["name", "language", "category", "status", "provider", "business_account_id", "organization",
                    "synced_at"]
    list_filter = ["status", "provider", "category", "organization"]
    search_fields = ["name", "body", "external_id", "business_account_id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


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
    raw_id_fields = ["conversation", "created_by", "template"]
    readonly_fields = ["provider_sid", "sentiment", "attempts", "created_at", "updated_at", "sent_at"]


class InboundEventStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("failed", "Failed (set aside)"), ("retrying", "Waiting for a retry"), ("waiting", "Not processed yet"),
                ("processed", "Processed")]

    def queryset(self, request, queryset):
        pending = queryset.filter(processed_at__isnull=True, failed_at__isnull=True)
        return {
            "failed": queryset.filter(failed_at__isnull=False),
            "retrying": pending.filter(attempts__gt=0),
            "waiting": pending.filter(attempts=0),
            "processed": queryset.filter(processed_at__isnull=False),
        }.get(self.value(), queryset)


@admin.register(InboundEvent)
class InboundEventAdmin(admin.ModelAdmin):
    """What providers sent us. An event whose processing failed INBOUND_EVENT_ATTEMPTS times is set
    aside as failed, with its error; once the cause is fixed, "retry" puts it back in line."""

    list_display = ["received_at", "organization", "provider", "provider_sid", "state", "attempts", "error",
                    "processed_at", "failed_at"]
    list_filter = [InboundEventStateFilter, "provider", "organization"]
    search_fields = ["provider_sid", "last_error"]
    readonly_fields = ["organization", "provider", "provider_sid", "phone_number", "payload", "received_at",
                       "processed_at", "attempts", "last_error", "next_attempt_at", "failed_at"]
    actions = ["retry"]

    @admin.display(description="error")
    def error(self, event: InboundEvent) -> str:
        return Truncator(event.last_error).chars(120)

    @admin.action(description="Retry the selected failed events")
    def retry(self, request, queryset):
        retried = 0
        by_organization = {}
        for event in queryset.filter(failed_at__isnull=False).select_related("organization"):
            by_organization.setdefault(event.organization_id, (event.organization, []))[1].append(event.pk)
        for organization, ids in by_organization.values():
            retried += events.inbound_events_retry(organization=organization, actor=request.user, event_ids=ids)
        if retried:
            self.message_user(request, f"{retried} failed event(s) put back in line; they are processed in a moment.",
                              messages.SUCCESS)
        else:
            self.message_user(request, "None of the selected events had failed: nothing to retry.", messages.WARNING)

    def has_add_permission(self, request):
        return False  # events come from webhooks; a hand-made one has no organization or payload


@admin.register(InboundDrain)
class InboundDrainAdmin(admin.ModelAdmin):
    """Read-only: whether a worker has been asked to process an organization's events. An admin
    who sees events waiting can clear a stuck request by deleting the row (the next webhook or the
    sweeper asks again)."""

    list_display = ["organization", "requested_until", "retry_at"]
    readonly_fields = ["organization", "requested_until", "retry_at"]

    def has_add_permission(self, request):
        return False


@admin.register(LabelUse)
class LabelUseAdmin(admin.ModelAdmin):
    """Read-only: the labels each organization uses and on how many conversations, as the inbox's
    label filter lists them. A trigger keeps the counts; there is nothing to edit."""

    list_display = ["label", "organization", "conversations"]
    list_filter = ["organization"]
    readonly_fields = ["organization", "label", "conversations"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(CannedReply)
class CannedReplyAdmin(TypedNamesAdminMixin, admin.ModelAdmin):
    name_fields = ["title"]
    list_display = ["shortcut", "title", "organization", "updated_at"]
    list_filter = ["organization"]
    search_fields = ["shortcut", "title", "body"]
    raw_id_fields = ["created_by"]
