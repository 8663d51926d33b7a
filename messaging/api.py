"""REST endpoints of `messaging` under /api/<slug>/."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response

from core.api import Pagination
from crm import selectors as crm_selectors
from crm import services as crm_services
from crm.models import Channel
from crm.selectors import LAST_CONTACT
from telephony import selectors as telephony_selectors
from tenants import selectors as tenant_selectors
from tenants.api import TenantAPIView, resolve_in_tenant
from tenants.scoping import parse_public_id

from . import embedders, search, selectors
from .models import ConversationStatus
from .serializers import (
    ContactFilterSerializer,
    ContactOutputSerializer,
    ContactPatchSerializer,
    ConversationFilterSerializer,
    ConversationOutputSerializer,
    ConversationPatchSerializer,
    MessageOutputSerializer,
    MessagePageSerializer,
    MessageSendSerializer,
    MessageStartSerializer,
    SearchFilterSerializer,
    SearchResultSerializer,
)
from .services import conversations, outbound
from .services import templates as template_services


class ContactListApi(TenantAPIView):
    pagination_class = Pagination

    @extend_schema(parameters=[OpenApiParameter("search", str), OpenApiParameter("label", str),
                               OpenApiParameter("hasOpenOrders", bool), OpenApiParameter("optedOut", bool),
                               OpenApiParameter("lastContact", OpenApiTypes.STR, enum=list(LAST_CONTACT))],
                   responses=ContactOutputSerializer(many=True), operation_id="contacts_list")
    def get(self, request, org_slug):
        params = request.query_params
        raw = {key: params.get(name) for key, name in (("search", "search"), ("label", "label"),
                                                       ("has_open_orders", "hasOpenOrders"),
                                                       ("opted_out", "optedOut"), ("last_contact", "lastContact"))
               if params.get(name) not in (None, "")}
        filters = ContactFilterSerializer(data=raw)
        filters.is_valid(raise_exception=True)
        contacts = crm_selectors.contact_list(organization=self.organization, **filters.validated_data)
        return self.paginate(crm_selectors.searched_by_name(contacts, search=filters.validated_data.get("search", "")),
                             ContactOutputSerializer)


class ContactDetailApi(TenantAPIView):
    @extend_schema(responses=ContactOutputSerializer, operation_id="contacts_retrieve")
    def get(self, request, org_slug, contact_id):
        return Response(ContactOutputSerializer(crm_selectors.get_contact_for_org(self.organization, contact_id)).data)

    @extend_schema(request=ContactPatchSerializer, responses=ContactOutputSerializer, operation_id="contacts_update")
    def patch(self, request, org_slug, contact_id):
        contact = crm_selectors.get_contact_for_org(self.organization, contact_id)
        data = ContactPatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        contact = crm_services.contact_update(organization=self.organization, actor=request.user, contact=contact,
                                              **data.validated_data)
        return Response(ContactOutputSerializer(contact).data)


class ConversationListApi(TenantAPIView):
    pagination_class = Pagination

    @extend_schema(
        parameters=[OpenApiParameter("status", OpenApiTypes.STR, enum=ConversationStatus.values),
                    OpenApiParameter("assigneeId", OpenApiTypes.UUID),
                    OpenApiParameter("phoneNumberId", OpenApiTypes.UUID), OpenApiParameter("unread", bool)],
        responses=ConversationOutputSerializer(many=True), operation_id="conversations_list")
    def get(self, request, org_slug):
        raw = {"status": request.query_params.get("status"), "assignee_id": request.query_params.get("assigneeId"),
               "phone_number_id": request.query_params.get("phoneNumberId"),
               "unread": request.query_params.get("unread")}
        data = ConversationFilterSerializer(data={k: v for k, v in raw.items() if v not in (None, "")})
        data.is_valid(raise_exception=True)
        f = data.validated_data
        filters = {"status": f.get("status"), "unread": f.get("unread")}
        if f.get("assignee_id"):
            filters["assignee"] = resolve_in_tenant("assignee_id", lambda: tenant_selectors.get_agent_for_org(
                self.organization, f["assignee_id"]))
        if f.get("phone_number_id"):
            filters["phone_number"] = resolve_in_tenant("phone_number_id", lambda: telephony_selectors.get_phone_number_for_org(
                self.organization, f["phone_number_id"]))
        return self.paginate(selectors.conversation_list(organization=self.organization, filters=filters),
                             ConversationOutputSerializer)


class ConversationDetailApi(TenantAPIView):
    @extend_schema(responses=ConversationOutputSerializer, operation_id="conversations_retrieve")
    def get(self, request, org_slug, conversation_id):
        conversation = selectors.get_conversation_for_org(self.organization, conversation_id)
        return Response(ConversationOutputSerializer(conversation).data)

    @extend_schema(request=ConversationPatchSerializer, responses=ConversationOutputSerializer,
                   operation_id="conversations_update")
    def patch(self, request, org_slug, conversation_id):
        conversation = selectors.get_conversation_for_org(self.organization, conversation_id)
        data = ConversationPatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        f = data.validated_data
        kwargs = {"status": f.get("status"), "snoozed_until": f.get("snoozed_until"), "labels": f.get("labels")}
        if "assignee_id" in f:
            kwargs["assignee"] = None if f["assignee_id"] is None else resolve_in_tenant(
                "assignee_id", lambda: tenant_selectors.get_agent_for_org(self.organization, f["assignee_id"]))
        conversation = conversations.conversation_update(organization=self.organization, actor=request.user,
                                                         conversation=conversation, **kwargs)
        return Response(ConversationOutputSerializer(
            selectors.get_conversation_for_org(self.organization, conversation.pk)).data)


class ConversationMessagesApi(TenantAPIView):
    @extend_schema(parameters=[OpenApiParameter("before", OpenApiTypes.UUID,
                                                description="a message id: the page before it")],
                   responses=MessagePageSerializer, operation_id="conversation_messages_list")
    def get(self, request, org_slug, conversation_id):
        conversation = selectors.get_conversation_for_org(self.organization, conversation_id)
        before = request.query_params.get("before")
        page, has_more = selectors.thread_messages(organization=self.organization, conversation=conversation,
                                                before=parse_public_id(before) if before else None)
        return Response({
            "results": MessageOutputSerializer(page, many=True, context={"org_slug": org_slug}).data,
            "previous": f"?before={page[0].pk}" if has_more and page else None,
        })

    @extend_schema(request=MessageSendSerializer, responses={202: MessageOutputSerializer},
                   operation_id="conversation_messages_send")
    def post(self, request, org_slug, conversation_id):
        conversation = selectors.get_conversation_for_org(self.organization, conversation_id)
        data = MessageSendSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if data.validated_data.get("template_id"):
            template = selectors.get_whatsapp_template_for_org(self.organization, data.validated_data["template_id"])
            message = template_services.template_send(
                organization=self.organization, actor=request.user, conversation=conversation, template=template,
                values=data.validated_data.get("template_values") or {})
        else:
            message = outbound.message_send(
                organization=self.organization, actor=request.user, conversation=conversation,
                body=data.validated_data.get("body", ""), media_urls=data.validated_data.get("media_urls"))
        return Response(MessageOutputSerializer(message, context={"org_slug": org_slug}).data,
                        status=status.HTTP_202_ACCEPTED)


class MessageStartApi(TenantAPIView):
    @extend_schema(request=MessageStartSerializer, responses={202: MessageOutputSerializer},
                   operation_id="messages_start")
    def post(self, request, org_slug):
        data = MessageStartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        f = data.validated_data
        number = resolve_in_tenant("from_number_id", lambda: telephony_selectors.get_phone_number_for_org(
            self.organization, f["from_number_id"]))
        to = f["to"]  # canonical E.164 (MessageStartSerializer)
        contact = crm_services.contact_for(organization=self.organization, phone=to)
        conversation = conversations.conversation_for(organization=self.organization, contact=contact,
                                                      channel=Channel.SMS, phone_number=number)
        message = outbound.message_send(
            organization=self.organization, actor=request.user, conversation=conversation, body=f.get("body", ""),
            media_urls=f.get("media_urls"))
        return Response(MessageOutputSerializer(message, context={"org_slug": org_slug}).data,
                        status=status.HTTP_202_ACCEPTED)


class SearchApi(TenantAPIView):
    @extend_schema(
        parameters=[OpenApiParameter("q", str, required=True),
                    OpenApiParameter("mode", OpenApiTypes.STR, enum=list(search.MODES)),
                    OpenApiParameter("limit", int)],
        responses={200: SearchResultSerializer, 503: OpenApiTypes.OBJECT}, operation_id="search",
        description="The messages that best match `q`: by their words (full text), by their meaning (the "
                    "query's embedding against the messages'), or both fused by reciprocal rank. 503 when "
                    "mode=meaning and the embedder cannot answer; with mode=both the words' results come "
                    "back with `meaningUnavailable` saying why.")
    def get(self, request, org_slug):
        data = SearchFilterSerializer(data={k: v for k, v in request.query_params.items() if k in ("q", "mode", "limit")})
        data.is_valid(raise_exception=True)
        f = data.validated_data
        try:
            hits, unavailable = search.search(organization=self.organization, text=f["q"], mode=f["mode"],
                                              limit=f["limit"])
        except search.MeaningUnavailable as exc:
            return Response({"detail": f"Search by meaning is unavailable: {exc}"},
                            status=status.HTTP_503_SERVICE_UNAVAILABLE)
        return Response(SearchResultSerializer({
            "mode": f["mode"], "model": embedders.embedder().name, "meaning_unavailable": unavailable,
            "results": hits}, context={"org_slug": org_slug}).data)
