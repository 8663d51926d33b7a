"""What a member may see inside their organization: per-client access and the agents' visibility.

The tenant scope (tenants.scoping) carries an ``Access`` beside the organization, and every tenant
model's default manager (``TenantManager``) applies it: a member limited to some clients gets querysets
holding only those clients' rows, an agent of an organization that keeps agents' customers apart only
the conversations of their own numbers and those assigned to them. Every selector, page, API answer,
export and live update reads through these managers, so this module is the one place the rules live.

The rules, per model (``RULES``):

- a limit to clients C: clients in C; numbers, provider accounts and WhatsApp senders of a client in
  C (a row of no client belongs to the organization itself, and is not shown); conversations on those
  numbers and senders; calls on those numbers;
- own-only visibility for agent A: conversations on a number A answers or assigned to A; calls A
  took, was transferred, or that rang a number A answers;
- a limit to clients also hides the agents of other clients (the organization's own stay visible);
- for both: messages of a visible conversation; contacts with a visible conversation or call; orders
  (their items, status changes and merges) of a visible contact.

A tenant model that holds customer data but has no rule here is shown to a restricted member as
nothing (fail closed): ``OPEN`` lists, with the reason, the models every member sees whole, and a
test keeps every tenant model in one of the two.

Code that must see past a member's limit inside their organization (finding the contact of a number
they are writing to, say) enters ``everything_in(organization)``; tests/security/test_bypass_uses.py
lists each use.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

from django.apps import apps
from django.db import models
from django.db.models import Q, QuerySet
from django_scopes import scope
from django_scopes.manager import DisabledQuerySet
from django_scopes.state import get_scope


@dataclass(frozen=True)
class Access:
    """``clients``: None for every client's rows (and the organization's own), else the ids of the
    only clients whose rows are visible. ``own_agent``: with ``own_only``, the agent whose own
    conversations and calls are the only ones visible (None: the member answers as no agent, and
    sees none)."""

    clients: frozenset[uuid.UUID] | None = None
    own_only: bool = False
    own_agent: uuid.UUID | None = None
    user: uuid.UUID | None = None  # the member's own user (their agent is always visible to them)

    @property
    def everything(self) -> bool:
        return self.clients is None and not self.own_only


EVERYTHING = Access()

# The scope dimension (django-scopes) the access travels in.
DIMENSION = "access"


def current_access() -> Access | None:
    """The access of the active tenant scope; None outside one (or with scopes disabled)."""
    state = get_scope()
    if not state.get("_enabled", True):
        return None
    return state.get(DIMENSION)


@contextmanager
def seeing(access: Access):
    """Within the active tenant scope, see what ``access`` allows until exit (the middleware, once it
    knows who is asking)."""
    if "organization" not in get_scope():
        raise ValueError("seeing() narrows an active tenant scope only")
    with scope(**{DIMENSION: access}):
        yield


@contextmanager
def everything_in(organization):
    """See every row of the active organization, past the member's limit, until exit. Only for
    lookups that must find a row whatever its client (listed in tests/security/test_bypass_uses.py)."""
    state = get_scope()
    if state.get("organization") != organization.pk:
        raise ValueError("everything_in() widens the active organization's scope only")
    with scope(**{DIMENSION: EVERYTHING}):
        yield


# The rules -----------------------------------------------------------------------------------------


def _visible(label: str) -> QuerySet:
    """The visible rows of another model (its own rule applies): a subquery for a rule."""
    return apps.get_model(label).objects.all()


def _nothing(qs: QuerySet, access: Access) -> QuerySet:
    return qs.none()


def _of_clients(field: str) -> Callable[[QuerySet, Access], QuerySet]:
    def rule(qs: QuerySet, access: Access) -> QuerySet:
        if access.clients is not None:
            qs = qs.filter(**{f"{field}__in": access.clients})
        return qs
    return rule


def _conversations(qs: QuerySet, access: Access) -> QuerySet:
    if access.clients is not None:
        qs = qs.filter(Q(phone_number__in=_visible("telephony.PhoneNumber").values("pk"))
                       | Q(whatsapp_sender__in=_visible("messaging.WhatsAppSender").values("pk")))
    if access.own_only:
        if access.own_agent is None:
            return qs.none()
        numbers = apps.get_model("telephony.PhoneNumber").objects.filter(agent_id=access.own_agent)
        qs = qs.filter(Q(assignee_id=access.own_agent) | Q(phone_number__in=numbers.values("pk")))
    return qs


def _calls(qs: QuerySet, access: Access) -> QuerySet:
    if access.clients is not None:
        qs = qs.filter(phone_number__in=_visible("telephony.PhoneNumber").values("pk"))
    if access.own_only:
        if access.own_agent is None:
            return qs.none()
        agent = access.own_agent
        numbers = apps.get_model("telephony.PhoneNumber").objects.filter(agent_id=agent)
        qs = qs.filter(Q(agent_id=agent) | Q(transfer_target_id=agent) | Q(transferred_to_id=agent)
                       | Q(phone_number__in=numbers.values("pk")))
    return qs


def _messages(qs: QuerySet, access: Access) -> QuerySet:
    return qs.filter(conversation__in=_visible("messaging.Conversation").values("pk"))


def _contacts(qs: QuerySet, access: Access) -> QuerySet:
    return qs.filter(Q(pk__in=_visible("messaging.Conversation").values("contact_id"))
                     | Q(pk__in=_visible("telephony.Call").filter(contact__isnull=False).values("contact_id")))


def _of_visible(field: str, label: str) -> Callable[[QuerySet, Access], QuerySet]:
    def rule(qs: QuerySet, access: Access) -> QuerySet:
        return qs.filter(**{f"{field}__in": _visible(label).values("pk")})
    return rule


def _inbound_events(qs: QuerySet, access: Access) -> QuerySet:
    if access.own_only:
        return qs.none()
    return qs.filter(phone_number__in=_visible("telephony.PhoneNumber").values("pk"))


def _agents(qs: QuerySet, access: Access) -> QuerySet:
    if access.clients is not None:  # the organization's own agents, and those of the member's clients
        qs = qs.filter(Q(client__isnull=True) | Q(client__in=access.clients) | Q(user_id=access.user))
    return qs


RULES: dict[str, Callable[[QuerySet, Access], QuerySet]] = {
    "tenants.Client": _of_clients("pk"),
    "tenants.Agent": _agents,
    "telephony.PhoneNumber": _of_clients("client_id"),
    "telephony.ProviderAccount": _of_clients("client_id"),
    "messaging.WhatsAppSender": _of_clients("client_id"),
    "messaging.Conversation": _conversations,
    "messaging.Message": _messages,
    "telephony.Call": _calls,
    "crm.Contact": _contacts,
    "crm.ContactMerge": _of_visible("contact", "crm.Contact"),
    "crm.Order": _of_visible("contact", "crm.Contact"),
    "crm.OrderItem": _of_visible("order", "crm.Order"),
    "crm.OrderStatusChange": _of_visible("order", "crm.Order"),
    "messaging.InboundEvent": _inbound_events,
    # A CSV of customers someone uploaded: rows of any client, or none; the importer is unrestricted.
    "crm.ContactImport": _nothing,
    "crm.ContactLabelUse": _nothing,
    # Labels of every conversation, visible or not: a restricted member's label filter lists the
    # labels of the conversations they see instead (messaging.selectors.inbox_labels).
    "messaging.LabelUse": _nothing,
}

OPEN = {
    # model: why every member of the organization sees it whole
    "tenants.Membership": "the team: who works here",
    "tenants.ClientAccess": "which member sees which clients (shown to managers)",
    "tenants.Invitation": "managers' pages only",
    "tenants.Job": "a job names what it did, not customer data; managers start them",
    "tenants.AuditEvent": "read through the history of an object the member can see",
    "messaging.CannedReply": "the team's shared replies",
    "messaging.WhatsAppTemplate": "the approved wording of messages, not customer data",
    "messaging.InboundDrain": "a counter of work to do",
    "telephony.VoicePolicy": "the organization's calling rules",
    "telephony.CallDrain": "a counter of work to do",
    "crm.OrderCounter": "the organization's last order number",
}


def restrict(qs: QuerySet, access: Access) -> QuerySet:
    if access.everything:
        return qs
    label = qs.model._meta.label
    rule = RULES.get(label)
    if rule is not None:
        return rule(qs, access)
    if label in OPEN:
        return qs
    return qs.none()  # an unclassified model shows a restricted member nothing


def TenantManager(_manager_class=models.Manager):  # noqa: N802 - a class factory, like django-scopes'
    """The default manager of every tenant model: the organization of the active scope (django-scopes,
    refusing to run without one) and, inside it, the access of the member asking."""

    class Manager(_manager_class):
        def get_queryset(self):
            state = get_scope()
            if not state.get("_enabled", True):
                return super().get_queryset()
            if "organization" not in state or DIMENSION not in state:
                missing = {"organization", DIMENSION} - set(state)
                return DisabledQuerySet(self.model, using=self._db, missing_scopes=missing)
            # A scope of no organization (never entered by tenant_scope) matches no row.
            qs = super().get_queryset().filter(organization=state["organization"])
            return restrict(qs, state[DIMENSION])

        def all(self):
            qs = super().all()
            if isinstance(qs, DisabledQuerySet):
                qs = qs.all()  # raises ScopeError
            return qs

    return Manager()
