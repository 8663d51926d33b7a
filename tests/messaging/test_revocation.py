"""Credentials stop working the moment they are taken away, in every process (issue 13, item 7).

The message webhooks cache each number's tenant and auth token per process, and the inbox hands
tabs a signed live token checked without the database; both used to outlive a rotation or a
removal (30 s and 10 minutes)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import textwrap
import threading

import pytest
from django.db import connection
from django.test import Client

from core import stamps
from messaging.models import InboundEvent
from telephony.services import accounts
from tenants.models import Membership
from tenants.scoping import platform_scope, tenant_scope
from tests.conftest import BASE_DIR
from tests.messaging.test_inbox import inbox_url, make_conversation
from tests.vendor_fixtures import ACME_SID, ACME_TOKEN

NEW_TOKEN = "acme-auth-token-rotated-5d0e"

pytestmark = pytest.mark.django_db


def _events(org) -> int:
    with tenant_scope(org):
        return InboundEvent.objects.count()


def test_a_rotated_auth_token_is_refused_by_the_next_webhook(owner_client, org, our_number, twilio_account,
                                                               twilio, twilio_posts,
                                                               django_capture_on_commit_callbacks):
    assert twilio_posts.inbound(ACME_TOKEN, body="Hi", message_sid="SM" + "1" * 32)[0].status_code == 200  # now cached
    twilio.add_account(ACME_SID, NEW_TOKEN, friendly_name="Acme Twilio")  # rotated at Twilio
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.patch(f"/api/{org.slug}/provider-accounts/{twilio_account.pk}",
                                      {"authToken": NEW_TOKEN}, content_type="application/json")
    assert response.status_code == 200, response.content

    old, _ = twilio_posts.inbound(ACME_TOKEN, body="Hi", message_sid="SM" + "2" * 32)
    assert old.status_code == 403
    assert _events(org) == 1
    new, _ = twilio_posts.inbound(NEW_TOKEN, body="Hi", message_sid="SM" + "3" * 32)
    assert new.status_code == 200
    assert _events(org) == 2


def test_a_status_callback_signed_with_a_rotated_token_is_refused(owner_client, org, our_number, twilio_account,
                                                                  twilio, twilio_posts,
                                                                  django_capture_on_commit_callbacks):
    assert twilio_posts.status(ACME_TOKEN, status="delivered", message_sid="SM" + "4" * 32).status_code == 200
    twilio.add_account(ACME_SID, NEW_TOKEN, friendly_name="Acme Twilio")
    with django_capture_on_commit_callbacks(execute=True):
        assert owner_client.patch(f"/api/{org.slug}/provider-accounts/{twilio_account.pk}",
                                  {"authToken": NEW_TOKEN}, content_type="application/json").status_code == 200
    assert twilio_posts.status(ACME_TOKEN, status="delivered", message_sid="SM" + "4" * 32).status_code == 403


_ROTATE_IN_ANOTHER_PROCESS = textwrap.dedent("""
    import os, sys
    import django
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "softphone.settings")
    django.setup()
    from telephony.models import ProviderAccount
    from telephony.services.accounts import provider_account_update
    from tenants.models import Organization
    from tenants.scoping import tenant_scope
    org = Organization.objects.get(slug=sys.argv[1])
    with tenant_scope(org):
        account = ProviderAccount.objects.get(account_sid=sys.argv[2])
        provider_account_update(organization=org, actor=None, account=account, auth_token=sys.argv[3])
    print("rotated")
""")


@pytest.mark.django_db(transaction=True)
def test_a_token_rotated_by_another_process_is_refused_here_at_once(org, our_number, twilio_account, twilio,
                                                                    twilio_posts, settings):
    """The web server runs several processes: the one that saves the new token is rarely the one that
    cached the old one. The rotation runs in a separate Python process against the same database and
    Redis; this process's cache must not accept the old token afterwards."""
    assert twilio_posts.inbound(ACME_TOKEN, body="Hi", message_sid="SM" + "5" * 32)[0].status_code == 200  # cached here
    twilio.add_account(ACME_SID, NEW_TOKEN, friendly_name="Acme Twilio")
    env = {**os.environ, "DATABASE_NAME": connection.settings_dict["NAME"],
           "TWILIO_API_BASE_URL": settings.TWILIO_API_BASE_URL}
    done = subprocess.run([sys.executable, "-c", _ROTATE_IN_ANOTHER_PROCESS, org.slug, ACME_SID, NEW_TOKEN],
                          cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "rotated" in done.stdout, done.stderr[-3000:]

    assert twilio_posts.inbound(ACME_TOKEN, body="Hi", message_sid="SM" + "6" * 32)[0].status_code == 403
    assert twilio_posts.inbound(NEW_TOKEN, body="Hi", message_sid="SM" + "7" * 32)[0].status_code == 200
    assert _events(org) == 2


def test_webhooks_still_work_when_the_account_is_unchanged(org, our_number, twilio_posts):
    for digit in "89":
        assert twilio_posts.inbound(ACME_TOKEN, body="Hi", message_sid="SM" + digit * 32)[0].status_code == 200
    assert _events(org) == 2


def _live_probe(client, org):
    page = client.get(inbox_url(org, view="all")).content.decode()
    live_url = re.search(r'data-live-url="([^"]+)"', page).group(1)
    query = {"v": re.search(r'data-version="([^"]*)"', page).group(1),
             "cursor": re.search(r'data-cursor="([^"]*)"', page).group(1), "view": "all"}
    anonymous = Client()  # the tab sends no cookies on this path
    return lambda: anonymous.get(live_url, query).status_code


def test_a_removed_members_live_token_stops_working_at_once(owner_client, admin_client_org, agent_client, org,
                                                            agent_user, agent, our_number,
                                                            django_capture_on_commit_callbacks):
    make_conversation(org, our_number, "+14155550199")
    removed, colleague = _live_probe(agent_client, org), _live_probe(admin_client_org, org)
    assert (removed(), colleague()) == (204, 204)
    with platform_scope():
        membership = Membership.objects.get(organization=org, user=agent_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(f"/o/{org.slug}/team/members/{membership.pk}/remove/")
    assert response.status_code == 302
    assert removed() == 404  # was 204 for 10 more minutes
    assert colleague() == 204
    # and the authenticated poll, where the tab goes next, refuses the removed member too
    assert agent_client.get(f"/o/{org.slug}/inbox/poll/").status_code == 404


def test_a_deactivated_persons_live_token_stops_working_at_once(client, staff_user, agent_client, admin_client_org,
                                                              org, agent_user, agent, our_number,
                                                              django_capture_on_commit_callbacks):
    make_conversation(org, our_number, "+14155550199")
    switched_off, colleague = _live_probe(agent_client, org), _live_probe(admin_client_org, org)
    assert (switched_off(), colleague()) == (204, 204)
    client.force_login(staff_user)
    page = client.get(f"/admin/tenants/user/{agent_user.pk}/change/").content.decode()
    form = {name: value for name, value in re.findall(r'<input type="(?:text|email)" name="(\w+)" value="([^"]*)"', page)}
    form.update(username=agent_user.username, is_active="", date_joined_0="2026-01-01", date_joined_1="00:00:00")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/admin/tenants/user/{agent_user.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    agent_user.refresh_from_db()
    assert agent_user.is_active is False
    assert switched_off() == 404  # was 204 for 10 more minutes
    assert colleague() == 204
    assert agent_client.get(f"/o/{org.slug}/inbox/poll/").status_code == 302  # signed out


def test_a_live_token_without_a_membership_stamp_is_refused(agent_client, org, agent, our_number):
    from django.core import signing

    from messaging.services import live

    old_kind = signing.dumps([str(org.pk), str(agent.pk)], salt="softphone.inbox-live")
    assert live.live_token_audience(old_kind) is None
    assert Client().get(f"/live/{old_kind}/").status_code == 404


def test_a_redis_that_drops_every_connection_is_asked_once_per_read(monkeypatch):
    """While Redis is down each read gives up at its first attempt and the caller reads the database
    (redis-py's `Redis()` default retries ten times with growing pauses: seconds per read, on every
    webhook)."""
    attempts = []
    with socket.create_server(("127.0.0.1", 0)) as server:
        def drop_everything():
            while True:
                try:
                    conn, _ = server.accept()
                except OSError:
                    return
                attempts.append(1)
                conn.close()

        threading.Thread(target=drop_everything, daemon=True).start()
        monkeypatch.setattr(stamps, "_client", stamps.client_for(f"redis://127.0.0.1:{server.getsockname()[1]}/0"))
        assert stamps.read("stamp:anything") is None
        assert stamps.read("stamp:anything") is None
    assert len(attempts) == 2


def test_without_redis_the_webhook_reads_the_database_and_refuses_an_old_token(org, owner, our_number,
                                                                               twilio_account, twilio, twilio_posts,
                                                                               monkeypatch,
                                                                               django_capture_on_commit_callbacks):
    """A stamp Redis cannot read never makes a cached token valid: each webhook reads the database."""
    monkeypatch.setattr(stamps, "_client", stamps.client_for("redis://127.0.0.1:1/0"))
    assert twilio_posts.inbound(ACME_TOKEN, body="Hi", message_sid="SM" + "a" * 32)[0].status_code == 200
    twilio.add_account(ACME_SID, NEW_TOKEN, friendly_name="Acme Twilio")
    with tenant_scope(org), django_capture_on_commit_callbacks(execute=True):
        accounts.provider_account_update(organization=org, actor=owner, account=twilio_account, auth_token=NEW_TOKEN)
    assert twilio_posts.inbound(ACME_TOKEN, body="Hi", message_sid="SM" + "b" * 32)[0].status_code == 403
    assert twilio_posts.inbound(NEW_TOKEN, body="Hi", message_sid="SM" + "c" * 32)[0].status_code == 200
