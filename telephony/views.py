"""HTML pages for admins: numbers, provider accounts, buying and importing."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tenants import selectors as tenant_selectors
from tenants.permissions import manager_required
from tenants.scoping import parse_public_id

from . import selectors
from .forms import (
    AssignForm,
    BandwidthAccountForm,
    CallingRulesForm,
    NumberFilterForm,
    NumberVoiceForm,
    RenameForm,
    SearchAvailableForm,
    TwilioAccountForm,
    VapiAccountForm,
    VonageAccountForm,
)
from .models import Provider
from .services import (
    accounts,
    assignment,
    buying,
    calling_rules,
    configuring,
    editing,
    importing,
    platform,
    routing,
    sync,
    voice_setup,
)


def _errors(exc: ValidationError) -> str:
    return " ".join(exc.messages)


def _add_errors(form, exc: ValidationError) -> None:
    """A service's ValidationError onto the form: on its fields when it names them."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _page_of_this_organization(request: HttpRequest, target: str | None, org_slug: str) -> str | None:
    """``target`` if it is a path of this organization's pages on this site, else None: a `next`
    from a form must never send anyone to another site (an open redirect)."""
    if (not target or not target.startswith(f"/o/{org_slug}/") or any(ord(c) < 32 or ord(c) == 127 for c in target)
            or not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                   require_https=request.is_secure())):
        return None
    return target


def _agents(request):
    return tenant_selectors.agent_list(organization=request.organization)


@require_GET
@manager_required
def number_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    organization = request.organization
    form = NumberFilterForm(request.GET or None, clients=tenant_selectors.client_list(organization=organization),
                            agents=_agents(request))
    filters = form.cleaned_data if form.is_valid() else {}
    page = Paginator(selectors.phone_number_list(organization=organization, filters=filters), 50).get_page(
        request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "telephony/number_list.html", {
        "filter_form": form, "page": page, "query": query.urlencode(), "agents": _agents(request),
        "has_accounts": selectors.provider_account_list(organization=organization).exists(),
    })


@require_POST
@manager_required
def number_bulk_assign(request: HttpRequest, org_slug: str) -> HttpResponse:
    organization = request.organization
    ids = [parse_public_id(v) for v in request.POST.getlist("numbers")]
    if not ids:
        messages.error(request, "Select at least one number.")
        return redirect("telephony:number-list", org_slug=org_slug)
    form = AssignForm(request.POST, agents=_agents(request))
    if not form.is_valid():
        messages.error(request, "Choose an agent of this organization.")
        return redirect("telephony:number-list", org_slug=org_slug)
    chosen = list(selectors.phone_number_list(organization=organization).filter(pk__in=ids))
    result = assignment.phone_numbers_bulk_assign(organization=organization, actor=request.user, numbers=chosen,
                                                  agent=form.cleaned_data["agent"],
                                                  only_if_unassigned=not request.POST.get("reassign"))
    text = f"{result['assigned']} number(s) assigned"
    if result["skipped"]:
        text += f", {result['skipped']} skipped because someone else had assigned them (tick 'reassign' to override)"
    messages.success(request, text + ".")
    for error in result["errors"]:
        messages.error(request, f"{error['item']}: {error['error']}")
    return redirect(_page_of_this_organization(request, request.POST.get("next"), org_slug)
                    or f"/o/{org_slug}/numbers/")


def _number_page(request: HttpRequest, number, *, voice_form=None, status: int = 200) -> HttpResponse:
    return render(request, "telephony/number_detail.html", {
        "number": number,
        "history": tenant_selectors.audit_for_target(organization=request.organization, target=number)[:100],
        "assign_form": AssignForm(initial={"agent": number.agent}, agents=_agents(request)),
        "rename_form": RenameForm(initial={"friendly_name": number.friendly_name}),
        "voice_form": voice_form or NumberVoiceForm(initial={"ring_timeout": number.ring_timeout,
                                                             "voicemail_greeting": number.voicemail_greeting}),
        # The signed link Twilio plays, on this site (the page's CSP allows media from 'self' only).
        "greeting_audio_url": routing.greeting_audio_url(number.pk, number.voicemail_greeting_audio.name).removeprefix(settings.PUBLIC_BASE_URL)
        if number.voicemail_greeting_audio else "",
    }, status=status)


@require_GET
@manager_required
def number_detail(request: HttpRequest, org_slug: str, phone_number_id) -> HttpResponse:
    return _number_page(request, selectors.get_phone_number_for_org(request.organization, phone_number_id))


@require_POST
@manager_required
def number_voice_settings(request: HttpRequest, org_slug: str, phone_number_id) -> HttpResponse:
    number = selectors.get_phone_number_for_org(request.organization, phone_number_id)
    form = NumberVoiceForm(request.POST, request.FILES)
    if form.is_valid():
        f = form.cleaned_data
        try:
            editing.phone_number_voice_update(
                organization=request.organization, actor=request.user, number=number, ring_timeout=f["ring_timeout"],
                voicemail_greeting=f["voicemail_greeting"], greeting_audio=f["greeting_audio"],
                remove_greeting_audio=f["remove_greeting_audio"])
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, "Voice settings saved.")
            return redirect("telephony:number-detail", org_slug=org_slug, phone_number_id=number.pk)
    return _number_page(request, number, voice_form=form, status=400)


@require_POST
@manager_required
def number_assign(request: HttpRequest, org_slug: str, phone_number_id) -> HttpResponse:
    number = selectors.get_phone_number_for_org(request.organization, phone_number_id)
    form = AssignForm(request.POST, agents=_agents(request))
    if not form.is_valid():
        messages.error(request, "Choose an agent of this organization.")
    else:
        try:
            assignment.phone_number_assign(organization=request.organization, actor=request.user, number=number,
                                           agent=form.cleaned_data["agent"])
        except ValidationError as exc:
            messages.error(request, _errors(exc))
        else:
            agent = form.cleaned_data["agent"]
            messages.success(request, f"{number} is now answered by {agent.name}." if agent else f"{number} is unassigned.")
    return redirect("telephony:number-detail", org_slug=org_slug, phone_number_id=number.pk)


@require_POST
@manager_required
def number_rename(request: HttpRequest, org_slug: str, phone_number_id) -> HttpResponse:
    number = selectors.get_phone_number_for_org(request.organization, phone_number_id)
    form = RenameForm(request.POST)
    if form.is_valid():
        editing.phone_number_update(organization=request.organization, actor=request.user, number=number,
                                    friendly_name=form.cleaned_data["friendly_name"])
        messages.success(request, "Saved.")
    else:
        messages.error(request, " ".join(form.errors.get("friendly_name", [])) or "The name was not saved.")
    return redirect("telephony:number-detail", org_slug=org_slug, phone_number_id=number.pk)


@require_POST
@manager_required
def number_repair(request: HttpRequest, org_slug: str, phone_number_id) -> HttpResponse:
    number = selectors.get_phone_number_for_org(request.organization, phone_number_id)
    try:
        configuring.phone_number_repair_webhooks(organization=request.organization, actor=request.user, number=number)
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, "Webhooks point at Softphone again.")
    return redirect("telephony:number-detail", org_slug=org_slug, phone_number_id=number.pk)


@require_POST
@manager_required
def number_platform_retry(request: HttpRequest, org_slug: str, phone_number_id) -> HttpResponse:
    number = selectors.get_phone_number_for_org(request.organization, phone_number_id)
    platform.platform_sync_request(organization=request.organization, actor=request.user, number=number)
    messages.success(request, "Syncing with VAPI; the state below updates when it is done.")
    return redirect("telephony:number-detail", org_slug=org_slug, phone_number_id=number.pk)


@require_POST
@manager_required
def number_remove(request: HttpRequest, org_slug: str, phone_number_id) -> HttpResponse:
    number = selectors.get_phone_number_for_org(request.organization, phone_number_id)
    label = number.provider_account.get_provider_display()
    if request.POST.get("release") == "1":
        if request.POST.get("confirm") != number.phone_number:
            messages.error(request, f"Type {number.phone_number} to confirm: a released number leaves the {label} "
                                    "account and may not come back.")
            return redirect("telephony:number-detail", org_slug=org_slug, phone_number_id=number.pk)
        editing.phone_number_remove(organization=request.organization, actor=request.user, number=number,
                                    release=True)
        messages.success(request, f"{number} is being released to {label}; it disappears once {label} has it back.")
        return redirect("telephony:number-list", org_slug=org_slug)
    editing.phone_number_remove(organization=request.organization, actor=request.user, number=number)
    messages.success(request, f"{number} is being removed; it disappears once the carrier (and VAPI) are updated.")
    return redirect("telephony:number-list", org_slug=org_slug)


# Provider accounts -------------------------------------------------------------------------------


def _account_forms(request, twilio=None, vonage=None, bandwidth=None, vapi=None):
    clients = tenant_selectors.client_list(organization=request.organization)
    return {
        "accounts": selectors.provider_account_list(organization=request.organization),
        "twilio_form": twilio or TwilioAccountForm(clients=clients),
        "vonage_form": vonage or VonageAccountForm(clients=clients),
        "bandwidth_form": bandwidth or BandwidthAccountForm(clients=clients),
        "vapi_form": vapi or VapiAccountForm(),
    }


@require_GET
@manager_required
def account_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    return render(request, "telephony/account_list.html", _account_forms(request))


@require_POST
@manager_required
def account_connect(request: HttpRequest, org_slug: str, provider: str) -> HttpResponse:
    if provider == Provider.TWILIO:
        form = TwilioAccountForm(request.POST, clients=tenant_selectors.client_list(organization=request.organization))
        forms = {"twilio": form}
    elif provider == Provider.VONAGE:
        form = VonageAccountForm(request.POST, clients=tenant_selectors.client_list(organization=request.organization))
        forms = {"vonage": form}
    elif provider == Provider.BANDWIDTH:
        form = BandwidthAccountForm(request.POST,
                                    clients=tenant_selectors.client_list(organization=request.organization))
        forms = {"bandwidth": form}
    elif provider == Provider.VAPI:
        form = VapiAccountForm(request.POST)
        forms = {"vapi": form}
    else:
        raise Http404("No such provider.")
    if form.is_valid():
        try:
            account = accounts.provider_account_connect(organization=request.organization, actor=request.user,
                                                        provider=provider, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, _errors(exc))
        else:
            messages.success(request, f"{account} is connected.")
            return redirect("telephony:account-list", org_slug=org_slug)
    return render(request, "telephony/account_list.html", _account_forms(request, **forms), status=400)


@require_POST
@manager_required
def account_sync(request: HttpRequest, org_slug: str, provider_account_id) -> HttpResponse:
    account = selectors.get_provider_account_for_org(request.organization, provider_account_id)
    sync.provider_account_sync_request(organization=request.organization, account=account)
    messages.success(request, f"Checking {account} in the background: released numbers and changed webhooks "
                              "show on the numbers list in a moment.")
    return redirect("telephony:account-list", org_slug=org_slug)


@require_POST
@manager_required
def account_delete(request: HttpRequest, org_slug: str, provider_account_id) -> HttpResponse:
    account = selectors.get_provider_account_for_org(request.organization, provider_account_id)
    try:
        leftover = accounts.provider_account_delete(organization=request.organization, actor=request.user,
                                                    account=account)
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, f"{account} was disconnected.")
        if leftover:
            messages.warning(request, leftover)
    return redirect("telephony:account-list", org_slug=org_slug)


@require_POST
@manager_required
def account_repair_webhooks(request: HttpRequest, org_slug: str, provider_account_id) -> HttpResponse:
    """A carrier whose webhooks live on the account (Bandwidth): its messaging application pointed at us again."""
    account = selectors.get_provider_account_for_org(request.organization, provider_account_id)
    try:
        configuring.provider_account_repair_webhooks(organization=request.organization, actor=request.user,
                                                     account=account)
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, f"{account}'s messaging application calls Softphone again.")
    return redirect("telephony:account-list", org_slug=org_slug)


@require_POST
@manager_required
def account_voice(request: HttpRequest, org_slug: str, provider_account_id) -> HttpResponse:
    """The accounts page's "Set up the softphone" (enabled=1) and "Turn voice off" (enabled=0)."""
    account = selectors.get_provider_account_for_org(request.organization, provider_account_id)
    enabled = request.POST.get("enabled") == "1"
    try:
        asked = voice_setup.voice_request(organization=request.organization, actor=request.user, account=account,
                                          enabled=enabled)
    except ValidationError as exc:
        messages.error(request, _errors(exc))
        return redirect("telephony:account-list", org_slug=org_slug)
    if not asked:
        messages.info(request, f"The softphone is already set up on {account}." if enabled
                      else f"Voice is already off on {account}.")
    elif enabled:
        messages.success(request, f"Setting up the softphone on {account}: its status below changes when Twilio "
                                  "has answered.")
    else:
        messages.success(request, f"Turning voice off on {account}: its TwiML App and API key are being deleted "
                                  "at Twilio.")
    return redirect("telephony:account-list", org_slug=org_slug)


# Calling rules -----------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@manager_required
def calling_rules_edit(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Where the organization's agents may call from the browser."""
    policy = calling_rules.policy_of(request.organization)
    if request.method == "POST":
        form = CallingRulesForm(request.POST)
        if form.is_valid():
            f = form.cleaned_data
            try:
                calling_rules.voice_policy_update(
                    organization=request.organization, actor=request.user, allow_premium_rate=f["allow_premium_rate"],
                    allow_emergency=f["allow_emergency"],
                    allowed_prefixes=calling_rules.allowed_prefixes_parse(f["allowed_prefixes"]))
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                messages.success(request, "Calling rules saved.")
                return redirect("telephony:calling-rules", org_slug=org_slug)
    else:
        form = CallingRulesForm(initial={"allow_premium_rate": policy.allow_premium_rate,
                                         "allow_emergency": policy.allow_emergency,
                                         "allowed_prefixes": "\n".join(policy.allowed_prefixes)})
    return render(request, "telephony/calling_rules.html", {
        "form": form, "premium_prefixes": calling_rules.PREMIUM_PREFIXES,
        "emergency_codes": sorted(calling_rules.EMERGENCY_CODES, key=lambda code: (len(code), code)),
    }, status=400 if form.errors else 200)


# Search and buy ----------------------------------------------------------------------------------


@require_GET
@manager_required
def number_search(request: HttpRequest, org_slug: str) -> HttpResponse:
    form = SearchAvailableForm(request.GET or None,
                               accounts=selectors.carrier_accounts(organization=request.organization))
    results, error = None, None
    if request.GET and form.is_valid():
        f = form.cleaned_data
        try:
            results = buying.available_numbers_search(
                account=f["account"], country=f["country"], number_type=f["number_type"], area_code=f["area_code"],
                contains=f["contains"], capabilities=tuple(c for c in ("sms", "mms", "voice") if f.get(c)))
        except ValidationError as exc:
            error = _errors(exc)
    return render(request, "telephony/number_search.html", {"form": form, "results": results, "error": error},
                  status=400 if request.GET and (form.errors or error) else 200)


@require_http_methods(["GET", "POST"])
@manager_required
def number_buy(request: HttpRequest, org_slug: str) -> HttpResponse:
    """The confirmation step: GET shows what will be bought, POST buys."""
    source = request.POST if request.method == "POST" else request.GET
    account = selectors.get_provider_account_for_org(request.organization, source.get("account"))
    phone_number = source.get("phone_number", "")
    if request.method == "GET":
        return render(request, "telephony/number_buy_confirm.html", {"account": account, "phone_number": phone_number})
    try:
        number = buying.phone_number_buy(organization=request.organization, actor=request.user, account=account,
                                         phone_number=phone_number)
    except ValidationError as exc:
        messages.error(request, _errors(exc))
        return render(request, "telephony/number_buy_confirm.html",
                      {"account": account, "phone_number": phone_number}, status=400)
    messages.success(request, f"You bought {number}. Its webhooks point at Softphone.")
    return redirect("telephony:number-detail", org_slug=org_slug, phone_number_id=number.pk)


# Import ------------------------------------------------------------------------------------------


@require_GET
@manager_required
def number_import(request: HttpRequest, org_slug: str) -> HttpResponse:
    """Choose an account, then see its first page of numbers (one call) and pick some or all."""
    organization = request.organization
    carrier_accounts = selectors.carrier_accounts(organization=organization)
    account, page, error, status = None, None, None, 200
    if request.GET.get("account"):
        account = selectors.get_provider_account_for_org(organization, request.GET["account"])
        try:
            page = importing.account_numbers_page(account=account, page_token=request.GET.get("cursor"))
        except importing.InvalidPageToken as exc:
            error, status = _errors(exc), 400
        except ValidationError as exc:
            error = _errors(exc)
    known = set()
    if page:
        known = set(selectors.phone_number_list(organization=organization).filter(
            phone_number__in=[n.phone_number for n in page.numbers]).values_list("phone_number", flat=True))
    return render(request, "telephony/number_import.html", {
        "accounts": carrier_accounts, "account": account, "page": page, "error": error, "known": known,
    }, status=status)


@require_POST
@manager_required
def number_import_start(request: HttpRequest, org_slug: str) -> HttpResponse:
    account = selectors.get_provider_account_for_org(request.organization, request.POST.get("account"))
    chosen = "all" if request.POST.get("all") else request.POST.getlist("numbers")
    try:
        job = importing.phone_number_import_start(organization=request.organization, actor=request.user,
                                                  account=account, numbers=chosen)
    except ValidationError as exc:
        messages.error(request, _errors(exc))
        return redirect(f"/o/{org_slug}/numbers/import/?account={account.pk}")
    return redirect("telephony:job-detail", org_slug=org_slug, job_id=job.pk)


@require_GET
@manager_required  # jobs are number imports: the managers' business
def job_detail(request: HttpRequest, org_slug: str, job_id) -> HttpResponse:
    job = selectors.get_job_for_org(request.organization, job_id)
    return render(request, "telephony/job_detail.html", {"job": job})
