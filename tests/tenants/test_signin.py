"""Signing in (issue 13, item 5): login lockout, password reset by email, session cookies, idle timeout."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core import mail
from django.test import Client

from softphone.sessions import SESSION_KEY
from tests.factories import PASSWORD
from tests.softphone.test_settings import PRODUCTION_ENV, _manage

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
NEW_PASSWORD = "a brand new passphrase 8127"


def _login(client: Client, username: str, password: str, path: str = LOGIN, **extra):
    return client.post(path, {"username": username, "password": password}, **extra)


def _signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_twenty_five_wrong_passwords_then_the_right_one_meets_the_lockout_page(owner, org):
    client = Client()
    answers = [_login(client, "alice", f"guess-{n}").status_code for n in range(25)]
    assert answers[:settings.AXES_FAILURE_LIMIT - 1] == [200] * (settings.AXES_FAILURE_LIMIT - 1)
    assert set(answers[settings.AXES_FAILURE_LIMIT:]) == {429}

    right = _login(client, "alice", PASSWORD)
    assert right.status_code == 429
    page = right.content.decode()
    assert "Too many failed attempts" in page and 'href="/accounts/password-reset/"' in page
    assert '<link rel="stylesheet"' in page  # the product's own page, not a bare message
    assert int(right["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds()
    assert not _signed_in(client)


def test_the_lockout_holds_one_username_from_one_address_and_ends_after_the_cool_off(owner, org, admin):
    attacker = Client(REMOTE_ADDR="203.0.113.9")
    for n in range(settings.AXES_FAILURE_LIMIT):
        _login(attacker, "alice", f"guess-{n}")
    assert _login(attacker, "alice", PASSWORD).status_code == 429

    elsewhere = Client(REMOTE_ADDR="198.51.100.20")  # alice at her desk is not locked out by the attacker
    assert _login(elsewhere, "alice", PASSWORD).status_code == 302 and _signed_in(elsewhere)
    colleague = Client(REMOTE_ADDR="203.0.113.9")  # nor is another person behind the same address
    assert _login(colleague, "bob", PASSWORD).status_code == 302 and _signed_in(colleague)

    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.first().attempt_time
                                 - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))
    assert _login(attacker, "alice", PASSWORD).status_code == 302 and _signed_in(attacker)


def test_the_admin_login_is_locked_out_too(staff_user):
    client = Client()
    for n in range(settings.AXES_FAILURE_LIMIT):
        assert _login(client, "root", f"guess-{n}", path="/admin/login/").status_code in (200, 429)
    response = _login(client, "root", PASSWORD, path="/admin/login/")
    assert response.status_code == 429
    assert "Too many failed attempts" in response.content.decode()
    assert not _signed_in(client)


def test_a_forged_x_forwarded_for_does_not_escape_the_lockout(owner, org):
    """Without a proxy of ours in front (TRUSTED_PROXY_COUNT=0), X-Forwarded-For is the client's
    own words: each guess claims another address, all are counted on the real one."""
    client = Client()
    for n in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "alice", f"guess-{n}", HTTP_X_FORWARDED_FOR=f"10.9.8.{n}")
    assert _login(client, "alice", PASSWORD, HTTP_X_FORWARDED_FOR="10.9.9.9").status_code == 429


def test_behind_the_load_balancer_each_client_is_locked_out_on_its_own_address(owner, org, settings):
    """One proxy of ours (TRUSTED_PROXY_COUNT=1): every request arrives from the balancer's address,
    and the client's is the last X-Forwarded-For entry, the one the balancer appended."""
    settings.TRUSTED_PROXY_COUNT = 1
    balancer = {"REMOTE_ADDR": "10.0.0.5"}
    attacker = Client(**balancer)
    for n in range(settings.AXES_FAILURE_LIMIT):
        _login(attacker, "alice", f"guess-{n}", HTTP_X_FORWARDED_FOR=f"1.1.1.{n}, 203.0.113.9")
    assert _login(attacker, "alice", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 429
    assert AccessAttempt.objects.get().ip_address == "203.0.113.9"

    alice = Client(**balancer)  # the same balancer, another client
    assert _login(alice, "alice", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.20").status_code == 302


# Password reset -------------------------------------------------------------------------------------


def _reset_link() -> str:
    assert len(mail.outbox) == 1
    return re.search(r"https?://\S+", mail.outbox[0].body).group(0)


def test_a_forgotten_password_is_reset_by_email_and_the_new_one_logs_in(owner, org):
    client = Client()
    login_page = client.get(LOGIN).content.decode()
    assert 'href="/accounts/password-reset/"' in login_page
    form = client.get("/accounts/password-reset/")
    assert form.status_code == 200 and '<link rel="stylesheet"' in form.content.decode()

    sent = client.post("/accounts/password-reset/", {"email": "ALICE@example.com"})
    assert sent.status_code == 302 and sent["Location"] == "/accounts/password-reset/sent/"
    assert "Check your email" in client.get(sent["Location"]).content.decode()
    message = mail.outbox[0]
    assert message.to == ["alice@example.com"] and message.subject == "Reset your Softphone password"
    link = _reset_link()
    assert link.startswith(settings.PUBLIC_BASE_URL + "/accounts/reset/")  # never the request's Host

    opened = client.get(link.removeprefix(settings.PUBLIC_BASE_URL))
    assert opened.status_code == 302  # Django moves the token out of the address bar
    page = client.get(opened["Location"])
    assert "Choose a new password" in page.content.decode()
    done = client.post(opened["Location"], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302 and done["Location"] == "/accounts/reset/done/"
    assert "Your password is changed" in client.get(done["Location"]).content.decode()

    assert _login(Client(), "alice", PASSWORD).status_code == 200  # the old one no longer works
    fresh = Client()
    assert _login(fresh, "alice", NEW_PASSWORD).status_code == 302 and _signed_in(fresh)
    # The link works once.
    again = Client().get(link.removeprefix(settings.PUBLIC_BASE_URL), follow=True)
    assert "This link does not work" in again.content.decode()


def test_an_unknown_address_gets_the_same_answer_and_no_mail(owner):
    response = Client().post("/accounts/password-reset/", {"email": "nobody@example.com"})
    assert response.status_code == 302 and response["Location"] == "/accounts/password-reset/sent/"
    assert mail.outbox == []


def test_a_bad_reset_link_says_so(owner):
    response = Client().get("/accounts/reset/MQ/not-a-token/", follow=True)
    assert response.status_code == 200
    assert "This link does not work" in response.content.decode()


def test_reset_requests_are_limited_per_address(owner):
    client = Client()
    limit = int(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["password_reset"].split("/")[0])
    for _ in range(limit):
        assert client.post("/accounts/password-reset/", {"email": "alice@example.com"}).status_code == 302
    refused = client.post("/accounts/password-reset/", {"email": "alice@example.com"})
    assert refused.status_code == 429
    assert "Too many reset requests" in refused.content.decode()
    assert len(mail.outbox) == limit


def test_a_new_password_lifts_the_lockout(owner, org):
    client = Client()
    for n in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "alice", f"guess-{n}")
    assert _login(client, "alice", PASSWORD).status_code == 429
    client.post("/accounts/password-reset/", {"email": "alice@example.com"})
    opened = client.get(_reset_link().removeprefix(settings.PUBLIC_BASE_URL))
    client.post(opened["Location"], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert _login(client, "alice", NEW_PASSWORD).status_code == 302 and _signed_in(client)


# Cookies and the idle timeout ------------------------------------------------------------------------


def test_session_and_csrf_cookies_are_httponly_and_samesite_lax(owner, org):
    client = Client()
    client.get(LOGIN)
    csrf = client.cookies[settings.CSRF_COOKIE_NAME]
    assert csrf["httponly"] and csrf["samesite"] == "Lax"
    response = _login(client, "alice", PASSWORD)
    session = response.cookies[settings.SESSION_COOKIE_NAME]
    assert session["httponly"] and session["samesite"] == "Lax"
    assert not session["secure"]  # development serves plain http


def test_production_cookies_are_secure():
    script = ("from django.conf import settings as s; "
              "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, "
              "s.CSRF_COOKIE_HTTPONLY, s.SESSION_COOKIE_SAMESITE, s.CSRF_COOKIE_SAMESITE)")
    result = _manage("shell", "-c", script, env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].split() == ["True", "True", "True", "True", "Lax", "Lax"]


def _age_session(client: Client, seconds: int) -> None:
    session = client.session
    user_id, _ = session[SESSION_KEY]
    session[SESSION_KEY] = [user_id, int(time.time()) - seconds]
    session.save()


def test_a_session_ends_after_the_idle_timeout(owner, org, settings):
    settings.SESSION_IDLE_MINUTES = 30
    client = Client()
    assert _login(client, "alice", PASSWORD).status_code == 302
    home = f"/o/{org.slug}/"
    assert client.get(home).status_code == 200

    _age_session(client, 29 * 60)
    assert client.get(home).status_code == 200  # 29 minutes without a request: still signed in

    _age_session(client, 31 * 60)
    expired = client.get(home)
    assert expired.status_code == 302 and expired["Location"].startswith("/accounts/login/?next=")
    assert not _signed_in(client)
    notice = client.get(expired["Location"]).content.decode()
    assert "signed out after 30 minutes without activity" in notice
    assert client.get(f"/api/{org.slug}/members").status_code in (401, 403)


def test_each_request_keeps_the_session_alive(owner, org, settings):
    settings.SESSION_IDLE_MINUTES = 30
    client = Client()
    _login(client, "alice", PASSWORD)
    client.get(f"/o/{org.slug}/")
    _age_session(client, 20 * 60)
    assert client.get(f"/o/{org.slug}/").status_code == 200  # this request counts as activity
    _, seen = client.session[SESSION_KEY]
    assert time.time() - seen < 5
