"""`manager_required`: the one guard of the pages only owners and admins may use. Which page refuses
whom is the role matrix's business (tests/security/test_role_matrix.py); here, what a refused person
sees, that a refusal changes nothing, and the guard of some methods only."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.test import RequestFactory

from messaging.models import CannedReply
from tenants.models import Invitation
from tenants.permissions import MANAGERS_ONLY, manager_required
from tenants.scoping import tenant_scope


@pytest.mark.django_db
def test_an_agent_is_refused_a_managers_page_with_the_reason_and_nothing_changes(agent_client, org):
    response = agent_client.post("/o/acme/team/invitations/", {"email": "erin@example.com", "role": "agent"})
    assert response.status_code == 403
    page = response.content.decode()
    assert "<h1>Not allowed</h1>" in page and MANAGERS_ONLY in page
    with tenant_scope(org):
        assert not Invitation.objects.exists()


@pytest.mark.django_db
def test_a_wrong_method_is_a_405_before_anyone_is_refused(agent_client, org):
    assert agent_client.get("/o/acme/team/invitations/").status_code == 405
    assert agent_client.get("/o/acme/numbers/accounts/connect/twilio/").status_code == 405


@pytest.mark.django_db
def test_every_member_reads_the_canned_replies_and_only_managers_add_to_them(agent_client, admin_client_org,
                                                                            org, owner):
    with tenant_scope(org):
        CannedReply.objects.create(organization=org, shortcut="hours", title="Opening hours", body="9 to 5")
    listed = agent_client.get("/o/acme/canned-replies/")
    assert listed.status_code == 200 and "/hours" in listed.content.decode()

    refused = agent_client.post("/o/acme/canned-replies/", {"shortcut": "bye", "title": "Bye", "body": "Bye!"})
    assert refused.status_code == 403 and MANAGERS_ONLY in refused.content.decode()
    added = admin_client_org.post("/o/acme/canned-replies/", {"shortcut": "bye", "title": "Bye", "body": "Bye!"})
    assert added.status_code == 302
    with tenant_scope(org):
        assert list(CannedReply.objects.values_list("shortcut", flat=True)) == ["bye", "hours"]


def _as(role: str | None, method: str):
    request = getattr(RequestFactory(), method.lower())("/o/acme/somewhere/")
    request.membership = None if role is None else SimpleNamespace(can_manage=role in ("owner", "admin"))
    return request


def _view(request):
    return HttpResponse("done")


@pytest.mark.parametrize("role", ["agent", None])
def test_the_guard_refuses_all_but_managers_on_every_method(role):
    guarded = manager_required(_view)
    for method in ("GET", "POST"):
        with pytest.raises(PermissionDenied, match=MANAGERS_ONLY):
            guarded(_as(role, method))
    assert guarded(_as("admin", "POST")).content == b"done"
    assert guarded.__name__ == "_view"


def test_the_guard_of_some_methods_leaves_the_others_to_every_member():
    guarded = manager_required(methods=["post"])(_view)
    assert guarded(_as("agent", "GET")).content == b"done"
    assert guarded(_as(None, "GET")).content == b"done"  # membership is the middleware's check, not this one's
    with pytest.raises(PermissionDenied, match=MANAGERS_ONLY):
        guarded(_as("agent", "POST"))
    assert guarded(_as("owner", "POST")).content == b"done"
