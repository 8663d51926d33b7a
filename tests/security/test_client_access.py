"""A member limited to some clients, and an agent who sees only their own, walk every route.

Acme has two clients. "Hidden Client Co" has one row of every tenant model (tests.factories.build_world)
with names no other row carries; "Visible Client Co" has a number, a customer, a conversation, a call
and an order of its own, plus a customer shared with the hidden client. Yvonne, an agent limited to the
visible client (seed 001: "users can only access numbers for clients they have permission to view"),
asks every route of the project:

- with the ids of the visible client's objects (and of the open ones: members, jobs, ...), every
  page, list, search, export, live update and API answer she gets holds none of the hidden names;
- with the ids of the hidden client's objects, every route answers 403, 404 or 405 to every method
  and nothing changes.

Routes come from the URL configuration, so a route added later is walked without editing this file:
one that leaks the hidden client's rows fails here by itself. The same walk runs for an agent of an
organization whose agents see only their own conversations (tenants.access).
"""

from __future__ import annotations

import re

import pytest
from django.test import Client as HttpClient
from django.utils import timezone

from crm.models import Contact, Order
from messaging.models import Conversation, Message
from telephony.models import Call, PhoneNumber
from tenants import services as tenant_services
from tenants.access import OPEN, RULES
from tenants.models import Agent, AgentKind, AgentVisibility, Client, Role
from tenants.scoping import tenant_scope
from tests import factories
from tests.routes import org_routes
from tests.security.conftest import snapshot, tenant_models

METHODS = ["get", "post", "put", "patch", "delete"]
KWARG = re.compile(r"<(?:(\w+):)?(\w+)>")
QUERIES = ["", "?view=all", "?view=all&q=Hidden", "?q=Hidden", "?search=Hidden", "?q=hidden-message",
           "?search=5550", "?status=pending", "?archived=1", "?since=2000-01-01T00:00:00Z"]
# The kinds of object a limited member must not reach (a route naming one of them by id).
RESTRICTED_KINDS = {"client", "phonenumber", "provideraccount", "whatsappsender", "conversation", "message",
                    "call", "contact", "duplicate", "order", "contactimport", "agent"}


def _hide(org, world: dict) -> dict[str, object]:
    """Give the hidden client's rows names found nowhere else; the strings no answer may contain."""
    with tenant_scope(org):
        Client.objects.filter(pk=world["client"].pk).update(name="Hidden Client Co")
        Agent.objects.filter(pk=world["agent"].pk).update(name="Hidden Agent Hank")
        PhoneNumber.objects.filter(pk=world["phonenumber"].pk).update(client=world["client"],
                                                                      friendly_name="Hidden Line Hotel")
        Contact.objects.filter(pk=world["contact"].pk).update(name="Hidden Harriet", labels=["hidden-contact-label-yak"])
        Contact.objects.filter(pk=world["duplicate"].pk).update(name="Hidden Duplicate Dora")
        Message.objects.filter(pk=world["message"].pk).update(body="hidden-message-body")
        Conversation.objects.filter(pk=world["conversation"].pk).update(last_message_preview="hidden-message-body",
                                                                        labels=["hidden-label-zebra"])
        Order.objects.filter(pk=world["order"].pk).update(notes="hidden-order-notes")
        Call.objects.filter(pk=world["call"].pk).update(notes="hidden-call-notes")
        contact, number = Contact.objects.get(pk=world["contact"].pk), PhoneNumber.objects.get(pk=world["phonenumber"].pk)
    return {
        "client": "Hidden Client Co", "agent": "Hidden Agent Hank", "number name": "Hidden Line Hotel",
        "customer": "Hidden Harriet", "duplicate": "Hidden Duplicate Dora", "message": "hidden-message-body",
        "order notes": "hidden-order-notes", "call notes": "hidden-call-notes", "label": "hidden-label-zebra",
        "contact label": "hidden-contact-label-yak",
        "customer's number": contact.phone_number, "hidden number": number.phone_number,
        "shared customer's hidden message": "hidden-shared-message",
    }


def _visible_world(org, world: dict, user) -> dict:
    """The visible client's rows, and a customer of both clients."""
    with tenant_scope(org):
        client = Client.objects.create(organization=org, name="Visible Client Co")
        agent = Agent.objects.create(organization=org, user=user, name="Yvonne Visible", kind=AgentKind.HUMAN,
                                     client=client)
        number = PhoneNumber.objects.create(
            organization=org, client=client, provider_account=world["provideraccount"], provider="twilio",
            phone_number=factories.next_test_number(), provider_sid="PNvisible" + org.pk.hex[:20], agent=agent,
            friendly_name="Visible Line", capabilities={"voice": True, "sms": True, "mms": True, "fax": False})
        contact = Contact.objects.create(organization=org, phone_number=factories.next_test_number(),
                                         name="Violet Visible")
        conversation = Conversation.objects.create(organization=org, contact=contact, channel="sms",
                                                   phone_number=number, assignee=agent,
                                                   last_message_preview="visible hello")
        message = Message.objects.create(organization=org, conversation=conversation, direction="inbound",
                                         channel="sms", body="visible hello", status="received",
                                         provider_sid="SMvisible" + org.pk.hex[:20])
        call = Call.objects.create(organization=org, phone_number=number, agent=agent, contact=contact,
                                   direction="inbound", from_number=contact.phone_number,
                                   to_number=number.phone_number, provider_sid="CAvisible" + org.pk.hex[:20],
                                   status="completed")
        order = Order.objects.create(organization=org, contact=contact, number=2001, currency="USD")
        # Sam writes to both clients: he is one contact; only the visible client's conversation shows.
        shared = Contact.objects.create(organization=org, phone_number=factories.next_test_number(),
                                        name="Sam Shared")
        Conversation.objects.create(organization=org, contact=shared, channel="sms", phone_number=number,
                                    last_message_preview="visible shared")
        hidden_side = Conversation.objects.create(organization=org, contact=shared, channel="sms",
                                                  phone_number=world["phonenumber"],
                                                  last_message_preview="hidden-shared-message")
        Message.objects.create(organization=org, conversation=hidden_side, direction="inbound", channel="sms",
                               body="hidden-shared-message", status="received",
                               provider_sid="SMshared" + org.pk.hex[:20])
    return {"client": client, "agent": agent, "phonenumber": number, "contact": contact, "duplicate": shared,
            "conversation": conversation, "message": message, "call": call, "order": order}


@pytest.fixture
def setting(org, owner):
    hidden_world = factories.build_world(org, owner)
    markers = _hide(org, hidden_world)
    user = factories.make_user("yvonne", first_name="Yvonne", last_name="Limited")
    membership = factories.add_member(org, user, Role.AGENT)
    visible = _visible_world(org, hidden_world, user)
    with tenant_scope(org):
        tenant_services.membership_set_clients(organization=org, actor=owner, membership=membership, limited=True,
                                               clients=[visible["client"]])
    http = HttpClient()
    http.force_login(user)
    return hidden_world, visible, markers, http


def _ids(route, world: dict, fallback: dict) -> dict:
    ids = {}
    for conv, name in KWARG.findall(route.route):
        if name == "org_slug":
            continue
        key = name.removesuffix("_id").replace("_", "")
        source = world if key in world else fallback
        if conv == "int" and name == "number":
            ids[name] = source["order"].number
        elif conv == "int":
            ids[name] = 0
        elif key in source:
            ids[name] = source[key].pk
    return ids


def _leaks(body: bytes, markers: dict) -> list[str]:
    text = body.decode("utf-8", "replace")
    return [what for what, marker in markers.items() if marker in text]


@pytest.mark.django_db
@pytest.mark.parametrize("route", org_routes(), ids=lambda r: r.route)
def test_a_limited_member_sees_nothing_of_other_clients_on_any_route(route, org, setting):
    hidden_world, visible, markers, http = setting
    path = route.path(org.slug, _ids(route, visible, hidden_world))
    for query in QUERIES:
        response = http.get(path + query)
        if response.streaming:
            body = b"".join(response.streaming_content)
        else:
            body = response.content
        assert response.status_code < 500, f"GET {path}{query}: {response.status_code}"
        assert _leaks(body, markers) == [], f"GET {path}{query} shows the hidden client's rows"


def _restricted_routes():
    routes = []
    for route in org_routes():
        kinds = {name.removesuffix("_id").replace("_", "") for _, name in KWARG.findall(route.route)}
        if kinds & RESTRICTED_KINDS or "<int:number>" in route.route:
            routes.append(route)
    return routes


@pytest.mark.django_db
@pytest.mark.parametrize("route", _restricted_routes(), ids=lambda r: r.route)
def test_a_limited_member_cannot_reach_other_clients_objects_by_id(route, org, setting):
    hidden_world, visible, markers, http = setting
    path = route.path(org.slug, _ids(route, hidden_world, hidden_world))
    before = snapshot(org)
    statuses = {}
    for method in METHODS:
        response = getattr(http, method)(path, {"name": "pwned", "body": "pwned", "notes": "pwned"},
                                         content_type="application/json")
        statuses[method] = response.status_code
        assert _leaks(response.content if not response.streaming else b"", markers) == [], f"{method} {path}"
    assert set(statuses.values()) <= {403, 404, 405}, f"{route.route}: {statuses}"
    assert snapshot(org) == before


def test_every_tenant_model_has_a_rule_or_is_open_on_purpose():
    labels = {model._meta.label for model in tenant_models()}
    assert labels - set(RULES) - set(OPEN) == set(), "add a rule to tenants.access.RULES, or list it in OPEN"
    assert set(RULES) & set(OPEN) == set()
    assert set(RULES) | set(OPEN) <= labels


# The agents' visibility setting -------------------------------------------------------------------------


@pytest.fixture
def own_only(org, owner):
    """Acme keeps agents' customers apart; Olive answers one number and has one conversation assigned
    on a number she does not answer; the hidden world's rows are someone else's."""
    hidden_world = factories.build_world(org, owner)
    markers = _hide(org, hidden_world)
    markers.pop("client")  # clients are not limited by this setting
    markers.pop("number name")  # nor numbers: the dialer and the numbers page list them all
    markers.pop("hidden number")
    markers.pop("agent")  # nor the team
    user = factories.make_user("olive", first_name="Olive", last_name="Own")
    factories.add_member(org, user, Role.AGENT)
    visible = _visible_world(org, hidden_world, user)
    with tenant_scope(org):
        tenant_services.organization_set_agent_visibility(organization=org, actor=owner,
                                                          visibility=AgentVisibility.OWN)
        # Assigned to her on a number she does not answer: hers too.
        other_number = hidden_world["phonenumber"]
        assigned_contact = Contact.objects.create(organization=org, phone_number=factories.next_test_number(),
                                                  name="Alma Assigned")
        Conversation.objects.create(organization=org, contact=assigned_contact, channel="sms",
                                    phone_number=other_number, assignee=visible["agent"],
                                    last_message_at=timezone.now(), last_message_preview="assigned to Olive")
        # Hank's customer Harriet: assigned to Hank on Hank's number (the world's conversation).
    http = HttpClient()
    http.force_login(user)
    return hidden_world, visible, markers, http


@pytest.mark.django_db
@pytest.mark.parametrize("route", org_routes(), ids=lambda r: r.route)
def test_an_agent_who_sees_only_their_own_sees_no_one_elses_conversations(route, org, own_only):
    hidden_world, visible, markers, http = own_only
    path = route.path(org.slug, _ids(route, visible, hidden_world))
    for query in QUERIES:
        response = http.get(path + query)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert response.status_code < 500, f"GET {path}{query}: {response.status_code}"
        assert _leaks(body, markers) == [], f"GET {path}{query} shows another agent's rows"
