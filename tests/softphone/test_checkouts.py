"""Several checkouts on one machine: each keeps its own keys in the shared Redis (a real worker of one
never takes another's task), and a test session stops the embedded PostgreSQL it started, but never
one that something else still uses.

These tests look at the default derivation, so the processes they start run without REDIS_URL (the
Redis on 127.0.0.1:6379, database 0, as `make run` uses it) and without the test session's markers.
"""

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis

from messaging.services import live, outbound
from telephony.lines import lines_stamp_key
from tenants.membership_stamps import membership_stamp_key

BASE_DIR = Path(__file__).resolve().parents[2]
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
SHOW_SETTINGS = (
    "import json; from django.conf import settings as s; print(json.dumps({"
    "'url': s.REDIS_URL, 'namespace': getattr(s, 'REDIS_NAMESPACE', ''), 'prefix': getattr(s, 'REDIS_KEY_PREFIX', ''), "
    "'broker': s.CELERY_BROKER_TRANSPORT_OPTIONS, "
    "'results': getattr(s, 'CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS', {}), "
    "'cache': s.CACHES['default']['KEY_PREFIX']}))"
)


def _env(**extra) -> dict:
    """The environment of a developer's shell: no REDIS_URL, no namespace, not inside pytest."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("REDIS_URL", "REDIS_NAMESPACE", "PYTEST_VERSION", "DATABASE_NAME", "PYTEST_CURRENT_TEST")}
    env.update({"DJANGO_SETTINGS_MODULE": "softphone.settings", **extra})
    return env


@pytest.fixture(scope="module")
def other_checkout(tmp_path_factory) -> Path:
    """A second checkout of the project in another directory (the project package is all settings
    need; it reaches PostgreSQL through DATABASE_URL, which settings only parse)."""
    root = tmp_path_factory.mktemp("checkouts") / "other-softphone"
    shutil.copytree(BASE_DIR / "softphone", root / "softphone", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def _python(checkout: Path, code: str, **env) -> str:
    result = subprocess.run([sys.executable, "-c", code], cwd=checkout, capture_output=True, text=True, timeout=120,
                            env=_env(PYTHONPATH=str(checkout), **env))
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def settings_of(checkout: Path, **env) -> dict:
    if checkout != BASE_DIR:
        env.setdefault("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
    return json.loads(_python(checkout, SHOW_SETTINGS, **env))


def test_two_checkouts_derive_two_namespaces_used_by_every_redis_client(other_checkout):
    mine, theirs = settings_of(BASE_DIR), settings_of(other_checkout)
    assert mine["url"] == theirs["url"] == DEFAULT_REDIS
    assert mine["namespace"].startswith("softphone-") and theirs["namespace"].startswith("softphone-")
    assert mine["namespace"] != theirs["namespace"]
    for derived in (mine, theirs):
        assert derived["prefix"] == derived["namespace"] + ":"
        assert derived["broker"]["global_keyprefix"] == derived["prefix"]  # Celery's queues (kombu)
        assert derived["results"]["global_keyprefix"] == derived["prefix"]  # Celery's results
        assert derived["cache"].startswith(derived["prefix"])  # the cache (rate limits)
    assert settings_of(BASE_DIR) == mine  # stable: the same checkout always gets the same one

    # The test suite of a checkout is apart from its `make run` (it holds other organizations).
    suite = settings_of(BASE_DIR, PYTEST_VERSION="9")
    assert suite["namespace"] == mine["namespace"] + "-test"

    # REDIS_URL wins: it alone decides, unless a namespace is asked for as well.
    explicit = settings_of(BASE_DIR, REDIS_URL="redis://127.0.0.1:6379/7")
    assert (explicit["url"], explicit["prefix"], explicit["results"]) == ("redis://127.0.0.1:6379/7", "", {})
    assert "global_keyprefix" not in explicit["broker"]
    named = settings_of(BASE_DIR, REDIS_URL="redis://127.0.0.1:6379/7", REDIS_NAMESPACE="blue")
    assert named["broker"]["global_keyprefix"] == "blue:"

    # Production never derives one from the directory a release happens to live in.
    production = settings_of(other_checkout, SOFTPHONE_ENV="production", SECRET_KEY="s" * 60,
                             FERNET_KEYS="production-key", ALLOWED_HOSTS="softphone.example.com",
                             PUBLIC_BASE_URL="https://softphone.example.com")
    assert production["prefix"] == ""


def test_the_apps_own_redis_keys_carry_the_namespace(settings):
    """Inbox counters, pacing slots and revocation stamps: every key the app writes itself starts with
    the prefix (the cache's keys are checked below)."""
    settings.REDIS_KEY_PREFIX = "softphone-0123456789ab-test:"
    organization_id = uuid.uuid4()

    class Number:
        pk = uuid.uuid4()

    keys = [live._key(organization_id), live._key(organization_id, "c:1"), outbound._pace_key(Number),
            lines_stamp_key("AC" + "0" * 32), membership_stamp_key(organization_id, 1)]
    assert all(key.startswith("softphone-0123456789ab-test:softphone:") for key in keys)


@pytest.mark.worker
def test_a_worker_of_one_checkout_never_takes_a_task_sent_by_another(other_checkout):
    """Real Redis, a real Celery worker of this checkout (as `make run` starts it), and a task sent by
    the other checkout to the same queue name on the same Redis database."""
    mine, theirs = settings_of(BASE_DIR), settings_of(other_checkout)
    queue = f"checkouts-{uuid.uuid4().hex[:10]}"
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "softphone", "worker", "--pool", "solo", "--concurrency", "1",
         "--queues", queue, "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO"],
        cwd=BASE_DIR, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log: list[str] = []
    client = redis.Redis.from_url(DEFAULT_REDIS)
    try:
        _wait_for(worker, log, "ready.")
        send = ("from softphone import celery_app; "
                f"print(celery_app.send_task('celery.accumulate', args=['{{}}'], queue='{queue}').id)")
        theirs_id = _python(other_checkout, send.replace("{}", "from the other checkout"),
                            DATABASE_URL="postgres://nobody@127.0.0.1:1/none")
        mine_id = _python(BASE_DIR, send.replace("{}", "from this checkout"))

        _wait_for(worker, log, f"Task celery.accumulate[{mine_id}] succeeded")
        time.sleep(1)  # the worker is polling its queue all along
        assert not any(theirs_id in line for line in log)
        assert client.llen(theirs["prefix"] + queue) == 1  # still waiting for the other checkout's worker
        assert client.llen(mine["prefix"] + queue) == 0
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
        for prefix in {mine["prefix"], theirs["prefix"]}:
            for key in client.scan_iter(f"{prefix}*{queue}*"):
                client.delete(key)


def _wait_for(worker: subprocess.Popen, log: list[str], text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = worker.stdout.readline()
        log.append(line)
        if text in line:
            return
        if not line and worker.poll() is not None:
            break
    pytest.fail(f"the worker never logged {text!r}:\n" + "".join(log))


# `make test` and the embedded PostgreSQL ---------------------------------------------------------


@pytest.fixture
def own_var_dir():
    """A var/ of its own (its own embedded PostgreSQL), under the checkout: the server runs as a
    dedicated system user that cannot enter pytest's private temporary directories."""
    path = BASE_DIR / "var" / f"test-embedded-{uuid.uuid4().hex[:8]}"
    path.mkdir(parents=True)
    path.chmod(0o755)
    yield path
    _python(BASE_DIR, "from softphone import embedded; embedded.stop_database(); print('ok')",
            SOFTPHONE_VAR_DIR=str(path))
    shutil.rmtree(path, ignore_errors=True)


def _running(var_dir: Path) -> bool:
    code = "from softphone import embedded; print(embedded._postmaster_info() is not None)"
    return _python(BASE_DIR, code, SOFTPHONE_VAR_DIR=str(var_dir)) == "True"


def _test_session(var_dir: Path) -> str:
    """`make test` on a small part of the suite, with this var/ (so its own PostgreSQL)."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/security/test_bypass_uses.py", "-q", "-p", "no:cacheprovider"],
        cwd=BASE_DIR, capture_output=True, text=True, timeout=300,
        env=_env(SOFTPHONE_VAR_DIR=str(var_dir), REDIS_URL=os.environ.get("REDIS_URL", DEFAULT_REDIS)))
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_a_test_session_stops_the_postgresql_it_started_and_only_that(own_var_dir):
    # Nothing running: the session starts the server and stops it when it ends.
    assert not _running(own_var_dir)
    assert "embedded PostgreSQL: stopped" in _test_session(own_var_dir)
    assert not _running(own_var_dir)

    # Running before the session (a `make run`, a manage.py command): left running.
    _python(BASE_DIR, "from softphone import embedded; print(embedded.ensure_database().started_here)",
            SOFTPHONE_VAR_DIR=str(own_var_dir))
    assert "embedded PostgreSQL: left running (it was running before)" in _test_session(own_var_dir)
    assert _running(own_var_dir)
    _python(BASE_DIR, "from softphone import embedded; print(embedded.stop_database())",
            SOFTPHONE_VAR_DIR=str(own_var_dir))

    # Started by the session, but a `make run` began using it meanwhile (it registers its pid, as
    # the launcher does): left running for it.
    make_run = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    try:
        (own_var_dir / "pg-users").mkdir(exist_ok=True)
        (own_var_dir / "pg-users" / str(make_run.pid)).touch()
        output = _test_session(own_var_dir)
        assert f"embedded PostgreSQL: left running (still used by process {make_run.pid})" in output
        assert _running(own_var_dir)
    finally:
        make_run.kill()
        make_run.wait()


def test_the_embedded_server_takes_a_quarter_of_the_memory_from_its_next_start(own_var_dir):
    from softphone.embedded import memory_settings

    gib = 2**30
    assert memory_settings(24 * gib)["shared_buffers"] == "6144MB"
    assert memory_settings(256 * gib)["shared_buffers"] == "8192MB"  # at most 8 GB
    assert memory_settings(256 * 2**20)["shared_buffers"] == "128MB"  # at least PostgreSQL's default
    assert memory_settings(24 * gib)["effective_cache_size"] == "18432MB"

    show = ("from softphone import embedded; import psycopg; info = embedded.ensure_database(); "
            "c = psycopg.connect(host=info.socket_dir, port=info.port, user='postgres', dbname='postgres'); "
            "print(c.execute('show shared_buffers').fetchone()[0])")
    stop = "from softphone import embedded; print(embedded.stop_database())"
    # A new server starts with the wheel's defaults and is sized from its next start on.
    assert _python(BASE_DIR, show, SOFTPHONE_VAR_DIR=str(own_var_dir), EMBEDDED_PG_SHARED_BUFFERS="160MB") == "128MB"
    assert "include_if_exists = 'softphone-memory.conf'" in (own_var_dir / "pgdata" / "postgresql.conf").read_text()
    _python(BASE_DIR, stop, SOFTPHONE_VAR_DIR=str(own_var_dir))
    assert _python(BASE_DIR, show, SOFTPHONE_VAR_DIR=str(own_var_dir), EMBEDDED_PG_SHARED_BUFFERS="160MB") == "160MB"
    _python(BASE_DIR, stop, SOFTPHONE_VAR_DIR=str(own_var_dir))
    # An amount that is not one is refused with what it should be, and nothing is written.
    with pytest.raises(AssertionError, match="must be an amount such as 512MB"):
        _python(BASE_DIR, show, SOFTPHONE_VAR_DIR=str(own_var_dir), EMBEDDED_PG_SHARED_BUFFERS="1GB'\nfsync = 'off")
    assert "fsync" not in (own_var_dir / "pgdata" / "softphone-memory.conf").read_text()
