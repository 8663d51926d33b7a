"""The platform's admin (staff only; the middleware lets staff cross tenants here)."""

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from core.admin import SecretFieldsAdminMixin, TypedNamesAdminMixin

from . import services
from .models import (
    Agent,
    AuditEvent,
    Client,
    ClientAccess,
    Invitation,
    Job,
    Membership,
    Organization,
    Role,
    User,
)


@admin.register(User)
class UserAdmin(TypedNamesAdminMixin, BaseUserAdmin):
    name_fields = ["first_name", "last_name"]
    list_display = ["username", "email", "first_name", "last_name", "is_staff", "is_active", "last_login"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["username", "email", "first_name", "last_name"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and not obj.is_active:
            services.user_deactivated(user=obj)


@admin.register(Organization)
class OrganizationAdmin(TypedNamesAdminMixin, SecretFieldsAdminMixin, admin.ModelAdmin):
    name_fields = ["name"]
    search_fields = ["name", "slug"]
    list_display = ["name", "slug", "agent_visibility", "created_at"]
    readonly_fields = ["created_at", "updated_at", "created_by"]
    secret_fields = ["channel_automation_api_key"]


class MembershipAdminForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["user", "organization", "role"]

    def clean_role(self):
        role = self.cleaned_data["role"]
        instance = self.instance
        if instance.pk and instance.role == Role.OWNER and role != Role.OWNER and _is_last_owner(instance):
            raise forms.ValidationError("An organization needs at least one owner: make someone else owner first.")
        return role


def _is_last_owner(membership: Membership) -> bool:
    return (membership.role == Role.OWNER and not Membership.objects
            .filter(organization_id=membership.organization_id, role=Role.OWNER).exclude(pk=membership.pk).exists())


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    """Changes and removals go through the same services as the team page, so the owner rules (and
    their row locks), the audit trail, the member's agent and the revocation of their live tokens
    apply to staff here too. No bulk delete: it would skip all of that."""

    form = MembershipAdminForm
    list_display = ["user", "organization", "role", "limited_to_clients", "created_at"]
    list_filter = ["role", "limited_to_clients", "organization"]
    search_fields = ["user__username", "user__email", "organization__name"]
    autocomplete_fields = ["user", "organization"]
    actions = None

    def get_readonly_fields(self, request, obj=None):
        # The clients a member sees are set on the Team page (tenants.services.membership_set_clients),
        # which keeps the limit to agents; here they are shown.
        return ["user", "organization", "limited_to_clients"] if obj is not None else ["limited_to_clients"]

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not (obj is not None and _is_last_owner(obj))

    def save_model(self, request, obj, form, change):
        if change and "role" in form.changed_data:
            services.membership_change_role(organization=obj.organization, actor=request.user,
                                            membership=obj, role=obj.role)
        else:
            super().save_model(request, obj, form, change)

    def delete_model(self, request, obj):
        services.membership_remove(organization=obj.organization, actor=request.user, membership=obj)


@admin.register(ClientAccess)
class ClientAccessAdmin(admin.ModelAdmin):
    """Which clients a limited member sees: read here, set on the Team page (or its API), where the
    rules live (only agents are limited; the change is audited)."""

    list_display = ["membership", "client", "organization", "created_at"]
    list_filter = ["organization"]
    readonly_fields = ["organization", "membership", "client", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Client)
class ClientAdmin(TypedNamesAdminMixin, admin.ModelAdmin):
    name_fields = ["name"]
    list_display = ["name", "organization", "email", "created_at"]
    list_filter = ["organization"]
    search_fields = ["name", "email"]


@admin.register(Agent)
class AgentAdmin(TypedNamesAdminMixin, admin.ModelAdmin):
    name_fields = ["name"]
    vapi_id_fields = ["assistant_id"]
    list_display = ["name", "kind", "organization", "user", "assistant_id", "client", "created_at"]
    list_filter = ["kind", "organization"]
    search_fields = ["name", "user__username", "user__email", "assistant_id"]
    autocomplete_fields = ["user", "organization", "client"]
    readonly_fields = ["created_by", "created_at", "updated_at"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "organization", "role", "created_at", "expires_at", "accepted_at", "revoked_at"]
    list_filter = ["role", "organization"]
    search_fields = ["email"]
    # The token and its hash are credentials: never displayed, never editable.
    exclude = ["token_hash", "token"]
    readonly_fields = ["invited_by", "accepted_by", "accepted_at", "created_at"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "organization", "actor", "verb", "target_type", "target_repr"]
    list_filter = ["verb", "target_type", "organization"]
    search_fields = ["verb", "target_repr", "actor__username"]
    readonly_fields = ["organization", "actor", "verb", "target_type", "target_id", "target_repr", "data", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["created_at", "organization", "kind", "status", "done", "total", "created_count"]
    list_filter = ["kind", "status", "organization"]
    readonly_fields = ["organization", "kind", "status", "done", "total", "created_count", "errors", "params", "cursor",
                       "created_by", "created_at", "started_at", "finished_at", "heartbeat_at"]

    def has_add_permission(self, request):
        return False  # jobs are started by the product (imports); a hand-made one has no organization
