"""REST endpoints of `telephony` under /api/<slug>/ (camelCase on the wire, as seed 004)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response

from core.api import Pagination
from tenants import selectors as tenant_selectors
from tenants.api import TenantAPIView, resolve_in_tenant
from tenants.permissions import IsManager, IsManagerOrReadOnly
from tenants.scoping import parse_public_id

from . import providers, selectors
from .models import CallDirection, NumberStatus
from .serializers import (
    AvailableNumberSerializer,
    AvailableSearchSerializer,
    BuySerializer,
    CallFilterSerializer,
    CallOutputSerializer,
    CallPlaceSerializer,
    ImportSerializer,
    JobSerializer,
    PhoneNumberCreateSerializer,
    PhoneNumberFilterSerializer,
    PhoneNumberOutputSerializer,
    PhoneNumberPatchSerializer,
    ProviderAccountInputSerializer,
    ProviderAccountOutputSerializer,
    ProviderAccountPatchSerializer,
    ProviderAccountVoiceSerializer,
)
from .services import (
    accounts,
    adding,
    assignment,
    buying,
    configuring,
    editing,
    importing,
    live_calls,
    sync,
    voice_setup,
)


def _client(organization, value):
    if value is None:
        return None
    return resolve_in_tenant("client_id", lambda: tenant_selectors.get_client_for_org(organization, value))


def _agent(organization, value):
    if value is None:
        return None
    return resolve_in_tenant("agent_id", lambda: tenant_selectors.get_agent_for_org(organization, value))


def _account(organization, value):
    return resolve_in_tenant("provider_account_id", lambda: selectors.get_provider_account_for_org(organization, value))


# Provider accounts --------------------------------------------------------------------------------


class ProviderAccountListCreateApi(TenantAPIView):
    permission_classes = [IsManager]
    pagination_class = Pagination

    @extend_schema(responses=ProviderAccountOutputSerializer(many=True), operation_id="provider_accounts_list")
    def get(self, request, org_slug):
        return self.paginate(selectors.provider_account_list(organization=self.organization),
                             ProviderAccountOutputSerializer)

    @extend_schema(request=ProviderAccountInputSerializer, responses={201: ProviderAccountOutputSerializer},
                   operation_id="provider_accounts_create")
    def post(self, request, org_slug):
        data = ProviderAccountInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        fields["client"] = _client(self.organization, fields.pop("client_id", None))
        account = accounts.provider_account_connect(
            organization=self.organization, actor=request.user, **fields)
        return Response(ProviderAccountOutputSerializer(account).data, status=status.HTTP_201_CREATED)


class ProviderAccountDetailApi(TenantAPIView):
    permission_classes = [IsManager]

    @extend_schema(responses=ProviderAccountOutputSerializer, operation_id="provider_accounts_retrieve")
    def get(self, request, org_slug, provider_account_id):
        account = selectors.get_provider_account_for_org(self.organization, provider_account_id)
        return Response(ProviderAccountOutputSerializer(account).data)

    @extend_schema(request=ProviderAccountPatchSerializer, responses=ProviderAccountOutputSerializer,
                   operation_id="provider_accounts_update")
    def patch(self, request, org_slug, provider_account_id):
        account = selectors.get_provider_account_for_org(self.organization, provider_account_id)
        data = ProviderAccountPatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        account = accounts.provider_account_update(
            organization=self.organization, actor=request.user, account=account, **data.validated_data)
        return Response(ProviderAccountOutputSerializer(account).data)

    @extend_schema(responses={204: None}, operation_id="provider_accounts_destroy")
    def delete(self, request, org_slug, provider_account_id):
        account = selectors.get_provider_account_for_org(self.organization, provider_account_id)
        accounts.provider_account_delete(organization=self.organization, actor=request.user, account=account)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProviderAccountSyncApi(TenantAPIView):
    permission_classes = [IsManager]

    @extend_schema(request=None, operation_id="provider_accounts_sync", responses={202: inline_serializer(
        "SyncStarted", fields={"detail": serializers.CharField()})})
    def post(self, request, org_slug, provider_account_id):
        account = selectors.get_provider_account_for_org(self.organization, provider_account_id)
        sync.provider_account_sync_request(organization=self.organization, account=account)
        return Response({"detail": "Sync started."}, status=status.HTTP_202_ACCEPTED)


class ProviderAccountRepairApi(TenantAPIView):
    """Point a carrier's messaging application at our webhooks again (Bandwidth: after drift was
    found, or when the first set-up failed). Numbers-level carriers repair each number instead."""

    permission_classes = [IsManager]

    @extend_schema(request=None, responses=ProviderAccountOutputSerializer,
                   operation_id="provider_accounts_repair_webhooks")
    def post(self, request, org_slug, provider_account_id):
        account = selectors.get_provider_account_for_org(self.organization, provider_account_id)
        account = configuring.provider_account_repair_webhooks(organization=self.organization, actor=request.user,
                                                               account=account)
        return Response(ProviderAccountOutputSerializer(account).data)


class ProviderAccountVoiceApi(TenantAPIView):
    """Set the browser softphone up on a Twilio account, or remove it. A worker does it: the answer
    is the account as it is now; `voiceStatus` (off, ready, error) and `voiceError` tell the outcome."""

    permission_classes = [IsManager]

    @extend_schema(request=ProviderAccountVoiceSerializer, responses={202: ProviderAccountOutputSerializer},
                   operation_id="provider_accounts_voice")
    def post(self, request, org_slug, provider_account_id):
        account = selectors.get_provider_account_for_org(self.organization, provider_account_id)
        data = ProviderAccountVoiceSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        voice_setup.voice_request(organization=self.organization, actor=request.user, account=account,
                                  enabled=data.validated_data["enabled"])
        account = selectors.get_provider_account_for_org(self.organization, account.pk)
        return Response(ProviderAccountOutputSerializer(account).data, status=status.HTTP_202_ACCEPTED)


# Phone numbers ------------------------------------------------------------------------------------


class PhoneNumberListCreateApi(TenantAPIView):
    permission_classes = [IsManagerOrReadOnly]
    pagination_class = Pagination

    @extend_schema(
        parameters=[OpenApiParameter("clientId", OpenApiTypes.UUID), OpenApiParameter("agentId", OpenApiTypes.UUID),
                    OpenApiParameter("assigned", bool),
                    OpenApiParameter("status", OpenApiTypes.STR, enum=NumberStatus.values),
                    OpenApiParameter("providerAccountId", OpenApiTypes.UUID)],
        responses=PhoneNumberOutputSerializer(many=True), operation_id="phone_numbers_list",
    )
    def get(self, request, org_slug):
        params = {
            "client_id": request.query_params.get("clientId"), "agent_id": request.query_params.get("agentId"),
            "assigned": request.query_params.get("assigned"), "status": request.query_params.get("status"),
            "provider_account_id": request.query_params.get("providerAccountId"),
        }
        data = PhoneNumberFilterSerializer(data={k: v for k, v in params.items() if v not in (None, "")})
        data.is_valid(raise_exception=True)
        f = data.validated_data
        filters = {
            "client": _client(self.organization, f.get("client_id")) if f.get("client_id") else None,
            "agent": _agent(self.organization, f.get("agent_id")) if f.get("agent_id") else None,
            "assigned": f.get("assigned"), "status": f.get("status"),
            "provider_account": _account(self.organization, f["provider_account_id"])
            if f.get("provider_account_id") else None,
        }
        return self.paginate(selectors.phone_number_list(organization=self.organization, filters=filters),
                             PhoneNumberOutputSerializer)

    @extend_schema(request=PhoneNumberCreateSerializer, responses={201: PhoneNumberOutputSerializer},
                   operation_id="phone_numbers_create")
    def post(self, request, org_slug):
        data = PhoneNumberCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        fields["client"] = _client(self.organization, fields.pop("client_id", None))
        number = adding.phone_number_add(organization=self.organization, actor=request.user, **fields)
        return Response(PhoneNumberOutputSerializer(number).data, status=status.HTTP_201_CREATED)


class PhoneNumberDetailApi(TenantAPIView):
    permission_classes = [IsManagerOrReadOnly]

    @extend_schema(responses=PhoneNumberOutputSerializer, operation_id="phone_numbers_retrieve")
    def get(self, request, org_slug, phone_number_id):
        number = selectors.get_phone_number_for_org(self.organization, phone_number_id)
        return Response(PhoneNumberOutputSerializer(number).data)

    @extend_schema(request=PhoneNumberPatchSerializer, responses=PhoneNumberOutputSerializer,
                   operation_id="phone_numbers_update")
    def patch(self, request, org_slug, phone_number_id):
        number = selectors.get_phone_number_for_org(self.organization, phone_number_id)
        data = PhoneNumberPatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if "agent_id" in data.validated_data:
            agent = _agent(self.organization, data.validated_data["agent_id"])
            number = assignment.phone_number_assign(
                organization=self.organization, actor=request.user, number=number, agent=agent)
        if "friendly_name" in data.validated_data:
            number = editing.phone_number_update(
                organization=self.organization, actor=request.user, number=number,
                friendly_name=data.validated_data["friendly_name"])
        number = selectors.get_phone_number_for_org(self.organization, number.pk)
        return Response(PhoneNumberOutputSerializer(number).data)

    @extend_schema(responses={202: PhoneNumberOutputSerializer}, operation_id="phone_numbers_destroy",
                   parameters=[OpenApiParameter("release", bool, description=(
                       "true gives the number back to the carrier (it leaves the account and is no longer "
                       "billed); otherwise it only leaves Softphone, with the URLs it had before."))])
    def delete(self, request, org_slug, phone_number_id):
        number = selectors.get_phone_number_for_org(self.organization, phone_number_id)
        release = request.query_params.get("release", "").lower()
        if release not in ("", "true", "false"):
            raise serializers.ValidationError({"release": "Use true or false."})
        editing.phone_number_remove(organization=self.organization, actor=request.user, number=number,
                                    release=release == "true")
        number = selectors.get_phone_number_for_org(self.organization, number.pk)
        # The number leaves VAPI and gets its old URLs back in a worker; it disappears after that.
        return Response(PhoneNumberOutputSerializer(number).data, status=status.HTTP_202_ACCEPTED)


class PhoneNumberRepairApi(TenantAPIView):
    permission_classes = [IsManager]

    @extend_schema(request=None, responses=PhoneNumberOutputSerializer, operation_id="phone_numbers_repair_webhooks")
    def post(self, request, org_slug, phone_number_id):
        number = selectors.get_phone_number_for_org(self.organization, phone_number_id)
        number = configuring.phone_number_repair_webhooks(organization=self.organization, actor=request.user,
                                                          number=number)
        return Response(PhoneNumberOutputSerializer(number).data)


class AvailableNumbersApi(TenantAPIView):
    permission_classes = [IsManager]

    @extend_schema(request=AvailableSearchSerializer, responses=AvailableNumberSerializer(many=True),
                   operation_id="phone_numbers_available",
                   parameters=[OpenApiParameter("provider", str, OpenApiParameter.PATH,
                                                enum=sorted(providers.ADAPTERS),
                                                description="The carrier whose numbers to search.")])
    def post(self, request, org_slug, provider):
        data = AvailableSearchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        f = data.validated_data
        account = _account(self.organization, f["provider_account_id"]) if f.get("provider_account_id") else None
        credentials = {name: f[name] for name in ("account_sid", "auth_token", "api_key", "api_secret", "account_id",
                                                  "api_client_id", "api_client_secret") if f.get(name)}
        found = buying.available_numbers_search(
            account=account, provider=provider, credentials=credentials, country=f["country"], number_type=f["number_type"], area_code=f.get("area_code", ""),
            contains=f.get("contains", ""), capabilities=tuple(f["capabilities"]))
        rows = [{**n.__dict__, "capabilities": n.capabilities.as_dict()} for n in found]
        return Response(AvailableNumberSerializer(rows, many=True).data)


class BuyNumberApi(TenantAPIView):
    permission_classes = [IsManager]

    @extend_schema(request=BuySerializer, responses={201: PhoneNumberOutputSerializer}, operation_id="phone_numbers_buy")
    def post(self, request, org_slug):
        data = BuySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        account = _account(self.organization, data.validated_data["provider_account_id"])
        client = _client(self.organization, data.validated_data.get("client_id"))
        number = buying.phone_number_buy(
            organization=self.organization, actor=request.user, account=account,
            phone_number=data.validated_data["phone_number"], client=client)
        return Response(PhoneNumberOutputSerializer(number).data, status=status.HTTP_201_CREATED)


class ImportNumbersApi(TenantAPIView):
    permission_classes = [IsManager]

    @extend_schema(request=ImportSerializer, responses={202: JobSerializer}, operation_id="phone_numbers_import")
    def post(self, request, org_slug):
        data = ImportSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        account = _account(self.organization, data.validated_data["provider_account_id"])
        job = importing.phone_number_import_start(
            organization=self.organization, actor=request.user, account=account,
            numbers=data.validated_data["numbers"])
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class JobDetailApi(TenantAPIView):
    permission_classes = [IsManager]  # jobs are number imports: the managers' business

    @extend_schema(responses=JobSerializer, operation_id="jobs_retrieve")
    def get(self, request, org_slug, job_id):
        return Response(JobSerializer(selectors.get_job_for_org(self.organization, parse_public_id(job_id))).data)


# Calls --------------------------------------------------------------------------------------------


class CallListApi(TenantAPIView):
    """The call log, newest first, with the page's filters. Every member reads it."""

    pagination_class = Pagination

    @extend_schema(
        parameters=[OpenApiParameter("mine", bool, description="Only the calls of your own agent"),
                    OpenApiParameter("missed", bool), OpenApiParameter("voicemail", bool),
                    OpenApiParameter("phoneNumberId", OpenApiTypes.UUID),
                    OpenApiParameter("direction", OpenApiTypes.STR, enum=CallDirection.values),
                    OpenApiParameter("from", OpenApiTypes.DATE, description="First day (YYYY-MM-DD), included"),
                    OpenApiParameter("to", OpenApiTypes.DATE, description="Last day (YYYY-MM-DD), included")],
        responses=CallOutputSerializer(many=True), operation_id="calls_list",
    )
    def get(self, request, org_slug):
        params = {"mine": request.query_params.get("mine"), "missed": request.query_params.get("missed"),
                  "voicemail": request.query_params.get("voicemail"),
                  "phone_number_id": request.query_params.get("phoneNumberId"),
                  "direction": request.query_params.get("direction"),
                  "from": request.query_params.get("from"), "to": request.query_params.get("to")}
        data = CallFilterSerializer(data={k: v for k, v in params.items() if v not in (None, "")})
        data.is_valid(raise_exception=True)
        filters = dict(data.validated_data)
        if filters.get("phone_number_id"):
            filters["number"] = resolve_in_tenant("phone_number_id", lambda: selectors.get_phone_number_for_org(
                self.organization, filters["phone_number_id"]))
        calls = selectors.call_list(organization=self.organization, filters=filters, user=request.user)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(calls, request, view=self)
        return paginator.get_paginated_response(
            CallOutputSerializer(page, many=True, context={"request": request, "org_slug": org_slug}).data)

    @extend_schema(
        request=CallPlaceSerializer, responses={201: CallOutputSerializer}, operation_id="calls_create",
        description="Place a call from one of your numbers: your browser softphone rings first (it must be "
                    "open and you available), and when you answer, Twilio dials the destination. 409 when "
                    "your softphone cannot ring now.")
    def post(self, request, org_slug):
        data = CallPlaceSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        agent = tenant_selectors.agent_for_user(organization=self.organization, user=request.user)
        try:
            call = live_calls.call_place_request(organization=self.organization, agent=agent,
                                                 from_id=data.validated_data["from_number_id"],
                                                 destination=data.validated_data["to"])
        except live_calls.CallConflict as exc:
            raise Conflict(" ".join(exc.messages)) from None
        return Response(CallOutputSerializer(call, context={"request": request, "org_slug": org_slug}).data,
                        status=status.HTTP_201_CREATED)


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class CallDetailApi(TenantAPIView):
    @extend_schema(responses=CallOutputSerializer, operation_id="calls_retrieve")
    def get(self, request, org_slug, call_id):
        call = selectors.get_call_for_org(self.organization, call_id)
        return Response(CallOutputSerializer(call, context={"request": request, "org_slug": org_slug}).data)
