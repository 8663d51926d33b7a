"""REST endpoints of `tenants` under /api/<slug>/. The middleware has already checked membership
and entered the tenant's scope; every id in a body is resolved inside that tenant."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import Pagination

from . import selectors, services
from .models import AgentKind
from .permissions import IsManager, IsManagerOrReadOnly, IsOrganizationMember
from .serializers import (
    AgentInputSerializer,
    AgentOutputSerializer,
    AgentPatchSerializer,
    ClientInputSerializer,
    ClientOutputSerializer,
    ClientPatchSerializer,
    MemberOutputSerializer,
    MemberPatchSerializer,
    OrganizationSettingsSerializer,
)


class TenantAPIView(APIView):
    permission_classes = [IsOrganizationMember]
    # Set on list views only: the schema then documents their answers as pages (drf-spectacular
    # wraps a list response in the paginator's shape when the view has one).
    pagination_class = None

    @property
    def organization(self):
        return self.request._request.organization

    def paginate(self, queryset, serializer_class):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(queryset, self.request, view=self)
        return paginator.get_paginated_response(serializer_class(page, many=True).data)


def resolve_in_tenant(label: str, lookup):
    """Resolve an id that arrived in a request body inside the tenant. Another tenant's id, or an id
    that names nothing, is the client's mistake: a 400 on that field, never a 404 or a 500."""
    from django.http import Http404

    try:
        return lookup()
    except Http404:
        thing = label.removesuffix("_id").replace("_", " ")
        raise ValidationError({label: [f"No {thing} of this organization has that id."]}) from None


def _resolve_agent_refs(organization, data: dict) -> dict:
    """Turn userId/clientId into objects of this organization; anything else is a 400."""
    out = {}
    if "user_id" in data:
        if data["user_id"] is None:
            out["user"] = None
        else:
            member = selectors.membership_list(organization=organization).filter(user_id=data["user_id"]).first()
            if member is None:
                raise ValidationError({"user_id": ["No member of this organization has that id."]})
            out["user"] = member.user
    if "client_id" in data:
        if data["client_id"] is None:
            out["client"] = None
        else:
            client = selectors.client_list(organization=organization).filter(pk=data["client_id"]).first()
            if client is None:
                raise ValidationError({"client_id": ["No client of this organization has that id."]})
            out["client"] = client
    for key in ("name", "kind", "assistant_id"):
        if key in data:
            out[key] = data[key]
    return out


class AgentListCreateApi(TenantAPIView):
    permission_classes = [IsManagerOrReadOnly]
    pagination_class = Pagination

    @extend_schema(parameters=[OpenApiParameter("kind", OpenApiTypes.STR, enum=AgentKind.values)],
                   responses=AgentOutputSerializer(many=True), operation_id="agents_list")
    def get(self, request, org_slug):
        filters = {"kind": request.query_params.get("kind")}
        return self.paginate(selectors.agent_list(organization=self.organization, filters=filters),
                             AgentOutputSerializer)

    @extend_schema(request=AgentInputSerializer, responses={201: AgentOutputSerializer}, operation_id="agents_create")
    def post(self, request, org_slug):
        serializer = AgentInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = _resolve_agent_refs(self.organization, serializer.validated_data)
        agent = services.agent_create(organization=self.organization, actor=request.user, **fields)
        return Response(AgentOutputSerializer(agent).data, status=status.HTTP_201_CREATED)


class AgentDetailApi(TenantAPIView):
    permission_classes = [IsManagerOrReadOnly]

    @extend_schema(responses=AgentOutputSerializer, operation_id="agents_retrieve")
    def get(self, request, org_slug, agent_id):
        agent = selectors.get_agent_for_org(self.organization, agent_id)
        return Response(AgentOutputSerializer(agent).data)

    @extend_schema(request=AgentPatchSerializer, responses=AgentOutputSerializer, operation_id="agents_update")
    def patch(self, request, org_slug, agent_id):
        agent = selectors.get_agent_for_org(self.organization, agent_id)
        serializer = AgentPatchSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        fields = _resolve_agent_refs(self.organization, serializer.validated_data)
        agent = services.agent_update(organization=self.organization, actor=request.user, agent=agent, **fields)
        return Response(AgentOutputSerializer(agent).data)

    @extend_schema(responses={204: None}, operation_id="agents_destroy")
    def delete(self, request, org_slug, agent_id):
        agent = selectors.get_agent_for_org(self.organization, agent_id)
        services.agent_delete(organization=self.organization, actor=request.user, agent=agent)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ClientListCreateApi(TenantAPIView):
    permission_classes = [IsManagerOrReadOnly]
    pagination_class = Pagination

    @extend_schema(parameters=[OpenApiParameter("archived", bool, description="The archived clients instead")],
                   responses=ClientOutputSerializer(many=True), operation_id="clients_list")
    def get(self, request, org_slug):
        archived = request.query_params.get("archived", "").lower() in ("1", "true")
        return self.paginate(selectors.client_list(organization=self.organization, archived=archived),
                             ClientOutputSerializer)

    @extend_schema(request=ClientInputSerializer, responses={201: ClientOutputSerializer}, operation_id="clients_create")
    def post(self, request, org_slug):
        serializer = ClientInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        client = services.client_create(organization=self.organization, actor=request.user, **serializer.validated_data)
        return Response(ClientOutputSerializer(client).data, status=status.HTTP_201_CREATED)


class ClientDetailApi(TenantAPIView):
    permission_classes = [IsManagerOrReadOnly]

    @extend_schema(responses=ClientOutputSerializer, operation_id="clients_retrieve")
    def get(self, request, org_slug, client_id):
        return Response(ClientOutputSerializer(selectors.get_client_for_org(self.organization, client_id)).data)

    @extend_schema(request=ClientPatchSerializer, responses=ClientOutputSerializer, operation_id="clients_update")
    def patch(self, request, org_slug, client_id):
        """Change a client; `archived: true` archives it (kept with its numbers), false brings it back."""
        client = selectors.get_client_for_org(self.organization, client_id)
        serializer = ClientPatchSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        client = services.client_update(organization=self.organization, actor=request.user, client=client,
                                        **serializer.validated_data)
        return Response(ClientOutputSerializer(client).data)


class MemberListApi(TenantAPIView):
    pagination_class = Pagination

    @extend_schema(responses=MemberOutputSerializer(many=True), operation_id="members_list")
    def get(self, request, org_slug):
        return self.paginate(selectors.membership_list(organization=self.organization), MemberOutputSerializer)




class MemberDetailApi(TenantAPIView):
    permission_classes = [IsManager]

    @extend_schema(responses=MemberOutputSerializer, operation_id="members_retrieve")
    def get(self, request, org_slug, membership_id):
        return Response(MemberOutputSerializer(selectors.get_membership_for_org(self.organization, membership_id)).data)

    @extend_schema(request=MemberPatchSerializer, responses=MemberOutputSerializer, operation_id="members_update")
    def patch(self, request, org_slug, membership_id):
        """Change a member's role, or which clients they see: `limitedToClients: true` with `clientIds`
        limits an agent to those clients (none: nothing of any client), false gives every client back."""
        membership = selectors.get_membership_for_org(self.organization, membership_id)
        serializer = MemberPatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        clients = None
        if "client_ids" in data:
            known = {client.pk: client for client in selectors.client_list(
                organization=self.organization, archived=None).filter(pk__in=data["client_ids"])}
            unknown = [str(pk) for pk in data["client_ids"] if pk not in known]
            if unknown:
                raise ValidationError({"client_ids": [f"No client of this organization has the id {unknown[0]}."]})
            clients = list(known.values())
        services.membership_update(organization=self.organization, actor=request.user, membership=membership,
                                   role=data.get("role"), limited=data.get("limited_to_clients"), clients=clients)
        return Response(MemberOutputSerializer(selectors.get_membership_for_org(self.organization, membership_id)).data)


class OrganizationSettingsApi(TenantAPIView):
    permission_classes = [IsManagerOrReadOnly]

    @extend_schema(responses=OrganizationSettingsSerializer, operation_id="settings_retrieve")
    def get(self, request, org_slug):
        return Response(OrganizationSettingsSerializer(self.organization).data)

    @extend_schema(request=OrganizationSettingsSerializer, responses=OrganizationSettingsSerializer,
                   operation_id="settings_update")
    def patch(self, request, org_slug):
        """Change the organization's settings: `agentVisibility` (all or own)."""
        serializer = OrganizationSettingsSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        if "agent_visibility" in serializer.validated_data:
            services.organization_set_agent_visibility(organization=self.organization, actor=request.user,
                                                       visibility=serializer.validated_data["agent_visibility"])
        return Response(OrganizationSettingsSerializer(self.organization).data)
