"""Celery tasks of `tenants`, and the tenant-aware task base every app uses."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from core.vendors import ProviderError

from .access import EVERYTHING
from .models import Invitation, Organization
from .rls import reset_connection
from .scoping import tenant_scope

logger = logging.getLogger(__name__)


class TenantMissing(Exception):
    """A tenant task was called without a valid organization_id: a programming error, never retried."""


class TenantTask(Task):
    """Runs the task body inside its organization's scope.

    Every tenant task takes ``organization_id`` as a keyword argument; without one (or with one
    that does not exist) it fails at once instead of running unscoped.
    """

    abstract = True

    def __call__(self, *args, **kwargs):
        reset_connection()  # a worker's reused connection starts every task with no tenant
        organization_id = kwargs.get("organization_id")
        if not organization_id:
            raise TenantMissing(f"{self.name} needs organization_id=")
        organization = Organization.objects.filter(pk=organization_id).first()
        if organization is None:
            raise TenantMissing(f"{self.name}: organization {organization_id} does not exist")
        # A task acts for the whole organization, whoever queued it (tenants.access): even run
        # inline inside a limited member's request, it does not inherit their limit.
        with tenant_scope(organization, EVERYTHING):
            return super().__call__(*args, **kwargs)


def retry_countdown(retries: int) -> int:
    """How long a task waits before trying a vendor that failed for a while again: exponential
    backoff from 5 s, capped at ten minutes."""
    return min(600, 5 * 2 ** retries)


def row_task(name: str, *, model, key: str, related: tuple[str, ...] = (), on_permanent=None, max_retries: int = 8,
             **options):
    """A tenant task about one row, written once: load the row (inside the tenant's scope), end
    quietly if it is gone, call the body with it, and when a vendor fails, retry with backoff if
    trying again can help (at most `max_retries` times), or log and end if it cannot, after calling
    `on_permanent(row, error)` when given (to record the failure on the row).

        @row_task("telephony.phone_number_configure", model=PhoneNumber, key="phone_number_id")
        def phone_number_configure(number): ...

    It is called as `phone_number_configure.delay(organization_id=..., phone_number_id=...)`."""

    def decorate(body):
        @shared_task(base=TenantTask, bind=True, name=name, max_retries=max_retries, **options)
        def task(self, *, organization_id: str, **ids):
            row = model.objects.select_related(*related).filter(pk=ids[key]).first()
            if row is None:
                return "gone"
            try:
                return body(row)
            except ProviderError as exc:
                if exc.permanent:
                    logger.warning("%s failed permanently: %s", name, exc)
                    if on_permanent is not None:
                        on_permanent(row, exc)
                    return "failed"
                raise self.retry(exc=exc, countdown=retry_countdown(self.request.retries)) from None

        task.__doc__ = body.__doc__
        return task

    return decorate


@shared_task(base=TenantTask, bind=True, name="tenants.invitation_send", max_retries=5, default_retry_delay=30)
def invitation_send(self, *, organization_id: str, invitation_id: str) -> None:
    invitation = Invitation.objects.filter(pk=invitation_id, accepted_at__isnull=True,
                                           revoked_at__isnull=True).first()
    if invitation is None or not invitation.token:
        return
    link = settings.PUBLIC_BASE_URL + reverse("invitation-accept", args=[invitation.token])
    context = {"invitation": invitation, "organization": invitation.organization, "link": link}
    try:
        send_mail(
            subject=f"You are invited to {invitation.organization.name} on Softphone",
            message=render_to_string("tenants/email/invitation.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[invitation.email],
        )
    except OSError as exc:  # SMTP down: try again later
        raise self.retry(exc=exc) from None


@shared_task(bind=True, name="tenants.password_reset_send", max_retries=5, default_retry_delay=30)
def password_reset_send(self, *, user_id: str) -> None:
    """Email a one-use link to choose a new password. The link is made here, from the user's id, so
    it never travels in the task's arguments (the broker keeps those)."""
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None or not user.email or not user.has_usable_password():
        return
    path = reverse("password_reset_confirm", kwargs={"uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                                                     "token": default_token_generator.make_token(user)})
    context = {"user": user, "link": settings.PUBLIC_BASE_URL + path,
               "timeout_hours": max(1, settings.PASSWORD_RESET_TIMEOUT // 3600)}
    try:
        send_mail(subject="Reset your Softphone password",
                  message=render_to_string("registration/password_reset_email.txt", context),
                  from_email=settings.DEFAULT_FROM_EMAIL, recipient_list=[user.email])
    except OSError as exc:  # SMTP down: try again later
        raise self.retry(exc=exc) from None
