"""HTML views of `tenants`: small functions, one service or selector call each."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import selectors, services
from .forms import (
    AcceptInvitationForm,
    AgentForm,
    AgentVisibilityForm,
    ClientForm,
    InvitationForm,
    MemberClientsForm,
    RoleForm,
)
from .models import AgentVisibility, Role
from .permissions import is_manager, manager_required


def _apply_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    organizations = selectors.organizations_for_user(request.user)
    if len(organizations) == 1:
        # Agents land in the inbox, where their work is; owners and admins on the home page.
        if selectors.lands_in_inbox(request.user, organizations[0]):
            return redirect("messaging:inbox", org_slug=organizations[0].slug)
        return redirect("tenants:organization-home", org_slug=organizations[0].slug)
    return render(request, "tenants/home.html", {"organizations": organizations})


@require_GET
def organization_home(request: HttpRequest, org_slug: str) -> HttpResponse:
    organization = request.organization
    context = {
        "agents": selectors.agent_list(organization=organization),
        "members": selectors.membership_list(organization=organization),
        "panels": selectors.home_panels(organization=organization),
        # The built-in simulated carrier's customer phone, when it runs (make run): try the product.
        "simulator_on": settings.SIMULATOR_ENABLED,
    }
    return render(request, "tenants/organization_home.html", context)


def _agent_form(request, data=None, initial=None, agent=None):
    organization = request.organization
    members = get_user_model().objects.filter(
        pk__in=selectors.membership_list(organization=organization).values("user_id")
    )
    return AgentForm(data, initial=initial, members=members, clients=selectors.client_list(organization=organization),
                     # A form sent back is checked against VAPI's list as it is now, not as kept.
                     assistants=selectors.assistant_catalog(organization=organization, fresh=data is not None),
                     current_assistant=agent.assistant_id if agent is not None else "")


@require_GET
def team(request: HttpRequest, org_slug: str) -> HttpResponse:
    organization = request.organization
    # Only owners grant, invite to or take away the owner role: admins are not offered it.
    manages_owners = request.membership.role == Role.OWNER
    role_choices = [(v, label) for v, label in Role.choices if manages_owners or v != Role.OWNER]
    return render(request, "tenants/team.html", {
        "members": selectors.membership_list(organization=organization),
        "invitations": selectors.invitation_pending_list(organization=organization),
        "agents": selectors.agent_list_with_presence(organization=organization),
        "invite_form": InvitationForm(role_choices=role_choices),
        # Only managers see the new-agent form (and only for them is VAPI asked for its assistants).
        "agent_form": _agent_form(request) if is_manager(request) else None,
        "role_choices": role_choices,
        "manages_owners": manages_owners,
        "visibility_form": AgentVisibilityForm(initial={"agent_visibility": organization.agent_visibility}),
        "agents_see_own": organization.agent_visibility == AgentVisibility.OWN,
    })


@require_POST
@manager_required
def invitation_create(request: HttpRequest, org_slug: str) -> HttpResponse:
    form = InvitationForm(request.POST)
    if form.is_valid():
        try:
            invitation, token = services.invitation_create(
                organization=request.organization, actor=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, f"Invitation sent to {invitation.email}.")
            return redirect("tenants:team", org_slug=org_slug)
    for error in form.errors.values():
        messages.error(request, " ".join(error))
    return redirect("tenants:team", org_slug=org_slug)


@require_POST
@manager_required
def invitation_revoke(request: HttpRequest, org_slug: str, invitation_id) -> HttpResponse:
    invitation = selectors.get_invitation_for_org(request.organization, invitation_id)
    try:
        services.invitation_revoke(organization=request.organization, actor=request.user, invitation=invitation)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Invitation for {invitation.email} revoked.")
    return redirect("tenants:team", org_slug=org_slug)


@require_POST
@manager_required
def member_role(request: HttpRequest, org_slug: str, membership_id) -> HttpResponse:
    membership = selectors.get_membership_for_org(request.organization, membership_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose owner, admin or agent.")
        return redirect("tenants:team", org_slug=org_slug)
    try:
        services.membership_change_role(organization=request.organization, actor=request.user,
                                        membership=membership, role=form.cleaned_data["role"])
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{membership.user.display_name} is now {form.cleaned_data['role']}.")
    return redirect("tenants:team", org_slug=org_slug)


@require_http_methods(["GET", "POST"])
@manager_required
def member_clients(request: HttpRequest, org_slug: str, membership_id) -> HttpResponse:
    """Which clients a member sees: every client, or only some (seed 001's access per client)."""
    organization = request.organization
    membership = selectors.get_membership_for_org(organization, membership_id)
    clients = list(selectors.client_list(organization=organization, archived=None))
    current = selectors.membership_clients(membership)
    form = MemberClientsForm(request.POST or None, clients=clients, initial={
        "access": "some" if membership.limited_to_clients else "all",
        "clients": [str(client.pk) for client in current]})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            limited = form.cleaned_data["access"] == "some"
            try:
                services.membership_set_clients(organization=organization, actor=request.user, membership=membership,
                                                limited=limited, clients=form.chosen_clients())
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                chosen = ", ".join(client.name for client in form.chosen_clients()) or "no client"
                messages.success(request, f"{membership.user.display_name} now sees "
                                          f"{'only ' + chosen if limited else 'every client'}.")
                return redirect("tenants:team", org_slug=org_slug)
        status = 400
    return render(request, "tenants/member_clients.html", {
        "member": membership, "form": form, "has_clients": bool(clients)}, status=status)


@require_POST
@manager_required
def agent_visibility(request: HttpRequest, org_slug: str) -> HttpResponse:
    """What agents see: every conversation, or those of their own numbers and those assigned to them."""
    form = AgentVisibilityForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose what agents see: every conversation, or only their own.")
        return redirect("tenants:team", org_slug=org_slug)
    services.organization_set_agent_visibility(organization=request.organization, actor=request.user,
                                               visibility=form.cleaned_data["agent_visibility"])
    messages.success(request, "Saved: " + AgentVisibility(form.cleaned_data["agent_visibility"]).label.lower() + ".")
    return redirect("tenants:team", org_slug=org_slug)


@require_POST
@manager_required
def member_remove(request: HttpRequest, org_slug: str, membership_id) -> HttpResponse:
    membership = selectors.get_membership_for_org(request.organization, membership_id)
    try:
        services.membership_remove(organization=request.organization, actor=request.user, membership=membership)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{membership.user.display_name} was removed.")
    return redirect("tenants:team", org_slug=org_slug)


@require_POST
@manager_required
def agent_create(request: HttpRequest, org_slug: str) -> HttpResponse:
    form = _agent_form(request, request.POST)
    if form.is_valid():
        try:
            agent = services.agent_create(organization=request.organization, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, f"Agent {agent.name} created.")
            return redirect("tenants:team", org_slug=org_slug)
    return render(request, "tenants/agent_form.html", {"form": form, "agent": None}, status=400)


@require_http_methods(["GET", "POST"])
@manager_required
def agent_edit(request: HttpRequest, org_slug: str, agent_id) -> HttpResponse:
    agent = selectors.get_agent_for_org(request.organization, agent_id)
    if request.method == "GET":
        form = _agent_form(request, initial={
            "name": agent.name, "kind": agent.kind, "user": agent.user, "assistant_id": agent.assistant_id,
            "client": agent.client,
        }, agent=agent)
        return render(request, "tenants/agent_form.html", {"form": form, "agent": agent})
    form = _agent_form(request, request.POST, agent=agent)
    if form.is_valid():
        try:
            services.agent_update(organization=request.organization, actor=request.user, agent=agent,
                                  **form.cleaned_data)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, f"Agent {form.cleaned_data['name']} saved.")
            return redirect("tenants:team", org_slug=org_slug)
    return render(request, "tenants/agent_form.html", {"form": form, "agent": agent}, status=400)


@require_POST
@manager_required
def agent_delete(request: HttpRequest, org_slug: str, agent_id) -> HttpResponse:
    agent = selectors.get_agent_for_org(request.organization, agent_id)
    services.agent_delete(organization=request.organization, actor=request.user, agent=agent)
    messages.success(request, f"Agent {agent.name} deleted.")
    return redirect("tenants:team", org_slug=org_slug)


@require_http_methods(["GET", "POST"])
@manager_required(methods=["POST"])
def client_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    """The organization's clients (the archived ones with ?archived=1); POST adds one (managers)."""
    organization = request.organization
    form = ClientForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                client = services.client_create(organization=organization, actor=request.user, **form.cleaned_data)
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(request, f"Client {client.name} added.")
                return redirect("tenants:client-detail", org_slug=org_slug, client_id=client.pk)
        status = 400
    archived = request.GET.get("archived") == "1"
    clients = selectors.client_list(organization=organization, archived=archived)
    return render(request, "tenants/client_list.html", {
        "clients": clients, "archived": archived, "form": form, "can_manage_clients": is_manager(request),
    }, status=status)


@require_http_methods(["GET", "POST"])
@manager_required(methods=["POST"])
def client_detail(request: HttpRequest, org_slug: str, client_id) -> HttpResponse:
    """A client: its details (managers edit them), its numbers and agents; its numbers' conversations
    are one click away in the inbox."""
    organization = request.organization
    client = selectors.get_client_for_org(organization, client_id)
    status = 200
    if request.method == "POST":
        form = ClientForm(request.POST)
        if form.is_valid():
            try:
                services.client_update(organization=organization, actor=request.user, client=client,
                                       **form.cleaned_data)
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(request, "Saved.")
                return redirect("tenants:client-detail", org_slug=org_slug, client_id=client.pk)
        status = 400
    else:
        form = ClientForm(initial={"name": client.name, "email": client.email, "notes": client.notes})
    # Through the client's reverse relations: tenants imports none of the apps above it.
    numbers = client.phone_numbers.filter(organization=organization).order_by("phone_number")
    agents = client.agents.filter(organization=organization).order_by("name")
    return render(request, "tenants/client_detail.html", {
        "client": client, "form": form, "numbers": numbers, "agents": agents,
        "can_manage_clients": is_manager(request),
    }, status=status)


@require_POST
@manager_required
def client_archive(request: HttpRequest, org_slug: str, client_id) -> HttpResponse:
    """Archive a client, or bring an archived one back (`archived`: 0)."""
    client = selectors.get_client_for_org(request.organization, client_id)
    archive = request.POST.get("archived", "1") != "0"
    services.client_update(organization=request.organization, actor=request.user, client=client, archived=archive)
    messages.success(request, f"{client.name} {'archived' if archive else 'is current again'}.")
    return redirect("tenants:client-detail", org_slug=org_slug, client_id=client.pk)


@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invitation = services.invitation_lookup(token)
    except services.InvitationInvalid as exc:
        return render(request, "tenants/invitation_invalid.html", {"reason": str(exc)}, status=404)
    if request.user.is_authenticated:
        form = None
        if request.method == "POST":
            try:
                membership = services.invitation_accept(token=token, user=request.user)
            except services.InvitationInvalid as exc:
                return render(request, "tenants/invitation_invalid.html", {"reason": str(exc)}, status=400)
            return redirect("tenants:organization-home", org_slug=membership.organization.slug)
    else:
        form = AcceptInvitationForm(request.POST or None, email=invitation.email)
        if request.method == "POST" and form.is_valid():
            try:
                membership = services.invitation_accept(
                    token=token, password=form.cleaned_data["password1"], full_name=form.cleaned_data["full_name"]
                )
            except services.InvitationInvalid as exc:
                return render(request, "tenants/invitation_invalid.html", {"reason": str(exc)}, status=400)
            login(request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("tenants:organization-home", org_slug=membership.organization.slug)
    return render(request, "tenants/invitation_accept.html", {"invitation": invitation, "form": form},
                  status=400 if form is not None and form.errors else 200)
