import re

import pytest
from django.core import mail

from tenants.models import Agent, Invitation, Membership, Role
from tenants.scoping import tenant_scope
from tests.factories import PASSWORD


@pytest.mark.django_db
def test_login_lands_on_the_organization_home(client, owner, org):
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == "/o/acme/"
    page = response.content.decode()
    assert "<h1>Acme</h1>" in page
    assert "Alice Owner" in page


@pytest.mark.django_db
def test_wrong_password_says_so(client, owner):
    response = client.post("/accounts/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert "didn't match" in response.content.decode()


@pytest.mark.django_db
def test_logout(owner_client, org):
    response = owner_client.post("/accounts/logout/")
    assert response.status_code == 302
    assert owner_client.get("/o/acme/").status_code == 302


@pytest.mark.django_db
def test_team_page_lists_members_and_agents(owner_client, org, agent, admin):
    page = owner_client.get("/o/acme/team/").content.decode()
    assert "Dana Agent" in page
    assert "Bob Admin" in page
    assert "Send invitation" in page


@pytest.mark.django_db
def test_an_admin_creates_and_edits_an_ai_agent_from_the_page(admin_client_org, org):
    response = admin_client_org.post("/o/acme/agents/new/", {"name": "Night bot", "kind": "ai",
                                                              "assistant_id": "3f2b8c1e-5d4a-4f6b-9a7e-1c2d3e4f5a6b"})
    assert response.status_code == 302
    with tenant_scope(org):
        agent = Agent.objects.get(name="Night bot")
    assert agent.assistant_id == "3f2b8c1e-5d4a-4f6b-9a7e-1c2d3e4f5a6b"
    response = admin_client_org.post(f"/o/acme/agents/{agent.pk}/edit/", {"name": "Night bot 2", "kind": "ai",
                                                                        "assistant_id": "9d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"})
    assert response.status_code == 302
    with tenant_scope(org):
        agent.refresh_from_db()
    assert (agent.name, agent.assistant_id) == ("Night bot 2", "9d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6")
    page = admin_client_org.get("/o/acme/team/").content.decode()
    assert "Night bot 2" in page


@pytest.mark.django_db
def test_an_invalid_agent_form_shows_the_error_and_saves_nothing(admin_client_org, org):
    response = admin_client_org.post("/o/acme/agents/new/", {"name": "Bot", "kind": "ai", "assistant_id": ""})
    assert response.status_code == 400
    assert "An AI agent needs its VAPI assistant id." in response.content.decode()
    with tenant_scope(org):
        assert not Agent.objects.exists()


@pytest.mark.django_db
def test_agents_cannot_manage_the_team(agent_client, org, admin):
    with tenant_scope(org):
        bob = Membership.objects.get(user=admin)
    response = agent_client.post(f"/o/acme/team/members/{bob.pk}/remove/")
    assert response.status_code == 403
    response = agent_client.post("/o/acme/agents/new/", {"name": "Bot", "kind": "ai", "assistant_id": "a"})
    assert response.status_code == 403
    with tenant_scope(org):
        assert Membership.objects.filter(user=admin).exists()
        assert not Agent.objects.exists()


@pytest.mark.django_db
def test_the_last_owner_cannot_be_removed_or_demoted(owner_client, org, owner):
    with tenant_scope(org):
        me = Membership.objects.get(user=owner)
    response = owner_client.post(f"/o/acme/team/members/{me.pk}/remove/", follow=True)
    assert "You cannot remove the last owner" in response.content.decode()
    response = owner_client.post(f"/o/acme/team/members/{me.pk}/role/", {"role": "agent"}, follow=True)
    assert "at least one owner" in response.content.decode()
    with tenant_scope(org):
        assert Membership.objects.get(user=owner).role == Role.OWNER


@pytest.mark.django_db
def test_change_a_members_role_and_remove_them(owner_client, org, admin, agent_user, agent):
    with tenant_scope(org):
        dana = Membership.objects.get(user=agent_user)
    owner_client.post(f"/o/acme/team/members/{dana.pk}/role/", {"role": "admin"})
    with tenant_scope(org):
        assert Membership.objects.get(pk=dana.pk).role == "admin"
    owner_client.post(f"/o/acme/team/members/{dana.pk}/remove/")
    with tenant_scope(org):
        assert not Membership.objects.filter(pk=dana.pk).exists()
        assert not Agent.objects.filter(user=agent_user).exists()


@pytest.mark.django_db
def test_invitation_by_email_one_time_link(owner_client, org, client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post("/o/acme/team/invitations/", {"email": "Erin@Example.com", "role": "agent"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["Erin@example.com"]
    link = re.search(r"http://\S+/invite/(\S+)/", mail.outbox[0].body)
    assert link, mail.outbox[0].body
    path = f"/invite/{link.group(1)}/"

    page = client.get(path)
    assert "Join Acme" in page.content.decode()
    response = client.post(path, {"full_name": "Erin Example", "password1": "a-long-new-passphrase-1",
                                  "password2": "a-long-new-passphrase-1"})
    assert response.status_code == 302
    assert response["Location"] == "/o/acme/"
    assert client.get("/o/acme/").status_code == 200  # logged in as Erin
    with tenant_scope(org):
        membership = Membership.objects.select_related("user").get(user__email__iexact="erin@example.com")
        assert membership.role == "agent"
        assert Agent.objects.filter(user=membership.user, kind="human").exists()
        assert Invitation.objects.get().token is None  # the raw token is gone once used

    # The link works once.
    again = client.get(path)
    assert again.status_code == 404
    assert "not valid any more" in again.content.decode()


@pytest.mark.django_db
def test_inviting_an_existing_member_is_refused(owner_client, org, admin):
    response = owner_client.post("/o/acme/team/invitations/", {"email": admin.email, "role": "agent"}, follow=True)
    assert "already a member" in response.content.decode()
    with tenant_scope(org):
        assert not Invitation.objects.exists()


@pytest.mark.django_db
def test_xss_in_names_is_rendered_as_text(owner_client, org):
    owner_client.post("/o/acme/agents/new/", {"name": "<script>alert(1)</script>", "kind": "ai",
                                              "assistant_id": "3f2b8c1e-5d4a-4f6b-9a7e-1c2d3e4f5a6b"})
    page = owner_client.get("/o/acme/team/").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.django_db
def test_the_switcher_and_the_home_page_list_the_persons_own_organizations(client, owner, org, other_org):
    from tests import factories

    zeta = factories.make_organization("Zeta Shop", slug="zeta")
    factories.make_organization("Initech", slug="initech")  # not theirs
    factories.add_member(zeta, owner, Role.AGENT)
    client.force_login(owner)
    page = client.get("/o/acme/").content.decode()
    switcher = page.split('<details class="switcher">', 1)[1].split("</details>", 1)[0]
    assert re.findall(r'<a href="([^"]+)">([^<]+)</a>', switcher) == [("/o/acme/", "Acme"), ("/o/zeta/", "Zeta Shop")]
    home = client.get("/").content.decode().split('<main id="main">', 1)[1]
    assert re.findall(r'<li><a href="([^"]+)">([^<]+)</a></li>', home) == [("/o/acme/", "Acme"),
                                                                           ("/o/zeta/", "Zeta Shop")]
