"""Real-browser tests: Playwright for Python driving Debian's chromium (``make browser`` installs it).

Every test in this folder is marked ``browser`` (deselect them with ``-m "not browser"``) and uses
pytest-django's ``live_server``, which gives it a transactional database: the server answers from
its own thread, so the test's rows must be committed for it to see them.

``playwright install`` is never used: its browser download cannot work on our machines.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

BASE_DIR = Path(__file__).resolve().parent.parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE_JS = BASE_DIR / "static" / "vendor" / "axe.min.js"
SCREENSHOTS = BASE_DIR / "test-artifacts" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item (``rep_setup``, ``rep_call``) for the `page` fixture."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


# One Playwright and one chromium for all the tests of this folder. Scoped to the package rather
# than the session so that both, and DJANGO_ALLOW_ASYNC_UNSAFE below, end with the last browser test:
# the rest of the suite runs as it would without these tests.
@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (or `make test`) to install Debian's chromium")
    # Playwright's sync API drives an asyncio event loop in this (the main) thread through greenlets:
    # from `start()` until `stop()` the loop counts as running here, so Django's async-unsafe guard
    # raises SynchronousOnlyOperation on every ORM call the test thread makes (fixtures creating rows,
    # the transactional flush after each test). Nothing runs concurrently with those calls (the loop
    # only turns inside Playwright calls) and the live server answers from a thread of its own, so the
    # guard is a false alarm here and is switched off for exactly as long as Playwright runs.
    # Not at import time, nor for the whole session: the variable is inherited by subprocesses
    # (`manage.py check --deploy` reports it as an error, the Celery workers of `live_worker`), and
    # a running loop left behind would trip the guard in every later test.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    pw = sync_playwright().start()
    try:
        yield pw
    finally:
        pw.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def page(browser: Browser, request) -> Iterator[Page]:
    """A page in a fresh browser context (no cookies shared between tests); on failure a full-page
    screenshot goes to test-artifacts/screenshots/<test id>.png."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        yield page
    finally:
        failed = any(getattr(getattr(request.node, f"rep_{when}", None), "failed", False)
                     for when in ("setup", "call"))
        if failed:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid).strip("_")
            try:
                path = SCREENSHOTS / f"{name}.png"
                page.screenshot(path=str(path), full_page=True)
                print(f"screenshot: {path.relative_to(BASE_DIR)}")
            except Exception as exc:  # a crashed page must not hide the test's own failure
                print(f"no screenshot: {exc}")
        context.close()


def login(page: Page, live_server, username: str, password: str) -> None:
    """Log in through the real form at /accounts/login/ and wait for the page the form leads to
    (the user's organization on success, the form again with its error on failure)."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.click("form[action='/accounts/login/'] button[type=submit]")


def axe_violations(page: Page, impacts=("serious", "critical")) -> list[dict]:
    """Run axe-core (static/vendor/axe.min.js, from npm) on the current page; returns the violations
    of the given impacts as dicts with id, impact, help and targets (the failing nodes' selectors).

    The source is evaluated through Playwright (the DevTools protocol), which the page's
    Content-Security-Policy does not govern. `page.add_script_tag(content=...)` would insert an
    inline <script>, which our CSP (script-src 'self') blocks, as it should."""
    if not AXE_JS.exists():
        pytest.fail(f"{AXE_JS.relative_to(BASE_DIR)} is missing: run `make install`")
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE_JS.read_text() + "\n;void 0")
    found = page.evaluate(
        """async (impacts) => {
            const results = await window.axe.run(document, {resultTypes: ["violations"]});
            return results.violations
                .filter(v => impacts.includes(v.impact))
                .map(v => ({id: v.id, impact: v.impact, help: v.help,
                            targets: v.nodes.map(n => n.target.join(" "))}));
        }""",
        list(impacts),
    )
    return found
