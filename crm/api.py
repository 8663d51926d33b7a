"""REST endpoints of `crm` under /api/<slug>/: a contact's orders, the orders, their workflow."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response

from core.api import NewestFirstPagination
from tenants.api import TenantAPIView, resolve_in_tenant
from tenants.permissions import IsManager

from . import merges, selectors, services
from .models import OrderStatus
from .serializers import (
    ContactMergeInputSerializer,
    ContactMergeSerializer,
    OrderCreateSerializer,
    OrderDetailSerializer,
    OrderFilterSerializer,
    OrderItemInputSerializer,
    OrderOutputSerializer,
    OrderPatchSerializer,
    OrderTransitionSerializer,
)


def _items(data):
    if "items" not in data:
        return None
    return [OrderItemInputSerializer().to_item(item) for item in data["items"]]


def _conflict(exc: services.OrderConflict) -> Response:
    return Response({"detail": str(exc), "version": exc.order.version, "status": exc.order.status},
                    status=status.HTTP_409_CONFLICT)


def _detail(organization, order) -> dict:
    return OrderDetailSerializer(selectors.get_order_for_org(organization, order.pk)).data


class ContactOrdersApi(TenantAPIView):
    pagination_class = NewestFirstPagination

    @extend_schema(responses=OrderOutputSerializer(many=True), operation_id="contact_orders_list")
    def get(self, request, org_slug, contact_id):
        contact = selectors.get_contact_for_org(self.organization, contact_id)
        return self.paginate(selectors.order_list(organization=self.organization, contact=contact)
                             .prefetch_related("items").order_by(), OrderOutputSerializer)

    @extend_schema(request=OrderCreateSerializer, responses={201: OrderDetailSerializer},
                   operation_id="contact_orders_create")
    def post(self, request, org_slug, contact_id):
        contact = selectors.get_contact_for_org(self.organization, contact_id)
        data = OrderCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        order = services.order_create(organization=self.organization, actor=request.user, contact=contact,
                                      items=_items(data.validated_data) or (),
                                      notes=data.validated_data.get("notes", ""),
                                      shipping_address=data.validated_data.get("shipping_address", ""))
        return Response(_detail(self.organization, order), status=status.HTTP_201_CREATED)


class OrderListApi(TenantAPIView):
    pagination_class = NewestFirstPagination

    @extend_schema(parameters=[OpenApiParameter("status", OpenApiTypes.STR, enum=OrderStatus.values),
                               OpenApiParameter("contactId", OpenApiTypes.UUID),
                               OpenApiParameter("createdFrom", OpenApiTypes.DATE),
                               OpenApiParameter("createdTo", OpenApiTypes.DATE)],
                   responses=OrderOutputSerializer(many=True), operation_id="orders_list")
    def get(self, request, org_slug):
        params = request.query_params
        raw = {key: params.get(name) for key, name in (("status", "status"), ("contact_id", "contactId"),
                                                       ("created_from", "createdFrom"), ("created_to", "createdTo"))
               if params.get(name)}
        filters = OrderFilterSerializer(data=raw)
        filters.is_valid(raise_exception=True)
        f = dict(filters.validated_data)
        if "contact_id" in f:
            f["contact"] = resolve_in_tenant("contact_id", lambda: selectors.get_contact_for_org(
                self.organization, f.pop("contact_id")))
        return self.paginate(selectors.order_list(organization=self.organization, **f).prefetch_related("items")
                             .order_by(), OrderOutputSerializer)


class OrderDetailApi(TenantAPIView):
    @extend_schema(responses=OrderDetailSerializer, operation_id="orders_retrieve")
    def get(self, request, org_slug, order_id):
        return Response(OrderDetailSerializer(selectors.get_order_for_org(self.organization, order_id)).data)

    @extend_schema(request=OrderPatchSerializer, responses={200: OrderDetailSerializer, 409: OpenApiTypes.OBJECT},
                   operation_id="orders_update")
    def patch(self, request, org_slug, order_id):
        order = selectors.get_order_for_org(self.organization, order_id)
        data = OrderPatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        f = data.validated_data
        try:
            order = services.order_update(organization=self.organization, actor=request.user, order=order,
                                          version=f["version"], notes=f.get("notes"),
                                          shipping_address=f.get("shipping_address"), items=_items(f))
        except services.OrderConflict as exc:
            return _conflict(exc)
        return Response(_detail(self.organization, order))


class OrderTransitionApi(TenantAPIView):
    @extend_schema(request=OrderTransitionSerializer, responses={200: OrderDetailSerializer, 409: OpenApiTypes.OBJECT},
                   operation_id="orders_transition")
    def post(self, request, org_slug, order_id):
        order = selectors.get_order_for_org(self.organization, order_id)
        data = OrderTransitionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            order = services.order_transition(organization=self.organization, actor=request.user, order=order,
                                              to=data.validated_data["to"], version=data.validated_data.get("version"))
        except services.OrderConflict as exc:
            return _conflict(exc)
        return Response(_detail(self.organization, order))


class ContactMergeApi(TenantAPIView):
    """Two contacts that are the same person made one (crm.merges): owners and admins only."""

    permission_classes = [IsManager]

    @extend_schema(request=ContactMergeInputSerializer, responses={201: ContactMergeSerializer},
                   operation_id="contacts_merge")
    def post(self, request, org_slug):
        data = ContactMergeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        f = data.validated_data
        survivor = resolve_in_tenant("survivor_id", lambda: selectors.get_contact_for_org(self.organization,
                                                                                         f["survivor_id"]))
        duplicate = resolve_in_tenant("duplicate_id", lambda: selectors.get_contact_for_org(self.organization,
                                                                                           f["duplicate_id"]))
        record = merges.contact_merge(organization=self.organization, actor=request.user, survivor=survivor,
                                      duplicate=duplicate)
        return Response(ContactMergeSerializer(record).data, status=status.HTTP_201_CREATED)
