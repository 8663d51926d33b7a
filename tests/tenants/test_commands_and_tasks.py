import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.test import RequestFactory
from rest_framework.authtoken.models import Token

from telephony.models import Call
from tenants.models import Agent, Membership, Organization
from tenants.scoping import tenant_scope
from tenants.tasks import TenantMissing, invitation_send


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_its_logins_work():
    call_command("seed_demo")
    call_command("seed_demo")
    demo = Organization.objects.get(slug="demo")
    with tenant_scope(demo):
        roles = sorted(Membership.objects.values_list("user__username", "role"))
        agents = list(Agent.objects.values_list("name", "kind"))
        calls = sorted(Call.objects.values_list("contact__name", "direction", "status"))
    assert calls == [("Aisha Bello", "outbound", "no-answer"), ("Kenji Watanabe", "inbound", "no-answer"),
                     ("Maria Lopez", "inbound", "completed")]  # seeded once, not twice
    assert roles == [("agent", "agent"), ("owner", "owner")]
    assert agents == [("Adam Agent", "human")]
    login = RequestFactory().post("/accounts/login/")  # django-axes needs the request a login comes with
    assert authenticate(login, username="owner", password="demo-owner-pass") is not None
    assert authenticate(login, username="agent", password="demo-agent-pass") is not None
    assert authenticate(login, username="admin", password="demo-admin-pass").is_staff


@pytest.mark.django_db
def test_drf_create_token_works(owner):
    call_command("drf_create_token", "alice")
    assert Token.objects.filter(user=owner).exists()


@pytest.mark.django_db
def test_a_tenant_task_without_an_organization_fails_at_once():
    with pytest.raises(TenantMissing):
        invitation_send.apply(kwargs={"invitation_id": "x"}, throw=True)
    with pytest.raises(TenantMissing):
        invitation_send.apply(kwargs={"organization_id": "0190e2a0-0000-7000-8000-000000000000",
                                      "invitation_id": "x"}, throw=True)
