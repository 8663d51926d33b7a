"""REST endpoints for the organization's WhatsApp Cloud API senders (owners and admins), as the
provider accounts' are: credentials are write-only inputs, checked with Meta before they are saved."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from core.api import Pagination
from core.vendors import ProviderError
from tenants import selectors as tenant_selectors
from tenants.api import TenantAPIView, resolve_in_tenant
from tenants.permissions import IsManager

from . import selectors
from .serializers import (
    WhatsAppSenderDetailSerializer,
    WhatsAppSenderInputSerializer,
    WhatsAppSenderOutputSerializer,
    WhatsAppSenderPatchSerializer,
)
from .services import senders


def _detail(sender) -> dict:
    return WhatsAppSenderDetailSerializer(sender, context={"webhook_url": senders.webhook_url()}).data


def _with_client(organization, fields: dict) -> dict:
    """`clientId` resolved inside the organization (400 for anything else); absent: left as it is."""
    if "client_id" in fields:
        client_id = fields.pop("client_id")
        fields["client"] = None if client_id is None else resolve_in_tenant(
            "client_id", lambda: tenant_selectors.get_client_for_org(organization, client_id))
    return fields


class WhatsAppSenderListCreateApi(TenantAPIView):
    permission_classes = [IsManager]
    pagination_class = Pagination

    @extend_schema(responses=WhatsAppSenderOutputSerializer(many=True), operation_id="whatsapp_senders_list")
    def get(self, request, org_slug):
        return self.paginate(selectors.whatsapp_sender_list(organization=self.organization),
                             WhatsAppSenderOutputSerializer)

    @extend_schema(request=WhatsAppSenderInputSerializer, responses={201: WhatsAppSenderDetailSerializer},
                   operation_id="whatsapp_senders_create")
    def post(self, request, org_slug):
        data = WhatsAppSenderInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = _with_client(self.organization, dict(data.validated_data))
        sender = senders.whatsapp_sender_connect(organization=self.organization, actor=request.user, **fields)
        return Response(_detail(sender), status=status.HTTP_201_CREATED)


class WhatsAppSenderDetailApi(TenantAPIView):
    permission_classes = [IsManager]

    @extend_schema(responses=WhatsAppSenderDetailSerializer, operation_id="whatsapp_senders_retrieve")
    def get(self, request, org_slug, whatsapp_sender_id):
        return Response(_detail(selectors.get_whatsapp_sender_for_org(self.organization, whatsapp_sender_id)))

    @extend_schema(request=WhatsAppSenderPatchSerializer, responses=WhatsAppSenderDetailSerializer,
                   operation_id="whatsapp_senders_update")
    def patch(self, request, org_slug, whatsapp_sender_id):
        sender = selectors.get_whatsapp_sender_for_org(self.organization, whatsapp_sender_id)
        data = WhatsAppSenderPatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = _with_client(self.organization, dict(data.validated_data))
        active = fields.pop("is_active", None)
        with transaction.atomic():
            sender = senders.whatsapp_sender_update(organization=self.organization, actor=request.user,
                                                    sender=sender, **fields)
            if active is not None:
                sender = senders.whatsapp_sender_switch(organization=self.organization, actor=request.user,
                                                        sender=sender, active=active)
        return Response(_detail(sender))

    @extend_schema(responses={204: None}, operation_id="whatsapp_senders_destroy")
    def delete(self, request, org_slug, whatsapp_sender_id):
        sender = selectors.get_whatsapp_sender_for_org(self.organization, whatsapp_sender_id)
        senders.whatsapp_sender_delete(organization=self.organization, actor=request.user, sender=sender)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WhatsAppSenderCheckApi(TenantAPIView):
    """Ask Meta about the sender now (as the daily check does); the answer is the sender as recorded."""

    permission_classes = [IsManager]

    @extend_schema(request=None, responses=WhatsAppSenderDetailSerializer, operation_id="whatsapp_senders_check")
    def post(self, request, org_slug, whatsapp_sender_id):
        sender = selectors.get_whatsapp_sender_for_org(self.organization, whatsapp_sender_id)
        try:
            sender = senders.whatsapp_sender_check(organization=self.organization, sender=sender)
        except ProviderError:
            raise ValidationError({"detail": "Meta could not be reached; try again shortly."}) from None
        return Response(_detail(sender))
