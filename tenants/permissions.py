"""Who may do what inside an organization. Owners and admins manage; agents work."""

from django.core.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission


def require_manager(request) -> None:
    membership = getattr(request, "membership", None)
    if membership is None or not membership.can_manage:
        raise PermissionDenied("Only owners and admins of this organization can do that.")


class IsOrganizationMember(BasePermission):
    message = "You are not a member of this organization."

    def has_permission(self, request, view):
        return getattr(request._request, "membership", None) is not None


class IsManagerOrReadOnly(BasePermission):
    message = "Only owners and admins of this organization can do that."

    def has_permission(self, request, view):
        membership = getattr(request._request, "membership", None)
        if membership is None:
            return False
        return request.method in SAFE_METHODS or membership.can_manage


class IsManager(BasePermission):
    message = "Only owners and admins of this organization can do that."

    def has_permission(self, request, view):
        membership = getattr(request._request, "membership", None)
        return membership is not None and membership.can_manage
