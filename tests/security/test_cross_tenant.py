"""Organization B attacks organization A through every route, by id and through request bodies.

Routes come from the URL configuration and request shapes from the OpenAPI schema, so routes and
endpoints added later are attacked without editing this file.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.routes import all_routes, org_routes
from tests.security.conftest import cross_tenant_references, snapshot

METHODS = ["get", "post", "put", "patch", "delete"]
ID_KWARG = re.compile(r"<uuid:(\w+)_id>")


def _model_key(kwarg: str) -> str:
    return kwarg.replace("_", "")


def routes_with_object_ids():
    return [r for r in org_routes() if ID_KWARG.search(r.route)]


def test_there_are_routes_with_object_ids_to_attack():
    assert routes_with_object_ids()


@pytest.mark.django_db
@pytest.mark.parametrize("route", routes_with_object_ids(), ids=lambda r: r.route)
def test_another_tenants_objects_are_404_by_id_and_stay_unchanged(route, org, other_org, victim, attacker_client):
    ids = {}
    for kwarg in ID_KWARG.findall(route.route):
        key = _model_key(kwarg)
        assert key in victim, f"{route.route}: add a {key} to tests.factories.build_world()"
        ids[f"{kwarg}_id"] = victim[key].pk
    before = snapshot(org)
    statuses = {}
    for method in METHODS:
        response = getattr(attacker_client, method)(
            route.path(other_org.slug, ids), {"name": "pwned", "role": "owner"}, content_type="application/json"
        )
        statuses[method] = response.status_code
    # 405 answers a method the route never takes, before any lookup: it reveals nothing.
    assert set(statuses.values()) <= {404, 405}, f"{route.route}: {statuses}"
    assert 404 in statuses.values(), f"{route.route}: {statuses}"
    assert snapshot(org) == before
    assert cross_tenant_references() == []


# Request bodies naming another tenant's objects -----------------------------------------------------

REFERENCE_FIELDS = {
    # body property -> the victim's object it names
    "organizationId": "organization", "organization": "organization",
    "userId": "user", "agentId": "agent", "clientId": "client", "membershipId": "membership",
    "phoneNumberId": "phonenumber", "fromNumberId": "phonenumber", "providerAccountId": "provideraccount",
    "contactId": "contact", "conversationId": "conversation", "assigneeId": "agent",
    "survivorId": "contact", "duplicateId": "duplicate",
}


def _schema(client) -> dict:
    return client.get("/api/schema/", HTTP_ACCEPT="application/json").json()


def _example(schema: dict, prop: dict):
    if "$ref" in prop:
        prop = schema["components"]["schemas"][prop["$ref"].rsplit("/", 1)[1]]
    if "allOf" in prop:
        return _example(schema, prop["allOf"][0])
    if "enum" in prop:
        return prop["enum"][0]
    kind = prop.get("type")
    if kind == "integer":
        return 1
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    if kind == "object":
        return {}
    if prop.get("format") == "uuid":
        return None
    if prop.get("format") == "email":
        return "someone@example.com"
    return "x-value"


def _body_operations(schema: dict):
    for path, item in schema["paths"].items():
        if not path.startswith("/api/{org_slug}/"):
            continue
        for method, operation in item.items():
            content = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if content:
                ref = content["schema"]["$ref"].rsplit("/", 1)[1]
                yield path, method, schema["components"]["schemas"][ref]


def _victim_value(key, victim, org, owner):
    if key == "organization":
        return str(org.pk)
    if key == "user":
        return str(owner.pk)
    obj = victim.get(key)
    return str(obj.pk) if obj is not None else None


@pytest.mark.django_db
def test_request_bodies_naming_another_tenants_objects_write_nothing(org, owner, other_org, victim, attacker_client,
                                                                     outsider):
    schema = _schema(attacker_client)
    attacked = 0
    for path, method, body_schema in _body_operations(schema):
        props = body_schema.get("properties", {})
        base = {name: _example(schema, prop) for name, prop in props.items() if name in body_schema.get("required", [])}
        targets = [name for name in list(props) + ["organizationId", "organization"] if name in REFERENCE_FIELDS]
        for field in targets:
            value = _victim_value(REFERENCE_FIELDS[field], victim, org, owner)
            if value is None:
                continue
            url = re.sub(r"\{org_slug\}", other_org.slug, path)
            url = re.sub(r"\{(\w+)_id\}", lambda m: _own_id(m.group(1), other_org), url)
            before_victim, before_own = snapshot(org), snapshot(other_org)
            response = getattr(attacker_client, method)(url, {**base, field: value}, content_type="application/json")
            attacked += 1
            assert snapshot(org) == before_victim, f"{method.upper()} {path} with {field} changed the victim"
            if field in ("organization", "organizationId"):
                # Not part of any input: ignored, and whatever was written stays in B.
                assert response.status_code < 500
            else:
                assert response.status_code in (400, 404), (
                    f"{method.upper()} {path} with another tenant's {field} answered {response.status_code}"
                )
                assert snapshot(other_org) == before_own, f"{method.upper()} {path} wrote something"
    assert attacked > 0
    assert cross_tenant_references() == []


def _own_id(kind: str, organization) -> str:
    from django.apps import apps

    from tenants.scoping import platform_scope

    key = kind.replace("_", "")
    with platform_scope():
        for model in apps.get_models():
            if model._meta.model_name == key:
                return str(model.objects.filter(organization=organization).values_list("pk", flat=True).first())
    raise AssertionError(f"no model for {kind}")


def test_no_serializer_has_a_writable_organization():
    import importlib
    import inspect

    from rest_framework import serializers

    offenders = []
    for app in ("tenants", "crm", "telephony", "messaging"):
        try:
            module = importlib.import_module(f"{app}.serializers")
        except ModuleNotFoundError:
            continue
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if not issubclass(cls, serializers.BaseSerializer) or cls.__module__ != module.__name__:
                continue
            try:
                fields = cls().fields
            except Exception as exc:  # a serializer that needs context: inspect declared fields only
                fields = getattr(cls, "_declared_fields", {})
                assert fields is not None, exc
            for field_name, field in fields.items():
                if "organization" in field_name.lower() and not field.read_only:
                    offenders.append(f"{module.__name__}.{name}.{field_name}")
    assert offenders == []


# Anonymous requests ------------------------------------------------------------------------------

PUBLIC_ROUTES = {
    "healthz",
    "accounts/login/",
    "accounts/logout/",
    # Password reset by email: a form, a notice, a one-use link from the email, a notice; limited
    # per address (tests/tenants/test_signin.py).
    "accounts/password-reset/",
    "accounts/password-reset/sent/",
    "accounts/reset/<uidb64>/<token>/",
    "accounts/reset/done/",
    "invite/<str:token>/",
    "api/schema/",
    "api/docs/",
    # Provider webhooks: no session, but nothing is stored unless the vendor's signature verifies
    # (tests/messaging/test_inbound.py and test_whatsapp_cloud.py).
    "webhooks/twilio/messages/",
    "webhooks/twilio/messages/status/",
    "webhooks/whatsapp/",
    # Vonage's texts and receipts: its signature with the account's signature secret
    # (tests/telephony/test_vonage.py); a GET is Vonage checking the address, answered with nothing.
    "webhooks/vonage/messages/",
    "webhooks/vonage/messages/status/",
    # Bandwidth's messaging application: the callback credentials we made for the account (HTTP Basic;
    # tests/telephony/test_bandwidth.py).
    "webhooks/bandwidth/messages/",
    "webhooks/bandwidth/messages/status/",
    # Voice: the same rule (tests/telephony/test_voice_routing.py); a greeting is fetched by Twilio
    # through a signed link naming one number's current greeting.
    "webhooks/twilio/voice/inbound/",
    "webhooks/twilio/voice/outbound/",
    "webhooks/twilio/voice/status/",
    "webhooks/twilio/voice/after-dial/",
    "webhooks/twilio/voice/voicemail/",
    "webhooks/twilio/voice/recording/",
    "webhooks/twilio/voice/greeting/<str:token>/",
    "webhooks/twilio/voice/conference/",
    "webhooks/twilio/voice/connect/",
    "webhooks/twilio/voice/hold-music/",
    # VAPI's reports: nothing is stored unless the header carries the secret of the organization
    # whose number the report names (tests/telephony/test_vapi_webhook.py).
    "webhooks/vapi/",
    # Outbound attachments, fetched by the provider: a signed, expiring token or 404
    # (tests/messaging/test_inbox.py).
    "attachments/<str:token>/",
    # The live inbox's quiet path: a signed, expiring token says only whether the organization's
    # change counter moved (tests/messaging/test_inbox.py).
    "live/<str:token>/",
    # The built-in simulated carrier (softphone.simulator): 404 unless SIMULATOR is on (never in
    # production unless asked for); its API answers only a simulated account's own credentials
    # (tests/softphone/test_simulator.py).
    "simulator/twilio/<path:path>",
    "simulator/vapi/<path:path>",
    "simulator/whatsapp/<path:path>",
    "simulator/vonage/<path:path>",
    "simulator/bandwidth/<path:path>",
    # The browser's simulated device: the access token of a simulated Twilio account's API key is the
    # credential, checked as Twilio checks it (tests/softphone/test_simulator_calls.py).
    "simulator/voice/device/",
    "simulator/voice/connect/",
    "simulator/voice/calls/<str:sid>/<str:action>/",
}


def _non_public_routes():
    return [r for r in all_routes() if r.route not in PUBLIC_ROUTES and not r.route.startswith("admin/")]


@pytest.mark.django_db
@pytest.mark.parametrize("route", _non_public_routes(), ids=lambda r: r.route)
def test_anonymous_requests_to_non_public_routes_are_refused(route, org):
    client = Client()
    for method in ("get", "post"):
        response = getattr(client, method)(route.path(org.slug))
        if route.route.startswith("api/"):
            assert response.status_code in (401, 403), f"{method} {route.route}: {response.status_code}"
        else:
            assert response.status_code == 302, f"{method} {route.route}: {response.status_code}"
            assert response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_the_admin_sends_anonymous_people_to_its_login(org):
    response = Client().get("/admin/tenants/agent/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.django_db
def test_the_public_routes_are_exactly_these():
    routes = {r.route for r in all_routes() if not r.route.startswith("admin/")}
    assert PUBLIC_ROUTES <= routes
