"""Row-level security behind a real connection pooler (PgBouncer, started by each test).

The tenant setting is a session setting (tenants/rls.py). These tests show what that means behind
PgBouncer: in transaction mode one client's tenant reaches another client (so Softphone refuses such
a session before anything runs in it); in session mode, with sessions reset between clients, every
client sees its own tenant only, however often server sessions change hands.
"""

from __future__ import annotations

import threading

import psycopg
import pytest
from django.db import connection, connections

from tenants.models import Agent
from tenants.rls import CLIENT_SETTING, ORG_SETTING, SharedSessionError
from tenants.scoping import tenant_scope
from tests import factories
from tests.pooler import PgBouncer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pooler():
    started = []

    def start(**options) -> PgBouncer:
        started.append(PgBouncer(**options))
        return started[-1]

    yield start
    for bouncer in started:
        bouncer.stop()


@pytest.fixture
def tenants():
    """Three organizations with one agent each."""
    organizations = [factories.make_organization(name, slug=name.lower()) for name in ("Acme", "Globex", "Initech")]
    for organization in organizations:
        factories.make_agent(organization, name=f"{organization.name} agent", kind="ai", assistant_id="asst")
    return organizations


def in_thread(function, *args):
    """Run ``function`` in a thread of its own (its own Django connection) and return its result."""
    outcome = {}

    def run():
        try:
            outcome["result"] = function(*args)
        except BaseException as error:  # noqa: BLE001 - handed to the caller
            outcome["error"] = error
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    assert not thread.is_alive(), "the thread did not finish"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def visible_organizations(cursor) -> list[str]:
    cursor.execute('select distinct organization_id::text from "tenants_agent" order by 1')
    return [row[0] for row in cursor.fetchall()]


def test_transaction_mode_hands_one_clients_tenant_to_the_next_and_loses_it_for_the_first(pooler, tenants):
    """Why Softphone does not run behind a transaction-mode pooler, shown with plain sessions."""
    acme = str(tenants[0].pk)
    bouncer = pooler(pool_mode="transaction", pool_size=1)
    with psycopg.connect(**bouncer.dsn(), autocommit=True) as first, \
            psycopg.connect(**bouncer.dsn(), autocommit=True) as second:
        first.execute("select set_config(%s, %s, false)", [ORG_SETTING, acme])
        # The second client never set a tenant, yet its statement ran in the first client's session.
        assert visible_organizations(second.cursor()) == [acme]

    bouncer = pooler(pool_mode="transaction", pool_size=2)
    with psycopg.connect(**bouncer.dsn(), autocommit=True) as first, \
            psycopg.connect(**bouncer.dsn()) as second:
        first.execute("select set_config(%s, %s, false)", [ORG_SETTING, acme])
        second.execute("select 1")  # an open transaction: the second client holds that session now
        # The first client's next statement runs in the other session, without its tenant.
        assert visible_organizations(first.cursor()) == []


def test_behind_a_transaction_mode_pooler_softphone_refuses_the_shared_session(pooler, tenants):
    acme, globex = tenants[0], tenants[1]
    bouncer = pooler(pool_mode="transaction", pool_size=1)

    def client(organization):
        with tenant_scope(organization):
            return list(Agent.objects.values_list("name", flat=True))

    def session_settings():
        with psycopg.connect(**bouncer.dsn(), autocommit=True) as raw:  # reads, sets nothing
            return raw.execute("select current_setting(%s, true), current_setting(%s, true)",
                               [CLIENT_SETTING, ORG_SETTING]).fetchone()

    with bouncer.default_database():
        assert in_thread(client, acme) == ["Acme agent"]
        left = session_settings()
        assert left[0] and left[1] == ""  # the first client's mark, and no tenant once it was done
        # Another process's connection lands in the session the first one marked (a transaction
        # pooler resets nothing between clients): refused before its first query.
        with pytest.raises(SharedSessionError, match="used by another client") as refused:
            in_thread(client, globex)
    assert "transaction-mode pooler" in str(refused.value)
    assert session_settings() == left  # the refused client wrote nothing into the session


def test_session_mode_without_a_reset_is_refused_too(pooler, tenants):
    acme = tenants[0]
    bouncer = pooler(pool_mode="session", pool_size=1, reset_query="")

    def client():
        with tenant_scope(acme):
            return list(Agent.objects.values_list("name", flat=True))

    with bouncer.default_database():
        assert in_thread(client) == ["Acme agent"]  # it closes its connection: the session is free
        # The next client gets the same server session, still marked and still set to Acme.
        with pytest.raises(SharedSessionError):
            in_thread(client)


def test_session_mode_keeps_every_client_to_its_tenant_while_sessions_change_hands(pooler, tenants):
    """Six clients, two server sessions, each client connecting afresh for every unit of work (a
    request or task), some of them dropping their connection in the middle of a scope."""
    bouncer = pooler(pool_mode="session", pool_size=2)
    expected = {str(organization.pk): organization for organization in tenants}
    anomalies: list[str] = []
    sessions: dict[int, set[int]] = {}  # server backend pid -> the clients that used it
    lock = threading.Lock()

    def client(number: int):
        organization = tenants[number % len(tenants)]
        for round_ in range(20):
            with connection.cursor() as cursor:  # the server session's own pid (not pgbouncer's stand-in)
                cursor.execute("select pg_backend_pid()")
                pid = cursor.fetchone()[0]
            with lock:
                sessions.setdefault(pid, set()).add(number)
            with connection.cursor() as cursor:
                if seen := visible_organizations(cursor):
                    anomalies.append(f"client {number} saw {seen} before any scope")
            with tenant_scope(organization):
                with connection.cursor() as cursor:
                    seen = visible_organizations(cursor)
                if seen != [str(organization.pk)]:
                    anomalies.append(f"client {number} in {organization.name} saw {seen}")
                if round_ % 4 == 3:
                    connection.close()  # gone mid-scope, its tenant still set in the server session
                    continue
            with connection.cursor() as cursor:
                if seen := visible_organizations(cursor):
                    anomalies.append(f"client {number} saw {seen} after its scope")
            connection.close()

    with bouncer.default_database():
        threads = [threading.Thread(target=lambda n=n: _run(client, n, anomalies)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    assert anomalies == []
    # The pooler really did hand sessions from client to client: two sessions for six clients.
    assert len(sessions) <= 2
    assert all(len(clients) >= 2 for clients in sessions.values()), sessions
    assert set(expected) == {str(organization.pk) for organization in tenants}


def _run(function, number, anomalies):
    try:
        function(number)
    except Exception as error:  # noqa: BLE001 - reported by the test
        anomalies.append(f"client {number} failed: {error!r}")
    finally:
        connections.close_all()
