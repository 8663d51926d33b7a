"""Who may do what inside an organization. Owners and admins manage; agents work.

One rule, read from the membership the tenant middleware put on the request, guards both edges:
`manager_required` on HTML views (a 403 page) and the permission classes on the API (a JSON 403)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps

from django.core.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission

MANAGERS_ONLY = "Only owners and admins of this organization can do that."


def is_manager(request) -> bool:
    """Whether the person asking is an owner or admin of the request's organization (staff enter as owners)."""
    membership = getattr(request, "membership", None)
    return membership is not None and membership.can_manage


def manager_required(view: Callable | None = None, *, methods: Iterable[str] | None = None):
    """Refuse anyone but an owner or admin with PermissionDenied (the 403 page says why).

    ``@manager_required`` guards every method of a view. ``@manager_required(methods=["POST"])`` guards
    only those methods: the others stay open to every member (a page the team reads and managers change).
    Put it below ``@require_POST`` and friends, so a wrong method is a 405 before anyone is refused."""
    guarded = None if methods is None else frozenset(method.upper() for method in methods)

    def decorator(view_func: Callable) -> Callable:
        @wraps(view_func)
        def wrapped(request, *args, **kwargs):
            if (guarded is None or request.method in guarded) and not is_manager(request):
                raise PermissionDenied(MANAGERS_ONLY)
            return view_func(request, *args, **kwargs)

        return wrapped

    return decorator if view is None else decorator(view)


class IsOrganizationMember(BasePermission):
    message = "You are not a member of this organization."

    def has_permission(self, request, view):
        return getattr(request._request, "membership", None) is not None


class IsManagerOrReadOnly(BasePermission):
    message = MANAGERS_ONLY

    def has_permission(self, request, view):
        if request.method in SAFE_METHODS:
            return getattr(request._request, "membership", None) is not None
        return is_manager(request._request)


class IsManager(BasePermission):
    message = MANAGERS_ONLY

    def has_permission(self, request, view):
        return is_manager(request._request)
