"""HTML pages for owners and admins: the organization's WhatsApp Cloud API senders (connect, edit,
switch off and on, check with Meta, remove). Secrets are never rendered back: the forms' password
inputs start empty, and an empty one keeps the stored value."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.vendors import ProviderError
from tenants import selectors as tenant_selectors
from tenants.permissions import manager_required

from . import selectors
from .forms import WhatsAppSenderEditForm, WhatsAppSenderForm
from .services import senders


def _add_errors(form, exc: ValidationError) -> None:
    """A service's ValidationError onto the form: on its fields when it names them."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _clients(request: HttpRequest, sender=None) -> list:
    """The clients a sender may be given: the current ones, and the one it has (even if archived)."""
    clients = list(tenant_selectors.client_list(organization=request.organization))
    if sender is not None and sender.client_id and all(client.pk != sender.client_id for client in clients):
        clients += list(tenant_selectors.client_list(organization=request.organization, archived=None)
                        .filter(pk=sender.client_id))
    return clients


def _list_page(request: HttpRequest, form=None, status: int = 200) -> HttpResponse:
    return render(request, "messaging/senders.html", {
        "senders": selectors.whatsapp_sender_list(organization=request.organization),
        "form": form or WhatsAppSenderForm(clients=_clients(request)),
    }, status=status)


def _detail_page(request: HttpRequest, sender, form=None, status: int = 200) -> HttpResponse:
    return render(request, "messaging/sender_detail.html", {
        "sender": sender,
        "problem": senders.sender_problem(sender),
        "webhook_url": senders.webhook_url(),
        "form": form or WhatsAppSenderEditForm(clients=_clients(request, sender), initial={
            "name": sender.name, "business_account_id": sender.business_account_id,
            "client": str(sender.client_id or "")}),
        "history": tenant_selectors.audit_for_target(organization=request.organization, target=sender)[:50],
    }, status=status)


@require_GET
@manager_required
def sender_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    return _list_page(request)


@require_POST
@manager_required
def sender_connect(request: HttpRequest, org_slug: str) -> HttpResponse:
    form = WhatsAppSenderForm(request.POST, clients=_clients(request))
    if form.is_valid():
        try:
            sender = senders.whatsapp_sender_connect(organization=request.organization, actor=request.user,
                                                     **form.cleaned_data)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, f"{sender} is connected. Paste the webhook URL and verify token below into "
                                      "Meta's console.")
            return redirect("messaging:sender-detail", org_slug=org_slug, whatsapp_sender_id=sender.pk)
    return _list_page(request, form, status=400)


@require_http_methods(["GET", "POST"])
@manager_required
def sender_detail(request: HttpRequest, org_slug: str, whatsapp_sender_id) -> HttpResponse:
    """The sender's page (GET) and its edit form (POST)."""
    sender = selectors.get_whatsapp_sender_for_org(request.organization, whatsapp_sender_id)
    if request.method == "GET":
        return _detail_page(request, sender)
    form = WhatsAppSenderEditForm(request.POST, clients=_clients(request, sender))
    if form.is_valid():
        try:
            sender = senders.whatsapp_sender_update(organization=request.organization, actor=request.user,
                                                    sender=sender, **form.cleaned_data)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, "Saved.")
            return redirect("messaging:sender-detail", org_slug=org_slug, whatsapp_sender_id=sender.pk)
    return _detail_page(request, sender, form, status=400)


@require_POST
@manager_required
def sender_switch(request: HttpRequest, org_slug: str, whatsapp_sender_id) -> HttpResponse:
    """"Switch off" (active=0) and "Switch on" (active=1)."""
    sender = selectors.get_whatsapp_sender_for_org(request.organization, whatsapp_sender_id)
    active = request.POST.get("active") == "1"
    sender = senders.whatsapp_sender_switch(organization=request.organization, actor=request.user, sender=sender,
                                            active=active)
    messages.success(request, f"{sender} is switched {'on' if active else 'off'}.")
    return redirect("messaging:sender-detail", org_slug=org_slug, whatsapp_sender_id=sender.pk)


@require_POST
@manager_required
def sender_check(request: HttpRequest, org_slug: str, whatsapp_sender_id) -> HttpResponse:
    """Ask Meta now, as the daily check does."""
    sender = selectors.get_whatsapp_sender_for_org(request.organization, whatsapp_sender_id)
    try:
        sender = senders.whatsapp_sender_check(organization=request.organization, sender=sender)
    except ProviderError as exc:
        messages.error(request, f"Meta could not be asked: {exc.message}")
    else:
        messages.success(request, f"Checked with Meta: {sender.get_status_display().lower()}.")
    return redirect("messaging:sender-detail", org_slug=org_slug, whatsapp_sender_id=sender.pk)


@require_POST
@manager_required
def sender_delete(request: HttpRequest, org_slug: str, whatsapp_sender_id) -> HttpResponse:
    sender = selectors.get_whatsapp_sender_for_org(request.organization, whatsapp_sender_id)
    try:
        senders.whatsapp_sender_delete(organization=request.organization, actor=request.user, sender=sender)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("messaging:sender-detail", org_slug=org_slug, whatsapp_sender_id=sender.pk)
    messages.success(request, f"{sender} was removed. Remove the webhook in Meta's console too.")
    return redirect("messaging:sender-list", org_slug=org_slug)
