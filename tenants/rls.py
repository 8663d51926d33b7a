"""PostgreSQL row-level security: the second line of tenant isolation, under the ORM scoping.

Every tenant-owned table has RLS enabled and forced, with two permissive policies:

- ``tenant_isolation``: rows whose ``organization_id`` equals the session setting
  ``app.organization_id``; with no setting no row is visible or writable;
- ``platform_bypass``: every row while ``app.bypass_rls`` is ``on`` (the admin, migrations that
  touch data, and the few platform tasks listed in tests/security/test_bypass_uses.py).

The settings are session-level and follow the scope: entering ``tenant_scope`` sets them, leaving
restores what was there before, and a connection opened inside a scope gets them on connect. So a
pooled or persistent connection never carries one tenant into the next request or task. Session
settings need a session: use PostgreSQL directly or a session-mode pooler, never a transaction-mode
pooler (docs/operations.md; tests/security/test_pooler.py runs both against a real PgBouncer).

A transaction-mode pooler would hand one client's server session, setting included, to the next
client between two transactions. So every connection marks its session with a random token
(``app.client``) and checks, in the same statement that sets the tenant, that no other client has
marked it since: a session someone else used is refused (``SharedSessionError``) before any query
runs in it, and the connection is closed. Misconfigured, Softphone fails closed on its first
connections instead of showing one tenant's rows to another.
"""

from __future__ import annotations

import re
import secrets
from contextlib import contextmanager
from contextvars import ContextVar

import psycopg
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.backends.signals import connection_created
from django.db.migrations.operations.base import Operation

ORG_SETTING = "app.organization_id"
BYPASS_SETTING = "app.bypass_rls"
CLIENT_SETTING = "app.client"

# (organization id or "", bypass) for the code running now; the database follows it.
_state: ContextVar[tuple[str, bool]] = ContextVar("softphone_rls_state", default=("", False))


# What the session of a connection is known to hold, so that setting it again costs no round trip.
# Only known outside transactions: a rollback silently reverts a setting made inside one.
_KNOWN = "_softphone_rls_state"
# The token this connection marks its server session with (see the module's docstring).
_CLIENT = "_softphone_rls_client"


class SharedSessionError(DatabaseError):
    """The database session behind this connection was used by another client: refused."""


SHARED_SESSION = (
    "This database session was used by another client since Softphone set it up, so its tenant "
    "setting cannot be trusted; the connection was closed and nothing ran in it. Row-level security "
    "needs one session per connection: connect to PostgreSQL directly or through a session-mode "
    "pooler that resets sessions (PgBouncer pool_mode = session, server_reset_query = DISCARD ALL), "
    "never a transaction-mode pooler (docs/operations.md)."
)

# One statement: the session's mark is read and, only when it is none or ours, the mark and the
# tenant settings are written. A session another client marked returns no row and is left untouched.
_SET = (
    f"select set_config('{CLIENT_SETTING}', %s, false), set_config('{ORG_SETTING}', %s, false), "
    f"set_config('{BYPASS_SETTING}', %s, false) "
    f"from (select coalesce(current_setting('{CLIENT_SETTING}', true), '') as mark) session "
    "where session.mark = '' or session.mark = %s"
)


def _set(connection, cursor, state: tuple[str, bool], *, fresh: bool) -> None:
    """Set the tenant settings and mark the session with this connection's token, in one statement;
    refuse a session another client marked (when ``fresh``, a session marked at all). A rollback may
    take the session back to an earlier mark of ours or to none, which are both accepted."""
    token = getattr(connection, _CLIENT)
    org_id, bypass = state
    cursor.execute(_SET, [token, org_id, "on" if bypass else "off", "" if fresh else token])
    if cursor.fetchone() is None:
        connection.close()
        raise SharedSessionError(SHARED_SESSION)


def _apply(connection, state: tuple[str, bool]) -> None:
    if connection.vendor != "postgresql" or connection.connection is None:
        return  # no open connection: connection_created applies the state when one opens
    if not connection.in_atomic_block and getattr(connection, _KNOWN, None) == state:
        return
    with connection.cursor() as cursor:
        _set(connection, cursor, state, fresh=False)
    setattr(connection, _KNOWN, None if connection.in_atomic_block else state)


def _on_connect(sender, connection, **kwargs) -> None:
    if connection.vendor == "postgresql":
        setattr(connection, _CLIENT, secrets.token_hex(8))
        state = _state.get()
        with connection.connection.cursor() as cursor:
            _set(connection, cursor, state, fresh=True)
        # A new session starts with nothing set (or with what was just set).
        setattr(connection, _KNOWN, None if connection.in_atomic_block else state)


connection_created.connect(_on_connect, dispatch_uid="softphone_rls_on_connect")


@contextmanager
def database_scope(*, organization_id=None, bypass: bool = False):
    """Make the database see one organization (or, with ``bypass``, every one) until exit."""
    state = (str(organization_id) if organization_id else "", bool(bypass))
    token = _state.set(state)
    connection = connections[DEFAULT_DB_ALIAS]
    _apply(connection, state)
    try:
        yield
    finally:
        _state.reset(token)
        _restore(connection, _state.get())


def _restore(connection, state) -> None:
    if connection.connection is None:
        return
    if connection.in_atomic_block and connection.needs_rollback:
        # The transaction is aborted and will be rolled back, which reverts what was set inside it;
        # what was set before it is restored when that outer scope exits.
        return
    try:
        _apply(connection, state)
    except Exception:
        # If the setting cannot be restored the connection is not trustworthy: drop it rather than
        # hand it to the next request with another tenant's setting.
        connection.close()
        raise


def execute_in_tenant(organization_id, sql: str, params: list) -> list[tuple]:
    """Run one statement as ``organization_id`` in a single round trip: the tenant setting, the
    statement and the setting the code around it expects are sent together (client-side bound, so
    PostgreSQL runs them as one implicit transaction). For hot paths such as webhooks, where three
    round trips would cost more than the work. RLS checks the statement exactly as in a scope."""
    return _execute_as((str(organization_id), False), sql, params)


def execute_bypassing(sql: str, params: list) -> list[tuple]:
    """Run one read past row-level security (as ``platform_scope`` does) in a single round trip,
    for a hot path that crosses tenants on purpose; each use is listed in
    tests/security/test_bypass_uses.py."""
    return _execute_as(("", True), sql, params)


def _execute_as(state: tuple[str, bool], sql: str, params: list) -> list[tuple]:
    connection = connections[DEFAULT_DB_ALIAS]
    connection.ensure_connection()
    org_id, bypass = state
    after_org, after_bypass = _state.get()
    with connection.wrap_database_errors, psycopg.ClientCursor(connection.connection) as cursor:
        cursor.execute(
            f"select set_config(%s, %s, false), set_config(%s, %s, false); {sql}; "
            "select set_config(%s, %s, false), set_config(%s, %s, false)",
            [ORG_SETTING, org_id, BYPASS_SETTING, "on" if bypass else "off", *params,
             ORG_SETTING, after_org, BYPASS_SETTING, "on" if after_bypass else "off"],
        )
        cursor.nextset()
        rows = cursor.fetchall() if cursor.description else []
    setattr(connection, _KNOWN, None if connection.in_atomic_block else (after_org, after_bypass))
    return rows


def call_committing(procedure: str, params: list) -> tuple:
    """CALL a procedure that sets the tenant itself and commits part of its work (see
    messaging_inbound_events_store), in one round trip, outside any transaction. The procedure's last
    two parameters receive what the session must hold when it returns (this code's own scope), and it
    sets them before returning. Returns the row of its INOUT parameters.

    For hot paths: the procedure's statements are planned once per connection, not per call."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", procedure):
        raise ValueError(f"not a procedure name: {procedure!r}")
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.in_atomic_block:
        raise RuntimeError(f"{procedure} commits: it cannot be called inside a transaction")
    connection.ensure_connection()
    after_org, after_bypass = _state.get()
    placeholders = ", ".join(["%s"] * (len(params) + 2))
    try:
        # Client-side binding sends one simple query: a top-level CALL, in which COMMIT is allowed.
        with connection.wrap_database_errors, psycopg.ClientCursor(connection.connection) as cursor:
            cursor.execute(f"call {procedure}({placeholders})", [*params, after_org, "on" if after_bypass else "off"])
            row = cursor.fetchone()
    except Exception:
        setattr(connection, _KNOWN, None)  # whatever the session holds now, set it again before use
        raise
    setattr(connection, _KNOWN, (after_org, after_bypass))
    return row


def current_state() -> tuple[str, bool]:
    return _state.get()


def reset_connection(connection=None) -> None:
    """Clear the tenant settings on a connection (start of a request or task, belt and braces)."""
    connection = connection or connections[DEFAULT_DB_ALIAS]
    if connection.connection is not None and not connection.in_atomic_block:
        _apply(connection, ("", False))


# Policies -----------------------------------------------------------------------------------------


def enable_sql(table: str) -> list[str]:
    quoted = f'"{table}"'
    match = (
        f"organization_id = nullif(current_setting('{ORG_SETTING}', true), '')::uuid"
    )
    bypass = f"current_setting('{BYPASS_SETTING}', true) = 'on'"
    return [
        f"alter table {quoted} enable row level security",
        f"alter table {quoted} force row level security",
        f"drop policy if exists tenant_isolation on {quoted}",
        f"create policy tenant_isolation on {quoted} using ({match}) with check ({match})",
        f"drop policy if exists platform_bypass on {quoted}",
        f"create policy platform_bypass on {quoted} using ({bypass}) with check ({bypass})",
    ]


def disable_sql(table: str) -> list[str]:
    quoted = f'"{table}"'
    return [
        f"drop policy if exists tenant_isolation on {quoted}",
        f"drop policy if exists platform_bypass on {quoted}",
        f"alter table {quoted} no force row level security",
        f"alter table {quoted} disable row level security",
    ]


class EnableRowLevelSecurity(Operation):
    """Migration operation: RLS, FORCE and the two policies on a tenant-owned model's table.

    `manage.py makemigrations` adds it by itself after creating any ``TenantModel`` (see
    softphone/management/commands/makemigrations.py), and a test fails if a tenant table lacks it.
    """

    reversible = True
    reduces_to_sql = True

    def __init__(self, model_name: str):
        self.model_name = model_name

    def state_forwards(self, app_label, state):
        pass

    def _run(self, app_label, schema_editor, state, statements_for):
        model = state.apps.get_model(app_label, self.model_name)
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements_for(model._meta.db_table):
            schema_editor.execute(statement)

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        self._run(app_label, schema_editor, to_state, enable_sql)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        self._run(app_label, schema_editor, from_state, disable_sql)

    def describe(self):
        return f"Enable row-level security on {self.model_name}"

    @property
    def migration_name_fragment(self):
        return f"rls_{self.model_name.lower()}"
