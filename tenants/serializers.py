"""Input and output shapes of the `tenants` API. Field names are snake_case here and camelCase on
the wire (djangorestframework-camel-case). No serializer has a writable organization."""

import uuid

from rest_framework import serializers

from core.validators import validate_name, validate_vapi_id

from .models import Agent, AgentKind, AgentVisibility, Client, Membership, Organization, Role


class AgentOutputSerializer(serializers.ModelSerializer):
    user_id = serializers.UUIDField(read_only=True, allow_null=True)
    client_id = serializers.UUIDField(read_only=True, allow_null=True)
    created_by_id = serializers.UUIDField(read_only=True, allow_null=True)

    class Meta:
        model = Agent
        fields = ["id", "name", "kind", "user_id", "assistant_id", "client_id", "created_by_id", "created_at",
                  "updated_at"]
        read_only_fields = fields


class AgentInputSerializer(serializers.Serializer):
    """Ids arrive as UUIDs and are resolved inside the tenant by the view, never trusted as objects."""

    name = serializers.CharField(max_length=200, validators=[validate_name])
    kind = serializers.ChoiceField(choices=AgentKind.choices)
    user_id = serializers.UUIDField(required=False, allow_null=True)
    assistant_id = serializers.CharField(max_length=100, required=False, allow_blank=True,
                                         validators=[validate_vapi_id])
    client_id = serializers.UUIDField(required=False, allow_null=True)


class AgentPatchSerializer(AgentInputSerializer):
    name = serializers.CharField(max_length=200, required=False, validators=[validate_name])
    kind = serializers.ChoiceField(choices=AgentKind.choices, required=False)


class MemberOutputSerializer(serializers.ModelSerializer):
    user_id = serializers.UUIDField(source="user.id", read_only=True)
    username = serializers.CharField(source="user.username", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)
    name = serializers.CharField(source="user.display_name", read_only=True)
    role = serializers.ChoiceField(choices=Role.choices, read_only=True)
    limited_to_clients = serializers.SerializerMethodField(
        help_text="True when the member sees only the clients of clientIds (agents only).")
    client_ids = serializers.SerializerMethodField(help_text="The clients a limited member sees.")

    class Meta:
        model = Membership
        fields = ["id", "user_id", "username", "email", "name", "role", "limited_to_clients", "client_ids",
                  "created_at"]
        read_only_fields = fields

    def get_limited_to_clients(self, membership) -> bool:
        return membership.role == Role.AGENT and membership.limited_to_clients

    def get_client_ids(self, membership) -> list[uuid.UUID]:
        return [access.client_id for access in membership.client_access.all()]


class MemberPatchSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices, required=False)
    limited_to_clients = serializers.BooleanField(required=False)
    client_ids = serializers.ListField(child=serializers.UUIDField(), required=False, max_length=1000)


class OrganizationSettingsSerializer(serializers.ModelSerializer):
    agent_visibility = serializers.ChoiceField(
        choices=AgentVisibility.choices,
        help_text="all: agents see every conversation; own: only those of the numbers they answer and those "
                  "assigned to them.")

    class Meta:
        model = Organization
        fields = ["id", "name", "slug", "currency", "agent_visibility"]
        read_only_fields = ["id", "name", "slug", "currency"]


class ClientOutputSerializer(serializers.ModelSerializer):
    archived = serializers.SerializerMethodField()

    class Meta:
        model = Client
        fields = ["id", "name", "email", "notes", "archived", "archived_at", "created_at", "updated_at"]

    def get_archived(self, client) -> bool:
        return client.archived_at is not None


class ClientInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, validators=[validate_name])
    email = serializers.EmailField(required=False, allow_blank=True)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=10_000)


class ClientPatchSerializer(ClientInputSerializer):
    name = serializers.CharField(max_length=200, validators=[validate_name], required=False)
    archived = serializers.BooleanField(required=False)
