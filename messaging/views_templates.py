"""WhatsApp message templates in the product: the templates page (what each business account has,
synced from Meta) and, in a WhatsApp conversation, choosing one, filling its variables with a
preview, and sending it (messaging.services.templates)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from telephony import selectors as telephony_selectors
from telephony.models import Provider
from tenants.permissions import is_manager, manager_required

from . import selectors
from .services import policy
from .services import templates as template_services

VALUE_PREFIX = "v_"  # a variable's field in the form: v_1, v_first_name


@require_GET
def whatsapp_templates(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Every WhatsApp business account's templates: name, language, category, status (and why, when
    it cannot be sent) and the text with its variables; when each account was last read."""
    accounts, twilio = selectors.whatsapp_template_accounts(organization=request.organization)
    return render(request, "messaging/whatsapp_templates.html", {
        "accounts": accounts, "twilio_accounts": twilio, "can_sync": is_manager(request),
    })


@require_POST
@manager_required
def whatsapp_templates_sync(request: HttpRequest, org_slug: str, whatsapp_sender_id) -> HttpResponse:
    """Read the sender's business account's templates now (in a worker)."""
    sender = selectors.get_whatsapp_sender_for_org(request.organization, whatsapp_sender_id)
    if not sender.business_account_id:
        messages.error(request, f"{sender.name} has no WhatsApp Business Account id, so its templates cannot be "
                                "read. Set it on the sender first.")
    else:
        template_services.templates_sync_request(organization=request.organization, sender=sender, actor=request.user)
        messages.success(request, f"Reading the templates of {sender.name}'s business account from Meta…")
    return redirect("messaging:whatsapp-templates", org_slug=org_slug)


@require_POST
@manager_required
def twilio_templates_sync(request: HttpRequest, org_slug: str, provider_account_id) -> HttpResponse:
    """Read a Twilio account's WhatsApp templates (its Content API) now (in a worker)."""
    account = telephony_selectors.get_provider_account_for_org(request.organization, provider_account_id)
    if account.provider != Provider.TWILIO:
        messages.error(request, "Only Twilio accounts have WhatsApp templates to read.")
    else:
        template_services.twilio_templates_sync_request(organization=request.organization, account=account,
                                                        actor=request.user)
        messages.success(request, f"Reading the WhatsApp templates of {account.friendly_name} from Twilio…")
    return redirect("messaging:whatsapp-templates", org_slug=org_slug)


def _values(data) -> dict[str, str]:
    return {name[len(VALUE_PREFIX):]: value for name, value in data.items() if name.startswith(VALUE_PREFIX)}


@require_http_methods(["GET", "POST"])
def conversation_template(request: HttpRequest, org_slug: str, conversation_id) -> HttpResponse:
    """GET: the chosen template's variables and its preview (`preview=1`: the preview alone, as the
    agent types). POST: send it; answers with the new bubble (201), or 400 with the reason."""
    organization = request.organization
    conversation = selectors.get_conversation_for_org(organization, conversation_id)
    data = request.POST if request.method == "POST" else request.GET
    chosen = data.get("template", "")
    if not chosen:
        if request.method == "POST":
            return _refused(request, "Choose a template first.")
        return HttpResponse("")
    try:
        template = selectors.get_whatsapp_template_for_org(organization, chosen)
    except Http404:
        return _refused(request, "That is not one of this organization's templates.")
    values = _values(data)
    if request.method == "POST":
        try:
            message = template_services.template_send(organization=organization, actor=request.user,
                                                      conversation=conversation, template=template, values=values)
        except ValidationError as exc:
            return _refused(request, " ".join(exc.messages))
        return render(request, "messaging/_bubble.html", {"message": message, "conversation": conversation},
                      status=201)
    context = {"conversation": conversation, "template": template, "values": values,
               "preview": template_services.template_render(template, values),
               "refusal": policy.may_send(conversation, template=template),
               "parameters": [{"component": p.component, "name": p.name, "example": p.example,
                               "field": VALUE_PREFIX + p.name, "value": values.get(p.name, "")}
                              for p in template_services.parameters_of(template)]}
    if data.get("preview"):
        return render(request, "messaging/_template_preview.html", context)
    return render(request, "messaging/_template_form.html", context)


def _refused(request: HttpRequest, reason: str) -> HttpResponse:
    return HttpResponse(reason, status=400, content_type="text/plain; charset=utf-8")
