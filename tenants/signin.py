"""Signing in: the lockout page (django-axes) and password reset by email, in the product's look.

Django's own views do the work (tokens, the one-use link, password validation); what is ours:
- the email is sent by a worker, from the user's id alone, so no reset link travels in a task's
  arguments, the page answers as fast for an unknown address as for a known one, and an SMTP outage
  is retried instead of failing the page;
- the link is built on PUBLIC_BASE_URL, never on the Host header of the request;
- requests for links are limited per address (DEFAULT_THROTTLE_RATES["password_reset"]);
- setting a new password lifts a login lockout for that username (the lockout page offers a reset).
"""

from __future__ import annotations

from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core.throttling import AddressRateThrottle

from . import jobs


def _timeout_hours() -> int:
    return max(1, settings.PASSWORD_RESET_TIMEOUT // 3600)


def login_locked_out(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """What django-axes answers a locked-out username and address (AXES_LOCKOUT_CALLABLE): 429."""
    minutes = max(1, int(settings.AXES_COOLOFF_TIME.total_seconds() // 60))
    context = {"failure_limit": settings.AXES_FAILURE_LIMIT, "cooloff_minutes": minutes}
    response = render(request, "registration/locked_out.html", context, status=429)
    response["Retry-After"] = str(minutes * 60)
    return response


class PasswordResetRequestForm(PasswordResetForm):
    def save(self, **kwargs) -> None:
        for user in self.get_users(self.cleaned_data["email"]):
            jobs.password_reset_send(user.pk)


class _ResetRequests(AddressRateThrottle):
    scope = "password_reset"


# Django's form views treat PUT as POST; these pages answer only what a browser sends them.
_BROWSER_METHODS = ["get", "post", "head", "options"]


class PasswordResetView(auth_views.PasswordResetView):
    form_class = PasswordResetRequestForm
    http_method_names = _BROWSER_METHODS

    def post(self, request, *args, **kwargs):
        if not _ResetRequests().allow_request(request, self):
            return render(request, self.template_name, {"form": self.get_form(), "throttled": True}, status=429)
        return super().post(request, *args, **kwargs)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    extra_context = {"timeout_hours": _timeout_hours}


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    http_method_names = _BROWSER_METHODS

    def dispatch(self, *args, **kwargs):
        # Django's view moves the link's token into the session before it looks at the method.
        if self.request.method.lower() not in self.http_method_names:
            return self.http_method_not_allowed(self.request, *args, **kwargs)
        return super().dispatch(*args, **kwargs)
    def form_valid(self, form):
        response = super().form_valid(form)
        axes_reset(username=self.user.get_username())
        return response
