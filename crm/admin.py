from django.contrib import admin

from core.admin import TypedNamesAdminMixin

from .models import Contact


@admin.register(Contact)
class ContactAdmin(TypedNamesAdminMixin, admin.ModelAdmin):
    name_fields = ["name"]
    list_display = ["phone_number", "name", "organization", "whatsapp_profile_name", "sms_opted_out_at",
                    "whatsapp_opted_out_at", "created_at"]
    list_filter = ["organization"]
    search_fields = ["phone_number", "name", "email", "wa_id", "whatsapp_profile_name"]
