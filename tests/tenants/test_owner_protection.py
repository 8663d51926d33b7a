"""Who may make, invite, demote or remove an owner, and why an organization never loses its last one,
even when two requests race. The races run on two real PostgreSQL connections (two threads)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, connections, transaction
from django.utils import timezone

from tenants import services
from tenants.models import AuditEvent, Invitation, Membership, Role
from tenants.scoping import tenant_scope
from tests import factories


def _membership(org, user) -> Membership:
    with tenant_scope(org):
        return Membership.objects.select_related("user").get(user=user)


def _roles(org) -> dict[str, str]:
    with tenant_scope(org):
        return dict(Membership.objects.values_list("user__username", "role"))


# What an admin may not do -----------------------------------------------------------------------


@pytest.mark.django_db
def test_an_admin_cannot_make_anyone_owner_not_even_themselves(admin_client_org, org, admin, agent_user):
    for user in (agent_user, admin):
        response = admin_client_org.post(f"/o/acme/team/members/{_membership(org, user).pk}/role/", {"role": "owner"})
        assert response.status_code == 403
    assert _roles(org) == {"alice": "owner", "bob": "admin", "dana": "agent"}


@pytest.mark.django_db
def test_an_admin_cannot_invite_an_owner(admin_client_org, org):
    response = admin_client_org.post("/o/acme/team/invitations/", {"email": "eve@example.com", "role": "owner"})
    assert response.status_code == 403
    with tenant_scope(org):
        assert not Invitation.objects.exists()
    # An agent or admin invitation is theirs to send.
    response = admin_client_org.post("/o/acme/team/invitations/", {"email": "eve@example.com", "role": "admin"})
    assert response.status_code == 302
    with tenant_scope(org):
        assert list(Invitation.objects.values_list("email", "role")) == [("eve@example.com", "admin")]


@pytest.mark.django_db
def test_an_admin_cannot_demote_or_remove_an_owner(admin_client_org, org, owner, admin):
    second = factories.make_user("olga")
    factories.add_member(org, second, Role.OWNER)  # not the last owner: only the role protects them
    for user in (owner, second):
        membership = _membership(org, user)
        assert admin_client_org.post(f"/o/acme/team/members/{membership.pk}/role/",
                                     {"role": "agent"}).status_code == 403
        assert admin_client_org.post(f"/o/acme/team/members/{membership.pk}/remove/").status_code == 403
    assert _roles(org) == {"alice": "owner", "olga": "owner", "bob": "admin"}


@pytest.mark.django_db
def test_the_team_page_offers_the_owner_role_to_owners_only(admin_client_org, owner_client, org, owner, admin):
    owner_row = _membership(org, owner).pk
    page = admin_client_org.get("/o/acme/team/").content.decode()
    assert '<option value="owner"' not in page  # neither for a member's role nor for an invitation
    assert f"/team/members/{owner_row}/role/" not in page and f"/team/members/{owner_row}/remove/" not in page
    assert f"/team/members/{_membership(org, admin).pk}/role/" in page  # the admin still manages the others
    page = owner_client.get("/o/acme/team/").content.decode()
    assert page.count('<option value="owner"') == 3  # two members' roles and the invitation
    assert f"/team/members/{owner_row}/role/" in page


@pytest.mark.django_db
def test_an_owner_can_make_an_owner_and_then_step_down(owner_client, org, owner, admin):
    assert owner_client.post(f"/o/acme/team/members/{_membership(org, admin).pk}/role/",
                             {"role": "owner"}).status_code == 302
    assert owner_client.post(f"/o/acme/team/members/{_membership(org, owner).pk}/role/",
                             {"role": "admin"}).status_code == 302
    assert _roles(org) == {"alice": "admin", "bob": "owner"}


@pytest.mark.django_db
def test_the_last_owner_cannot_remove_or_demote_themselves_through_the_service(org, owner):
    me = _membership(org, owner)
    with tenant_scope(org):
        with pytest.raises(ValidationError, match="at least one owner"):
            services.membership_change_role(organization=org, actor=owner, membership=me, role=Role.ADMIN)
        with pytest.raises(ValidationError, match="last owner"):
            services.membership_remove(organization=org, actor=owner, membership=me)
    assert _roles(org) == {"alice": "owner"}


# Races ------------------------------------------------------------------------------------------


class _Worker(threading.Thread):
    """Runs ``fn`` on its own database connection; keeps what it returned or raised."""

    def __init__(self, fn, *, hold: threading.Event | None = None):
        super().__init__(daemon=True)
        self.fn, self.hold = fn, hold
        self.done_work = threading.Event()
        self.result = self.error = None
        self.waited_for_a_lock = False

    def run(self):
        try:
            with transaction.atomic():
                try:
                    self.result = self.fn()
                finally:
                    self.done_work.set()
                    if self.hold is not None:  # keep the transaction (and its row locks) open
                        self.hold.wait(timeout=30)
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            self.error = exc
        finally:
            self.done_work.set()
            connections.close_all()


def _blocked_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("select count(*) from pg_stat_activity "
                       "where datname = current_database() and wait_event_type = 'Lock'")
        return cursor.fetchone()[0] > 0


def race(first, second):
    """Run ``first`` and keep its transaction open; start ``second`` and let it run until it is done
    or waits for a row lock; then commit ``first``. The interleaving is the worst one for ``second``:
    every check it makes before it needs a lock sees the state from before ``first``."""
    release = threading.Event()
    one = _Worker(first, hold=release)
    one.start()
    assert one.done_work.wait(timeout=10)
    assert one.error is None, one.error
    two = _Worker(second)
    two.start()
    deadline = time.monotonic() + 10
    while two.is_alive() and not two.waited_for_a_lock:
        assert time.monotonic() < deadline, "the second request neither finished nor waited for a lock"
        two.waited_for_a_lock = _blocked_on_a_lock()
        time.sleep(0.01)
    release.set()
    one.join(timeout=10)
    two.join(timeout=10)
    assert not one.is_alive() and not two.is_alive()
    assert one.error is None, one.error
    return two


def _in(org, fn):
    def run():
        with tenant_scope(org):
            return fn()
    return run


@pytest.fixture
def two_owners(transactional_db):
    alice = factories.make_user("alice")
    org = factories.make_organization("Acme", owner=alice, slug="acme")
    olga = factories.make_user("olga")
    factories.add_member(org, olga, Role.OWNER)
    return org, _membership(org, alice), _membership(org, olga)


def _demote(org, actor_membership, target):
    return _in(org, lambda: services.membership_change_role(
        organization=org, actor=actor_membership.user, membership=target, role=Role.ADMIN))


def _remove(org, actor_membership, target):
    return _in(org, lambda: services.membership_remove(organization=org, actor=actor_membership.user,
                                                       membership=target))


@pytest.mark.parametrize("first_action, second_action", [
    (_demote, _demote), (_remove, _remove), (_demote, _remove), (_remove, _demote),
], ids=["demote-demote", "remove-remove", "demote-remove", "remove-demote"])
def test_two_owners_taking_each_other_out_at_the_same_moment_leave_one_owner(two_owners, first_action,
                                                                              second_action):
    org, alice, olga = two_owners
    second = race(first_action(org, alice, olga), second_action(org, olga, alice))
    assert isinstance(second.error, PermissionDenied | ValidationError), second.error
    with tenant_scope(org):
        owners = list(Membership.objects.filter(role=Role.OWNER).values_list("user__username", flat=True))
    assert owners == ["alice"]


@pytest.fixture
def pending_invitation(transactional_db):
    owner = factories.make_user("alice")
    org = factories.make_organization("Acme", owner=owner, slug="acme")
    with tenant_scope(org):
        invitation, token = services.invitation_create(organization=org, actor=owner, email="erin@example.com")
    return org, owner, invitation, token


def _accept(token):
    return lambda: services.invitation_accept(token=token, password="a-long-new-passphrase-1",
                                              full_name="Erin Example")


def _assert_not_claimed(org, invitation):
    with tenant_scope(org):
        invitation.refresh_from_db()
        assert invitation.accepted_at is None
        assert invitation.revoked_at is not None
        assert not Membership.objects.filter(user__email="erin@example.com").exists()


def test_an_invitation_revoked_while_its_link_is_being_accepted_is_not_claimed(pending_invitation):
    org, owner, invitation, token = pending_invitation
    revoke = _in(org, lambda: services.invitation_revoke(organization=org, actor=owner, invitation=invitation))
    second = race(revoke, _accept(token))
    assert isinstance(second.error, services.InvitationInvalid), second.error
    _assert_not_claimed(org, invitation)


def test_an_invitation_replaced_by_a_new_one_while_being_accepted_is_not_claimed(pending_invitation):
    org, owner, invitation, token = pending_invitation
    reinvite = _in(org, lambda: services.invitation_create(organization=org, actor=owner, email="erin@example.com",
                                                           role=Role.ADMIN))
    second = race(reinvite, _accept(token))
    assert isinstance(second.error, services.InvitationInvalid), second.error
    _assert_not_claimed(org, invitation)


def test_a_link_submitted_twice_at_the_same_moment_makes_one_account(pending_invitation):
    org, owner, invitation, token = pending_invitation
    second = race(_accept(token), _accept(token))
    assert isinstance(second.error, services.InvitationInvalid), second.error
    with tenant_scope(org):
        assert Membership.objects.filter(user__email="erin@example.com").count() == 1
        invitation.refresh_from_db()
        assert invitation.accepted_at is not None


def test_revoking_an_invitation_that_was_just_accepted_says_so_and_changes_nothing(pending_invitation):
    org, owner, invitation, token = pending_invitation
    second = race(_accept(token), _in(org, lambda: services.invitation_revoke(organization=org, actor=owner,
                                                                             invitation=invitation)))
    assert isinstance(second.error, ValidationError), second.error
    assert "already accepted" in " ".join(second.error.messages)
    with tenant_scope(org):
        invitation.refresh_from_db()
        assert invitation.accepted_at is not None and invitation.revoked_at is None
        assert Membership.objects.filter(user__email="erin@example.com").exists()
        assert not AuditEvent.objects.filter(verb="invitation.revoked").exists()


# Expired and revoked links -----------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("state", ["expired", "revoked"])
def test_an_expired_or_revoked_link_shows_why_and_claims_nothing(client, owner_client, org, owner, state):
    with tenant_scope(org):
        invitation, token = services.invitation_create(organization=org, actor=owner, email="erin@example.com")
        if state == "expired":
            Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
        else:
            services.invitation_revoke(organization=org, actor=owner, invitation=invitation)
    page = client.get(f"/invite/{token}/")
    assert page.status_code == 404
    assert "not valid any more" in page.content.decode()
    response = client.post(f"/invite/{token}/", {"full_name": "Erin", "password1": "a-long-new-passphrase-1",
                                                 "password2": "a-long-new-passphrase-1"})
    assert response.status_code == 404
    with tenant_scope(org):
        invitation.refresh_from_db()
        assert invitation.accepted_at is None
        assert not Membership.objects.filter(user__email="erin@example.com").exists()
    with pytest.raises(services.InvitationInvalid):
        services.invitation_accept(token=token, password="a-long-new-passphrase-1")


@pytest.mark.django_db
def test_revoking_an_accepted_invitation_from_the_team_page_says_it_was_accepted(owner_client, org, owner):
    with tenant_scope(org):
        invitation, token = services.invitation_create(organization=org, actor=owner, email="erin@example.com")
    services.invitation_accept(token=token, password="a-long-new-passphrase-1")
    response = owner_client.post(f"/o/acme/team/invitations/{invitation.pk}/revoke/", follow=True)
    page = response.content.decode()
    assert "already accepted" in page
    assert "revoked" not in page
    with tenant_scope(org):
        invitation.refresh_from_db()
        assert invitation.revoked_at is None
        assert not AuditEvent.objects.filter(verb="invitation.revoked").exists()


def test_the_race_helper_sees_a_lock_wait(transactional_db):
    """The race helper itself: a second transaction that needs the first one's row lock waits for it."""
    alice = factories.make_user("alice")
    org = factories.make_organization("Acme", owner=alice, slug="acme")

    def lock():
        return list(Membership.objects.select_for_update().all())

    second = race(_in(org, lock), _in(org, lock))
    assert second.waited_for_a_lock
    assert second.error is None and len(second.result) == 1


# The Django admin ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_staff_cannot_take_the_last_owner_away_in_the_django_admin(client, org, owner, agent_user, staff_user):
    client.force_login(staff_user)
    alice = _membership(org, owner)
    page = f"/admin/tenants/membership/{alice.pk}/"

    response = client.post(page + "change/", {"role": "admin"})
    assert response.status_code == 200
    assert "An organization needs at least one owner" in response.content.decode()
    assert client.get(page + "delete/").status_code == 403
    assert client.post(page + "delete/", {"post": "yes"}).status_code == 403
    assert client.post("/admin/tenants/membership/", {"action": "delete_selected",
                                                       "_selected_action": [alice.pk]}).status_code in (200, 302)
    assert _roles(org) == {"alice": "owner", "dana": "agent"}


@pytest.mark.django_db
def test_the_django_admin_changes_and_removes_members_through_the_team_rules(client, org, owner, agent,
                                                                            agent_user, staff_user):
    client.force_login(staff_user)
    dana = _membership(org, agent_user)
    page = f"/admin/tenants/membership/{dana.pk}/"

    assert client.post(page + "change/", {"role": "owner"}).status_code == 302
    # With two owners, one may step down here as on the team page; the change is audited.
    assert client.post(f"/admin/tenants/membership/{_membership(org, owner).pk}/change/",
                       {"role": "admin"}).status_code == 302
    assert _roles(org) == {"alice": "admin", "dana": "owner"}

    assert client.post(f"/admin/tenants/membership/{_membership(org, owner).pk}/delete/",
                       {"post": "yes"}).status_code == 302
    with tenant_scope(org):
        verbs = list(AuditEvent.objects.order_by("created_at").values_list("verb", flat=True))
    assert verbs[-3:] == ["membership.role_changed", "membership.role_changed", "membership.removed"]
    assert _roles(org) == {"dana": "owner"}
