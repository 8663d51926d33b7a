"""Two tenants and three people, as healthchecks' alice, bob and charlie:

- ``org`` (Acme) with ``owner`` (alice), ``admin`` and ``agent_user`` (a human agent);
- ``other_org`` (Globex) with ``outsider`` (charlie), its owner, who must never see Acme's data.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client

from softphone import celery_app, embedded
from tenants.models import Role
from tests import factories

pytest_plugins = ["tests.vendor_fixtures"]


# The embedded PostgreSQL (no DATABASE_URL): a test session that started it stops it at its end,
# unless a `make run` or another test session registered as its user is still running.
def pytest_sessionstart(session):
    if not os.environ.get("DATABASE_URL"):
        embedded.register_database_user()


def pytest_sessionfinish(session, exitstatus):
    if not os.environ.get("DATABASE_URL"):
        connection.close()
        outcome = embedded.release_database(started_here=embedded.started_in_this_process())
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"\nembedded PostgreSQL: {outcome}")


@pytest.fixture(autouse=True)
def _plain_static_files(settings):
    """Pages render without `collectstatic`: tests read static files from their folders."""
    settings.STORAGES = {**settings.STORAGES,
                         "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}


@pytest.fixture(autouse=True)
def _celery_eager(request):
    """Unit tests run tasks inline; tests marked ``worker`` use a real Celery worker instead."""
    if request.node.get_closest_marker("worker"):
        yield
        return
    previous = celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = previous


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Throttle counters live in the shared cache (Redis): each test starts with none."""
    factories.clear_rate_limits()


@pytest.fixture
def owner(db):
    return factories.make_user("alice", first_name="Alice", last_name="Owner")


@pytest.fixture
def org(owner):
    return factories.make_organization("Acme", owner=owner, slug="acme")


@pytest.fixture
def admin(org):
    user = factories.make_user("bob", first_name="Bob", last_name="Admin")
    factories.add_member(org, user, Role.ADMIN)
    return user


@pytest.fixture
def agent_user(org):
    user = factories.make_user("dana", first_name="Dana", last_name="Agent")
    factories.add_member(org, user, Role.AGENT)
    return user


@pytest.fixture
def agent(org, agent_user):
    return factories.make_agent(org, user=agent_user, name="Dana Agent")


@pytest.fixture
def outsider(db):
    return factories.make_user("charlie", first_name="Charlie", last_name="Outsider")


@pytest.fixture
def other_org(outsider):
    return factories.make_organization("Globex", owner=outsider, slug="globex")


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def owner_client(owner, org):
    return _client_for(owner)


@pytest.fixture
def admin_client_org(admin):
    return _client_for(admin)


@pytest.fixture
def agent_client(agent_user):
    return _client_for(agent_user)


@pytest.fixture
def outsider_client(outsider, other_org):
    return _client_for(outsider)


@pytest.fixture
def staff_user(db):
    return factories.make_user("root", is_staff=True, is_superuser=True)


BASE_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture
def worker_env():
    """Extra environment for `live_worker` (a test module overrides it, e.g. with vendor fakes)."""
    return {}


def _route_every_task_to(queue: str | None):
    from softphone import celery_app

    celery_app.conf.task_routes = {"*": {"queue": queue}} if queue else None
    celery_app.amqp.flush_routes()
    celery_app.amqp.__dict__.pop("router", None)  # the router caches the routes it was made with


@pytest.fixture
def live_worker(transactional_db, worker_env):
    """A real Celery worker process (solo pool: one process, one connection) on the real Redis,
    using the test database and a queue of its own, to which every task this test sends is routed.
    Yields the queue name."""
    queue = f"test-{uuid.uuid4().hex[:12]}"
    env = {**os.environ, "DATABASE_NAME": connection.settings_dict["NAME"], **worker_env}
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "softphone", "worker", "--pool", "solo", "--concurrency", "1",
         "--queues", queue, "--include", "tests.worker_probe", "--without-gossip", "--without-mingle",
         "--without-heartbeat", "--loglevel", "INFO"],
        cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    deadline = time.monotonic() + 30
    ready = False
    lines = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if "ready." in line:
            ready = True
            break
        if proc.poll() is not None:
            break
    if not ready:
        proc.kill()
        pytest.fail("the Celery worker did not start:\n" + "".join(lines))
    _route_every_task_to(queue)
    try:
        yield queue
    finally:
        _route_every_task_to(None)
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
