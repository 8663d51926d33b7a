"""Two tenants and three people, as healthchecks' alice, bob and charlie:

- ``org`` (Acme) with ``owner`` (alice), ``admin`` and ``agent_user`` (a human agent);
- ``other_org`` (Globex) with ``outsider`` (charlie), its owner, who must never see Acme's data.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.test import Client

from softphone import celery_app, embedded
from softphone.launcher import WORKERS
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


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing():
    """Users are made and logged in with passwords by most tests: PBKDF2's million rounds cost about
    0.4 s a user on these machines, a quarter of the suite's time. Tests hash with MD5 instead
    (production keeps Django's default); nothing here tests the hasher itself."""
    from django.contrib.auth import hashers

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    hashers.get_hashers.cache_clear()
    hashers.get_hashers_by_algorithm.cache_clear()
    yield


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
def _fresh_line_cache():
    """Each test builds its organizations anew: forget which tenant owned which number (the
    webhooks' per-process cache, telephony.lines)."""
    from telephony.lines import forget_lines

    forget_lines()
    yield
    forget_lines()


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
    """Send every task to `queue`; None puts the routes of settings back."""
    celery_app.conf.task_routes = {"*": {"queue": queue}} if queue else settings.CELERY_TASK_ROUTES
    _routes_changed()


def _route_to_queues_of(tag: str | None):
    """Follow the routes of settings, onto the queues of one test: queue q becomes f"{tag}.{q}"
    (a task with no route too: the default queue becomes f"{tag}.{default}"). None puts the routes
    of settings back."""

    def route(name, args, kwargs, options, task=None, **_):
        return {"queue": f"{tag}.{queue_of(name)}"}

    celery_app.conf.task_routes = (route,) if tag else settings.CELERY_TASK_ROUTES
    _routes_changed()


def queue_of(name: str) -> str:
    """The queue the routes of settings put task `name` on."""
    return settings.CELERY_TASK_ROUTES.get(name, {}).get("queue", settings.CELERY_TASK_DEFAULT_QUEUE)


def _routes_changed():
    celery_app.amqp.flush_routes()
    celery_app.amqp.__dict__.pop("router", None)  # the router caches the routes it was made with


def _start_worker(queue: str, env: dict) -> subprocess.Popen:
    """A real Celery worker process (solo pool: one process, one connection) consuming `queue`."""
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "softphone", "worker", "--pool", "solo", "--concurrency", "1",
         "--queues", queue, "--hostname", f"{queue}@%h", "--include", "tests.worker_probe", "--without-gossip",
         "--without-mingle", "--without-heartbeat", "--loglevel", "INFO"],
        cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def _wait_ready(proc: subprocess.Popen, deadline: float) -> str | None:
    """None once the worker says it is ready (what it prints from then on is read and dropped, so
    that a full pipe never blocks it), else what it printed."""
    lines = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if "ready." in line:
            threading.Thread(target=proc.stdout.read, daemon=True).start()
            return None
        if proc.poll() is not None:
            break
    return "".join(lines)


@pytest.fixture
def live_worker(transactional_db, worker_env):
    """Real Celery workers on the real Redis and the test database, as `make run` starts them: one
    process per queue of softphone.launcher.WORKERS (each with the solo pool here: one process, one
    database connection). The queues are this test's own: every task it sends follows the routes
    of settings onto them (see _route_to_queues_of). Yields the queues' common prefix, which each
    worker's command line contains."""
    tag = f"test-{uuid.uuid4().hex[:12]}"
    env = {**os.environ, "DATABASE_NAME": connection.settings_dict["NAME"], **worker_env}
    procs = [_start_worker(f"{tag}.{worker.queue}", env) for worker in WORKERS]
    deadline = time.monotonic() + 30
    for proc in procs:
        failure = _wait_ready(proc, deadline)
        if failure is not None:
            for each in procs:
                each.kill()
            pytest.fail("a Celery worker did not start:\n" + failure)
    _route_to_queues_of(tag)
    try:
        yield tag
    finally:
        _route_to_queues_of(None)
        # What a test left queued would wait in Redis for good: nothing else reads these queues.
        redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(
            *(settings.REDIS_KEY_PREFIX + f"{tag}.{worker.queue}" for worker in WORKERS))
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
