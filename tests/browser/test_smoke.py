"""Smoke test in a real browser: an agent logs in through the form and sees their organization."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests import factories
from tests.browser.conftest import axe_violations, login

PASSWORD = "a known password for dana 7"


def test_agent_logs_in_and_lands_in_the_inbox(page, live_server, agent_user):
    agent_user.set_password(PASSWORD)
    agent_user.save()

    login(page, live_server, "dana", PASSWORD)

    expect(page).to_have_url(re.compile(r"/o/acme/inbox/$"))
    expect(page).to_have_title(re.compile(r"Acme"))
    expect(page.locator(".whoami")).to_contain_text("Dana")
    assert axe_violations(page) == []


def test_the_owner_lands_on_the_home_page_with_its_figures_and_charts(page, live_server, org, owner):
    login(page, live_server, "alice", factories.PASSWORD)

    expect(page).to_have_url(re.compile(r"/o/acme/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Acme")
    expect(page.get_by_role("img", name="Messages per day, last 28 days")).to_be_visible()
    expect(page.get_by_role("img", name="Calls per day, last 28 days")).to_be_visible()
    expect(page.locator("#home-conversations")).to_contain_text("Nobody is waiting for an answer.")
    assert axe_violations(page) == []


def test_wrong_password_shows_the_login_error(page, live_server, agent_user):
    login(page, live_server, "dana", "not the password")

    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    expect(page.get_by_role("alert")).to_have_text(
        "Your username and password didn't match. Please try again."
    )
    expect(page.locator(".whoami")).to_have_count(0)


def test_axe_runs_under_the_product_csp(page, live_server):
    """The helper works on a page served with our Content-Security-Policy, and does find problems."""
    response = page.goto(f"{live_server.url}/accounts/login/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert axe_violations(page) == []

    page.evaluate("""() => {
        const img = document.createElement("img");
        img.src = "data:image/gif;base64,R0lGODlhAQABAAAAACw=";
        document.querySelector("main").append(img);
    }""")
    found = axe_violations(page)
    assert [(v["id"], v["impact"]) for v in found] == [("image-alt", "critical")]
    assert found[0]["targets"] == ["img"]  # the only <img> on the page
