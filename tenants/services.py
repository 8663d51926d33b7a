"""Every write in `tenants`: atomic, audited, side effects after commit."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from . import jobs
from .membership_stamps import membership_stamp_revoke
from .models import (
    RESERVED_SLUGS,
    Agent,
    AgentKind,
    AgentVisibility,
    AuditEvent,
    Availability,
    Client,
    ClientAccess,
    Invitation,
    Membership,
    Organization,
    Role,
)
from .scoping import platform_scope, tenant_scope
from .selectors import assistant_catalog
from .signals import agent_changed, agent_deleting

User = get_user_model()


def audit(*, organization: Organization, actor, verb: str, target, data: dict | None = None) -> AuditEvent:
    return AuditEvent.objects.create(
        organization=organization,
        actor=actor if actor is not None and actor.is_authenticated else None,
        verb=verb,
        target_type=target._meta.label_lower,
        target_id=target.pk,
        target_repr=str(target)[:200],
        data=data or {},
    )


def audit_many(*, organization: Organization, actor, verb: str, targets, data: dict | None = None) -> None:
    """One history line per target in one insert (bulk jobs such as imports)."""
    actor = actor if actor is not None and actor.is_authenticated else None
    AuditEvent.objects.bulk_create([
        AuditEvent(organization=organization, actor=actor, verb=verb, target_type=t._meta.label_lower,
                   target_id=t.pk, target_repr=str(t)[:200], data=data or {})
        for t in targets
    ], batch_size=500)


# Organizations and memberships ------------------------------------------------------------------


def _free_slug(name: str) -> str:
    base = slugify(name)[:40].strip("-") or "org"
    if base in RESERVED_SLUGS:
        base = f"{base}-org"
    slug, n = base, 1
    while Organization.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def organization_create(*, name: str, owner, slug: str | None = None) -> Organization:
    """Create an organization with ``owner`` as its first owner."""
    slug = slug or _free_slug(name)
    if slug in RESERVED_SLUGS:
        raise ValidationError({"slug": f"'{slug}' is reserved; choose another."})
    organization = Organization(name=name, slug=slug, created_by=owner)
    organization.full_clean()
    organization.save()
    with tenant_scope(organization):
        membership = Membership.objects.create(organization=organization, user=owner, role=Role.OWNER)
        audit(organization=organization, actor=owner, verb="organization.created", target=organization)
        audit(organization=organization, actor=owner, verb="membership.created", target=membership,
              data={"role": Role.OWNER})
    return organization


def _lock_owners(organization: Organization) -> list[Membership]:
    """Lock the organization's owner memberships, always in the same order, before any change that
    could take an owner away or rests on who is an owner. Two owners demoting or removing each other
    at the same moment then run one after the other, and the second sees what the first did (under
    READ COMMITTED, a row another transaction took out of the owner role drops out of this lock's
    result once that transaction commits)."""
    return list(Membership.objects.select_for_update().filter(organization=organization, role=Role.OWNER)
                .order_by("pk"))


def _lock_membership(organization: Organization, membership: Membership) -> Membership:
    locked = Membership.objects.select_for_update().filter(organization=organization, pk=membership.pk).first()
    if locked is None:  # removed by someone else a moment ago
        raise ValidationError(f"{membership.user.display_name} is no longer a member of {organization.name}.")
    return locked


def _require_owner(owners: list[Membership], actor) -> None:
    if actor.is_staff:
        return
    if not any(m.user_id == actor.pk for m in owners):
        raise PermissionDenied("Only an owner can grant or take away the owner role.")


@transaction.atomic
def membership_change_role(*, organization: Organization, actor, membership: Membership, role: str) -> Membership:
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role '{role}'."})
    owners = _lock_owners(organization)
    locked = _lock_membership(organization, membership)
    if locked.role == role:
        return locked
    if role == Role.OWNER or locked.role == Role.OWNER:
        _require_owner(owners, actor)
    if locked.role == Role.OWNER and len(owners) <= 1:
        raise ValidationError("An organization needs at least one owner: make someone else owner first.")
    previous = locked.role
    locked.role = role
    locked.save(update_fields=["role"])
    audit(organization=organization, actor=actor, verb="membership.role_changed", target=locked,
          data={"from": previous, "to": role})
    return locked


ONLY_AGENTS_LIMITED = ("Only agents can be limited to some clients: owners and admins run the whole organization. "
                      "Make them an agent first.")


@transaction.atomic
def membership_set_clients(*, organization: Organization, actor, membership: Membership, limited: bool,
                           clients: list[Client]) -> Membership:
    """Limit a member to some clients (seed 001: they see only those clients' numbers, conversations,
    contacts, calls and orders: tenants.access), or give them every client again. Limited to no client,
    they see nothing of any client. Archived clients may stay on the list (their history stays visible)."""
    locked = _lock_membership(organization, membership)
    if limited and locked.role != Role.AGENT:
        raise ValidationError({"limited_to_clients": ONLY_AGENTS_LIMITED})
    wanted = {client.pk: client for client in clients} if limited else {}
    if any(client.organization_id != organization.pk for client in wanted.values()):
        raise ValidationError({"client_ids": "No such client."})
    if limited:
        # Numbers they answer stay theirs to see: a limit that would hide one is refused, with the numbers.
        outside = [number.phone_number for agent in Agent.objects.filter(organization=organization, user_id=locked.user_id)
                   for number in agent.phone_numbers.filter(organization=organization)
                   .exclude(client_id__in=list(wanted)).order_by("phone_number")]
        if outside:
            raise ValidationError({"client_ids": f"{locked.user.display_name} answers {', '.join(outside)}, of "
                                                 "another client or of none: assign those numbers to someone else, "
                                                 "or include their client."})
    had = set(ClientAccess.objects.filter(membership=locked).values_list("client_id", flat=True))
    ClientAccess.objects.filter(membership=locked).exclude(client_id__in=list(wanted)).delete()
    ClientAccess.objects.bulk_create(
        [ClientAccess(organization=organization, membership=locked, client=client)
         for pk, client in wanted.items() if pk not in had], ignore_conflicts=True)
    if locked.limited_to_clients != limited:
        locked.limited_to_clients = limited
        locked.save(update_fields=["limited_to_clients"])
    audit(organization=organization, actor=actor, verb="membership.clients_changed", target=locked,
          data={"limited": limited, "clients": sorted(client.name for client in wanted.values())})
    return locked


@transaction.atomic
def membership_update(*, organization: Organization, actor, membership: Membership, role: str | None = None,
                      limited: bool | None = None, clients: list[Client] | None = None) -> Membership:
    """Change a member's role and which clients they see at once; what is not given stays as it is
    (the clients of a limit changed alone, or a limit switched on for the clients already listed)."""
    if role is not None:
        membership = membership_change_role(organization=organization, actor=actor, membership=membership, role=role)
    if limited is not None or clients is not None:
        if clients is None:
            clients = [access.client for access in
                       ClientAccess.objects.filter(membership=membership).select_related("client")]
        membership = membership_set_clients(
            organization=organization, actor=actor, membership=membership, clients=clients,
            limited=membership.limited_to_clients if limited is None else limited)
    return membership


@transaction.atomic
def organization_set_agent_visibility(*, organization: Organization, actor, visibility: str) -> Organization:
    """Whether agents see every conversation or only those of the numbers they answer and those
    assigned to them (tenants.access). Owners and admins always see every conversation."""
    if visibility not in AgentVisibility.values:
        raise ValidationError({"agent_visibility": "Choose 'all' or 'own'."})
    locked = Organization.objects.select_for_update().get(pk=organization.pk)
    if locked.agent_visibility != visibility:
        previous = locked.agent_visibility
        locked.agent_visibility = visibility
        locked.save(update_fields=["agent_visibility", "updated_at"])
        audit(organization=organization, actor=actor, verb="organization.agent_visibility_changed",
              target=locked, data={"from": previous, "to": visibility})
    organization.agent_visibility = visibility
    return locked


@transaction.atomic
def membership_remove(*, organization: Organization, actor, membership: Membership) -> None:
    """Remove a person from the organization, and the agent that was them."""
    owners = _lock_owners(organization)
    locked = _lock_membership(organization, membership)
    if locked.role == Role.OWNER:
        _require_owner(owners, actor)
        if len(owners) <= 1:
            raise ValidationError("You cannot remove the last owner of an organization.")
    audit(organization=organization, actor=actor, verb="membership.removed", target=locked,
          data={"user": locked.user.username, "role": locked.role})
    for agent in Agent.objects.filter(organization=organization, user_id=locked.user_id):
        agent_deleting.send(sender=Agent, agent=agent, actor=actor)  # its numbers are unassigned
    Agent.objects.filter(organization=organization, user_id=locked.user_id).delete()
    locked.delete()
    membership_stamp_revoke(organization.pk, locked.user_id)  # their live inbox tokens stop at once


def user_deactivated(*, user) -> None:
    """A person's account was switched off (by staff): their sessions already fail (Django refuses an
    inactive user), and every live inbox token they hold stops too, in every organization, at once.
    Called inside the platform scope (the admin), where a person's memberships across tenants are
    visible."""
    for organization_id in Membership.objects.filter(user=user).values_list("organization_id", flat=True):
        membership_stamp_revoke(organization_id, user.pk)


# Invitations ------------------------------------------------------------------------------------


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def invitation_create(*, organization: Organization, actor, email: str, role: str = Role.AGENT):
    """Invite ``email`` with ``role``; returns the invitation and the raw one-time token.

    The token is looked up by its hash and kept encrypted until used. The email goes out after
    commit, from a worker that reads the token from the row, never from its arguments.
    """
    email = User.objects.normalize_email(email).strip()
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role '{role}'."})
    if role == Role.OWNER:
        _require_owner(_lock_owners(organization), actor)
    if Membership.objects.filter(organization=organization, user__email__iexact=email).exists():
        raise ValidationError({"email": f"{email} is already a member of {organization.name}."})
    # A new invitation replaces any pending one for the same address.
    Invitation.objects.filter(
        organization=organization, email__iexact=email, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=timezone.now(), token=None)
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        organization=organization,
        email=email,
        role=role,
        token_hash=_hash_token(token),
        token=token,
        invited_by=actor,
        expires_at=timezone.now() + timedelta(hours=settings.INVITATION_TTL_HOURS),
    )
    audit(organization=organization, actor=actor, verb="invitation.created", target=invitation,
          data={"email": email, "role": role})
    jobs.invitation_send(organization.pk, invitation.pk)
    return invitation, token


@transaction.atomic
def invitation_revoke(*, organization: Organization, actor, invitation: Invitation) -> None:
    """Revoke a pending invitation. The conditional update and the claim in ``invitation_accept`` touch
    the same row, so of a revoke and an accept at the same moment exactly one wins."""
    revoked = Invitation.objects.filter(
        organization=organization, pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=timezone.now(), token=None)
    if revoked != 1:
        current = Invitation.objects.filter(organization=organization, pk=invitation.pk).first()
        if current is not None and current.accepted_at is not None:
            raise ValidationError(f"The invitation for {invitation.email} was already accepted.")
        return  # already revoked: nothing to do, nothing to record
    audit(organization=organization, actor=actor, verb="invitation.revoked", target=invitation)


class InvitationInvalid(Exception):
    """The link is unknown, used, revoked or expired."""


def invitation_lookup(token: str) -> Invitation:
    """Find the invitation behind a one-time link. Crosses tenants: the token is the only key."""
    with platform_scope():
        invitation = Invitation.objects.select_related("organization").filter(token_hash=_hash_token(token)).first()
    if invitation is None or invitation.accepted_at or invitation.revoked_at or invitation.expires_at < timezone.now():
        raise InvitationInvalid("This invitation link is not valid any more. Ask for a new one.")
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, user=None, password: str | None = None, full_name: str = "") -> Membership:
    """Accept an invitation: as the logged-in ``user``, or by creating the invitee's account with
    ``password``. The link works once."""
    invitation = invitation_lookup(token)
    organization = invitation.organization
    # Whether the link is this person's is decided before the row is touched.
    if user is None:
        if User.objects.filter(email__iexact=invitation.email).exists():
            raise InvitationInvalid("An account with this email exists: log in first, then open the link again.")
    elif user.email.lower() != invitation.email.lower():
        raise InvitationInvalid(f"This invitation is for {invitation.email}; you are logged in as {user.email}.")
    with tenant_scope(organization):
        # The claim repeats every check of the lookup in one conditional update: a revoke, a newer
        # invitation or the deadline that lands between the lookup and here wins, and a claim that
        # waited for a concurrent revoke's row lock re-reads the row before it decides.
        now = timezone.now()
        claimed = Invitation.objects.filter(
            pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now
        ).update(accepted_at=now)
        if claimed != 1:
            raise InvitationInvalid("This invitation link is not valid any more. Ask for a new one.")
        if user is None:
            first, _, last = full_name.strip().partition(" ")
            user = User(username=invitation.email, email=invitation.email, first_name=first[:150], last_name=last[:150])
            user.set_password(password)
            user.save()
        try:
            with transaction.atomic():
                membership = Membership.objects.create(organization=organization, user=user, role=invitation.role)
        except IntegrityError:
            raise InvitationInvalid(f"You are already a member of {organization.name}.") from None
        Invitation.objects.filter(pk=invitation.pk).update(accepted_by=user, token=None)
        if invitation.role == Role.AGENT:
            Agent.objects.get_or_create(
                organization=organization, user=user,
                defaults={"name": user.display_name, "kind": AgentKind.HUMAN, "created_by": invitation.invited_by},
            )
        audit(organization=organization, actor=user, verb="invitation.accepted", target=membership,
              data={"role": invitation.role})
    return membership


# Agents -----------------------------------------------------------------------------------------


def _validate_agent(*, organization: Organization, kind: str, user, assistant_id: str, client) -> None:
    errors = {}
    if kind not in AgentKind.values:
        errors["kind"] = f"Kind must be one of: {', '.join(AgentKind.values)}."
    elif kind == AgentKind.HUMAN:
        if user is None:
            errors["user"] = "A person agent needs a member of the organization."
        elif not Membership.objects.filter(organization=organization, user=user).exists():
            errors["user"] = "That person is not a member of this organization."
        if assistant_id:
            errors["assistant_id"] = "Only AI agents have a VAPI assistant id."
    else:
        if user is not None:
            errors["user"] = "An AI agent is not linked to a person."
        if not assistant_id:
            errors["assistant_id"] = "An AI agent needs its VAPI assistant id."
    if client is not None and client.organization_id != organization.pk:
        errors["client"] = "No such client."
    if errors:
        raise ValidationError(errors)


def _check_assistant(*, organization: Organization, assistant_id: str) -> None:
    """An AI agent's assistant must exist in the organization's voice-AI platform account.

    With no platform connected there is nothing to check against (and no number can be given to
    an AI agent until one is): the id is kept as typed. A platform that cannot be asked refuses the
    change: an assistant nobody could check would leave the agent's callers unanswered."""
    catalog = assistant_catalog(organization=organization)
    if catalog is None or (not catalog.error and catalog.has(assistant_id)):
        return
    if not catalog.error:  # perhaps created since the list was read
        catalog = assistant_catalog(organization=organization, fresh=True)
    if catalog is None or (not catalog.error and catalog.has(assistant_id)):
        return
    if catalog.error:
        raise ValidationError({"assistant_id": f"The assistant could not be checked: {catalog.error}"})
    raise ValidationError({"assistant_id": f"The connected {catalog.platform} account has no assistant "
                                           f"with id {assistant_id}."})


def agent_create(*, organization: Organization, actor, name: str, kind: str, user=None,
                 assistant_id: str = "", client: Client | None = None) -> Agent:
    """Create a person agent (a member) or an AI agent (an assistant of the connected platform,
    checked there before anything is saved)."""
    assistant_id = (assistant_id or "").strip()
    _validate_agent(organization=organization, kind=kind, user=user, assistant_id=assistant_id, client=client)
    if kind == AgentKind.AI:
        _check_assistant(organization=organization, assistant_id=assistant_id)
    return _agent_create(organization=organization, actor=actor, name=name, kind=kind, user=user,
                         assistant_id=assistant_id, client=client)


@transaction.atomic
def _agent_create(*, organization: Organization, actor, name: str, kind: str, user, assistant_id: str,
                  client: Client | None) -> Agent:
    if user is not None and Agent.objects.filter(organization=organization, user=user).exists():
        raise ValidationError({"user": "That person already is an agent here."})
    agent = Agent.objects.create(
        organization=organization, name=name.strip(), kind=kind, user=user, assistant_id=assistant_id,
        client=client, created_by=actor if actor and actor.is_authenticated else None,
    )
    audit(organization=organization, actor=actor, verb="agent.created", target=agent,
          data={"kind": kind, "name": agent.name})
    return agent


_UNSET = object()


def agent_update(*, organization: Organization, actor, agent: Agent, name=_UNSET, kind=_UNSET, user=_UNSET,
                 assistant_id=_UNSET, client=_UNSET) -> Agent:
    """Change an agent. A new assistant of an AI agent is checked with the platform first (outside
    the transaction: no row waits on the network), and then answers every number of the agent
    there (telephony follows `agent_changed`)."""
    wanted_kind = agent.kind if kind is _UNSET else kind
    wanted_assistant = agent.assistant_id if assistant_id is _UNSET else (assistant_id or "").strip()
    if wanted_kind == AgentKind.AI and wanted_assistant and (
            wanted_assistant != agent.assistant_id or agent.kind != AgentKind.AI):
        _check_assistant(organization=organization, assistant_id=wanted_assistant)
    return _agent_update(organization=organization, actor=actor, agent=agent, name=name, kind=kind, user=user,
                         assistant_id=assistant_id, client=client)


@transaction.atomic
def _agent_update(*, organization: Organization, actor, agent: Agent, name, kind, user, assistant_id,
                  client) -> Agent:
    locked = Agent.objects.select_for_update().get(organization=organization, pk=agent.pk)
    before = {"kind": locked.kind, "assistant_id": locked.assistant_id}
    changes = {}
    for field, value in (("name", name), ("kind", kind), ("user", user), ("assistant_id", assistant_id),
                         ("client", client)):
        if value is _UNSET:
            continue
        if field in ("name", "assistant_id"):
            value = (value or "").strip()
        if getattr(locked, field) != value:
            changes[field] = value
    if not changes:
        return locked
    for field, value in changes.items():
        setattr(locked, field, value)
    if locked.kind == AgentKind.AI:
        # Turning a person into an AI agent (or the reverse) must not leave the other half behind.
        if "kind" in changes and "user" not in changes:
            locked.user = None
    elif "kind" in changes and "assistant_id" not in changes:
        locked.assistant_id = ""
    _validate_agent(organization=organization, kind=locked.kind, user=locked.user,
                    assistant_id=locked.assistant_id, client=locked.client)
    if locked.user is not None and Agent.objects.filter(organization=organization, user=locked.user).exclude(
        pk=locked.pk
    ).exists():
        raise ValidationError({"user": "That person already is an agent here."})
    locked.save()
    audit(organization=organization, actor=actor, verb="agent.updated", target=locked,
          data={k: (str(v.pk) if hasattr(v, "pk") else v) for k, v in changes.items()})
    changed = set(changes) | {field for field, value in before.items() if getattr(locked, field) != value}
    agent_changed.send(sender=Agent, agent=locked, changed=frozenset(changed))
    return locked


@transaction.atomic
def agent_delete(*, organization: Organization, actor, agent: Agent) -> None:
    """Delete an agent. Its numbers are unassigned first (telephony follows `agent_deleting`): an AI
    agent's leave VAPI and get our voice routing back."""
    locked = Agent.objects.select_for_update().filter(organization=organization, pk=agent.pk).first()
    if locked is None:  # deleted a moment ago
        return
    audit(organization=organization, actor=actor, verb="agent.deleted", target=locked,
          data={"name": locked.name, "kind": locked.kind})
    agent_deleting.send(sender=Agent, agent=locked, actor=actor)
    Agent.objects.filter(organization=organization, pk=locked.pk).delete()


def agent_set_availability(*, organization: Organization, agent: Agent, availability: str) -> Agent:
    """A person's own switch in the inbox's top bar: available or away."""
    if availability not in Availability.values:
        raise ValidationError({"availability": "Choose available or away."})
    if agent.availability != availability:
        agent.availability = availability
        agent.save(update_fields=["availability", "updated_at"])
    return agent


# Clients ----------------------------------------------------------------------------------------


CLIENT_NAME_LONGEST = 200


def _client_name(organization: Organization, name: str, *, other_than=None) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError({"name": "Give the client a name."})
    if len(name) > CLIENT_NAME_LONGEST:
        raise ValidationError({"name": f"A client's name can be at most {CLIENT_NAME_LONGEST} characters."})
    same = Client.objects.filter(organization=organization, name__iexact=name)
    if other_than is not None:
        same = same.exclude(pk=other_than.pk)
    if same.exists():
        raise ValidationError({"name": f"A client named '{name}' already exists."})
    return name


@transaction.atomic
def client_create(*, organization: Organization, actor, name: str, email: str = "", notes: str = "") -> Client:
    name = _client_name(organization, name)
    client = Client.objects.create(organization=organization, name=name, email=(email or "").strip(),
                                   notes=notes or "")
    audit(organization=organization, actor=actor, verb="client.created", target=client)
    return client


@transaction.atomic
def client_update(*, organization: Organization, actor, client: Client, **changes) -> Client:
    """Change a client's name, email, notes, or archive it (`archived`: True) and bring it back."""
    fields = {}
    if "name" in changes:
        fields["name"] = _client_name(organization, changes["name"], other_than=client)
    if "email" in changes:
        fields["email"] = (changes["email"] or "").strip()
    if "notes" in changes:
        fields["notes"] = changes["notes"] or ""
    if "archived" in changes and bool(changes["archived"]) != (client.archived_at is not None):
        fields["archived_at"] = timezone.now() if changes["archived"] else None
    if not fields:
        return client
    for name, value in fields.items():
        setattr(client, name, value)
    client.save(update_fields=[*fields, "updated_at"])
    verb = ("client.archived" if fields.get("archived_at") else
            "client.restored" if "archived_at" in fields else "client.updated")
    audit(organization=organization, actor=actor, verb=verb, target=client,
          data={"fields": sorted(name for name in fields if name != "archived_at")})
    return client
