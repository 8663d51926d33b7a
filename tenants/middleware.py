"""Resolve the organization of `/o/<slug>/...` and `/api/<slug>/...` and enter its scope.

A person who is not a member gets 404 (never a hint that the organization exists); unauthenticated
requests are sent to the login page (HTML) or answered 401 (API). Staff may enter any organization.
The Django admin is staff-only and crosses tenants on purpose.
"""

from __future__ import annotations

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, JsonResponse
from django.urls import Resolver404, resolve
from rest_framework import exceptions

from core.throttling import LimitedTokenAuthentication

from .access import EVERYTHING, seeing
from .models import Membership, Organization, Role
from .rls import reset_connection
from .scoping import access_of, platform_scope, tenant_scope


def _api_json(status: int, detail: str, **headers) -> JsonResponse:
    response = JsonResponse({"detail": detail}, status=status)
    for key, value in headers.items():
        response[key] = value
    return response


class TenantMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.organization = None
        request.membership = None
        request.access = None
        reset_connection()  # a reused connection starts every request with no tenant
        if request.path_info.startswith("/webhooks/"):
            # Provider callbacks carry no organization slug; each finds its tenant from the called
            # number and verifies the signature itself. Skipping the URL resolve keeps them cheap.
            return self.get_response(request)
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return self.get_response(request)

        if match.namespace == "admin" or (match.app_names and match.app_names[0] == "admin"):
            if request.user.is_authenticated and request.user.is_staff:
                with platform_scope():
                    return self.get_response(request)
            return self.get_response(request)

        slug = match.kwargs.get("org_slug")
        if slug is None:
            return self.get_response(request)

        is_api = match.route.startswith("api/")
        user = request.user
        if is_api and not user.is_authenticated:
            try:
                result = LimitedTokenAuthentication().authenticate(request)
            except exceptions.Throttled as exc:
                return _api_json(429, str(exc.detail), **{"Retry-After": str(exc.wait)})
            except exceptions.AuthenticationFailed as exc:
                return _api_json(401, str(exc.detail), **{"WWW-Authenticate": "Token"})
            if result is None:
                return _api_json(
                    401, "Authentication credentials were not provided.", **{"WWW-Authenticate": "Token"}
                )
            user = result[0]
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())

        organization = Organization.objects.filter(slug=slug).first()
        if organization is None:
            return self._not_found(is_api)
        # One scope for the membership check and the request: the check runs as that organization
        # (row-level security shows its memberships only), and no setting is sent twice.
        with tenant_scope(organization, EVERYTHING):
            membership = Membership.objects.filter(user=user).select_related("user").first()
            if membership is None and user.is_staff:
                membership = Membership(organization=organization, user=user, role=Role.OWNER)
            if membership is None:
                return self._not_found(is_api)
            request.organization = organization
            request.membership = membership
            request.access = access_of(organization, membership)
            # What the member may see (tenants.access) holds for the rest of the request.
            with seeing(request.access):
                return self.get_response(request)

    @staticmethod
    def _not_found(is_api: bool):
        if is_api:
            return _api_json(404, "Not found.")
        raise Http404("No such organization.")
