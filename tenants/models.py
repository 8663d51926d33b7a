"""Organizations (the tenants), the people in them, the clients they manage and their agents.

Seed mapping (docs/architecture.md has the whole table): seed 000's workspace and seed 001/004's
organization are Organization; seed 000's agent, 001's agent and 003's agent are Agent (human or AI),
seed 003's per-agent dynamic tables become ordinary tenant-owned rows keyed by organization.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from fernet_fields import EncryptedTextField

from core.ids import uuid7

from .access import TenantManager

RESERVED_SLUGS = frozenset({"admin", "api", "schema", "docs", "static", "media", "webhooks", "o", "new"})
slug_validator = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$",
    "Use 1 to 50 lowercase letters, digits and hyphens, starting and ending with a letter or digit.",
)


class User(AbstractUser):
    """A person who can log in. Staff users are the platform's super admins."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        constraints = [
            # Invitations and logins find people by email, so one address is one person.
            models.UniqueConstraint(
                models.functions.Lower("email"), condition=~Q(email=""), name="user_email_unique_ci"
            )
        ]

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.email or self.username


class AgentVisibility(models.TextChoices):
    ALL = "all", "Agents see every conversation"
    OWN = "own", "Agents see only their own numbers' conversations and those assigned to them"


class Organization(models.Model):
    """A tenant: seed 000's workspace, seeds 001 and 004's organization."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=50, unique=True, validators=[slug_validator])
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Seed 000's workspace.channel_automation_api_key: the key the organization's channel-automation
    # integration presents. Encrypted at rest, never shown back.
    channel_automation_api_key = EncryptedTextField(null=True, blank=True)
    # What the organization's orders are priced in (ISO 4217); an order keeps the currency it was made in.
    currency = models.CharField(max_length=3, default="USD", validators=[RegexValidator(
        r"^[A-Z]{3}$", "A currency is three capital letters (ISO 4217), e.g. USD or EUR.")])
    # Who of the agents sees which conversations (tenants.access): every conversation, or only those on
    # the numbers they answer and those assigned to them (seed 003 kept each agent's customers apart).
    agent_visibility = models.CharField(max_length=10, choices=AgentVisibility.choices, default=AgentVisibility.ALL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class WithoutSearchVectorManager(models.Manager):
    """Leaves a model's generated `search_vector` (a tsvector kept for search indexes) in the
    database: nothing reads it in Python, and loading it is a fifth of the cost of a row."""

    def get_queryset(self):
        return super().get_queryset().defer("search_vector")


class TenantModel(models.Model):
    """Base of every tenant-owned model.

    ``organization`` is on every row, even where a parent implies it: scoping, row-level security
    and indexes key on it. The default manager refuses to run outside an active tenant scope.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")

    objects = TenantManager()

    class Meta:
        abstract = True


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    AGENT = "agent", "Agent"


MANAGER_ROLES = frozenset({Role.OWNER, Role.ADMIN})


class Membership(TenantModel):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.AGENT)
    # Seed 001: "users can only access numbers for clients they have permission to view". An agent may
    # be limited to the clients of their ClientAccess rows (none: nothing of any client); owners and
    # admins run the whole organization and are never limited (tenants.services.membership_set_clients).
    limited_to_clients = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="membership_one_per_user_and_org")
        ]
        # The middleware's membership check and the organization switcher: user_id = ?
        indexes = [models.Index(fields=["user"], name="membership_user_idx")]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization_id} ({self.role})"

    @property
    def can_manage(self) -> bool:
        return self.role in MANAGER_ROLES


class Client(TenantModel):
    """An account the organization manages for a customer of theirs (seed 001's clients)."""

    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    notes = models.TextField(blank=True)
    # Archived: kept with its numbers, agents and history, no longer offered for new assignments.
    archived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="client_name_unique_per_org")]

    def __str__(self) -> str:
        return self.name


class ClientAccess(TenantModel):
    """One client a member limited to clients may see (Membership.limited_to_clients)."""

    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="client_access")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["membership", "client"], name="client_access_once")]

    def __str__(self) -> str:
        return f"{self.membership_id} sees {self.client_id}"


class AgentKind(models.TextChoices):
    HUMAN = "human", "Person"
    AI = "ai", "AI voice agent (VAPI)"


class Availability(models.TextChoices):
    AVAILABLE = "available", "Available"
    AWAY = "away", "Away"


class Agent(TenantModel):
    """Who answers a number: a person working in the browser, or an AI assistant on VAPI.

    Seeds 000 (agent: full_name, username), 001 (agents with platform details) and 003 (agents with a
    user and created_by; its per-agent dynamic tables are replaced by rows keyed on organization).
    """

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=AgentKind.choices, default=AgentKind.HUMAN)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="agents"
    )
    assistant_id = models.CharField("VAPI assistant id", max_length=100, blank=True)
    # A person's presence in the inbox (set from its top bar); AI agents are always available.
    availability = models.CharField(max_length=10, choices=Availability.choices, default=Availability.AVAILABLE)
    client = models.ForeignKey(Client, null=True, blank=True, on_delete=models.SET_NULL, related_name="agents")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="human", user__isnull=False, assistant_id=""))
                | (Q(kind="ai", user__isnull=True) & ~Q(assistant_id="")),
                name="agent_human_has_user_ai_has_assistant",
            ),
            # One person is one agent in an organization.
            models.UniqueConstraint(
                fields=["organization", "user"], condition=Q(user__isnull=False), name="agent_one_per_user_and_org"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Invitation(TenantModel):
    """A one-time link that lets a person join with a role. Looked up by the token's hash."""

    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.AGENT)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The raw token, encrypted, so the worker that mails the link never gets it as a task argument.
    # Cleared once the invitation is used or revoked.
    token = EncryptedTextField(null=True, blank=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Invitation for {self.email}"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Job(TenantModel):
    """A long background job with progress a page or API client can poll (imports, syncs)."""

    kind = models.CharField(max_length=40)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    total = models.PositiveIntegerField(null=True, blank=True)
    done = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)  # [{"item": "...", "error": "..."}]
    params = models.JSONField(default=dict, blank=True)
    cursor = models.TextField(blank=True, help_text="Where to resume (e.g. the next page URL)")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} ({self.status})"

    @property
    def percent(self) -> int:
        if not self.total:
            return 100 if self.status == JobStatus.DONE else 0
        return min(100, int(self.done * 100 / self.total))


class AuditEvent(TenantModel):
    """Who did what to which object, for history pages and the admin."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    verb = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64)
    target_id = models.UUIDField(null=True, blank=True)
    target_repr = models.CharField(max_length=200, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # History of one object: organization_id = ? and target_type = ? and target_id = ?
            # order by created_at desc
            models.Index(fields=["organization", "target_type", "target_id", "-created_at"], name="audit_target_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.verb} {self.target_type} {self.target_repr}"
