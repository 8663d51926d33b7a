"""The inbound pipeline's SQL (messaging/sql/inbound.sql), called directly, as the application role
that the webhook runs as: row-level security applies to every row."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from django.db import DatabaseError, DataError, connection, transaction

import messaging
from core.ids import uuid7
from tenants.rls import call_committing
from tenants.scoping import tenant_scope
from tests.sql_files import assert_database_runs, assert_newest_loader_matches

SQL_FILE = Path(messaging.__file__).parent / "sql" / "inbound.sql"
def insert(organization, sid: str, payload: str = '{"Body": "hi"}') -> bool:
    with connection.cursor() as cursor:
        cursor.execute("select messaging_inbound_event_insert(%s, %s, 'twilio', %s, %s, %s::jsonb)",
                       [organization.pk, uuid7(), sid, uuid.uuid4(), payload])
        return cursor.fetchone()[0]


def claim(organization) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("select messaging_inbound_drain_claim(%s, %s, 2)", [organization.pk, uuid7()])
        return cursor.fetchone()[0]


def stored_events(organization) -> list[tuple[str, str]]:
    with tenant_scope(organization), connection.cursor() as cursor:
        cursor.execute("select provider_sid, payload->>'Body' from messaging_inboundevent order by provider_sid")
        return cursor.fetchall()


def store_committed(organizations, sids: list[str], bodies: list[str]) -> tuple[list[bool], list[bool]]:
    """The webhook's one round trip (group commit) for these events."""
    payloads = "[" + ",".join(f'{{"Body": "{body}"}}' for body in bodies) + "]"
    return call_committing("messaging_inbound_events_store", [
        [o.pk for o in organizations], [uuid7() for _ in sids], ["twilio"] * len(sids), sids,
        [uuid.uuid4()] * len(sids), payloads, [uuid7() for _ in sids], 2])


def session_tenant() -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("select current_setting('app.organization_id', true), current_setting('app.bypass_rls', true)")
        return cursor.fetchone()


def test_a_change_to_the_file_comes_with_a_migration_that_loads_it():
    assert_newest_loader_matches("messaging", SQL_FILE)  # see 0009_inbound_sql


@pytest.mark.django_db
def test_the_database_runs_what_the_file_says():
    assert_database_runs(SQL_FILE, ["messaging_inbound_drain_claim", "messaging_inbound_event_insert",
                                    "messaging_inbound_events_store"])


@pytest.mark.django_db
def test_they_run_as_an_application_role_that_row_level_security_binds():
    with connection.cursor() as cursor:
        cursor.execute("select rolsuper, rolbypassrls from pg_roles where rolname = current_user")
        assert cursor.fetchone() == (False, False)


@pytest.mark.django_db
def test_a_duplicate_insert_stores_nothing(org):
    with tenant_scope(org):
        assert insert(org, "SMdup", '{"Body": "first"}') is True
        assert insert(org, "SMdup", '{"Body": "again"}') is False
    assert stored_events(org) == [("SMdup", "first")]


@pytest.mark.django_db
def test_an_event_is_stored_only_as_its_own_organization(org, other_org):
    with tenant_scope(other_org), pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
        insert(org, "SMforeign")
    with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
        insert(org, "SMnobody")  # no tenant at all
    assert stored_events(org) == []
    with tenant_scope(other_org):
        assert insert(other_org, "SMforeign") is True  # its own
    assert stored_events(org) == [] and stored_events(other_org) == [("SMforeign", "hi")]


@pytest.mark.django_db
def test_the_drain_claim_coalesces_per_organization(org, other_org):
    with tenant_scope(org):
        assert claim(org) is True
        assert claim(org) is False  # the request stands: nobody else asks
    with tenant_scope(other_org):
        assert claim(other_org) is True  # another tenant's standing request is not this one's
    with tenant_scope(org), connection.cursor() as cursor:
        cursor.execute("update messaging_inbounddrain set requested_until = now() - interval '1 second'")
        assert claim(org) is True  # lapsed (the drain spent it, or its task was lost): asked again
        assert claim(org) is False
        cursor.execute("select count(*) from messaging_inbounddrain")
        assert cursor.fetchone()[0] == 1  # one row per organization, claimed again in place


@pytest.mark.django_db(transaction=True)
def test_a_batch_stores_each_event_as_its_organization_and_claims_once_each(org, other_org):
    stored, claimed = store_committed([org, other_org, org, org], ["SMa", "SMg", "SMb", "SMa"], ["a", "g", "b", "x"])
    assert stored == [True, True, True, False]  # SMa twice in one batch: stored once
    assert claimed == [True, True, False, False]  # one drain asked for per organization
    assert stored_events(org) == [("SMa", "a"), ("SMb", "b")]
    assert stored_events(other_org) == [("SMg", "g")]
    assert session_tenant() == ("", "off")  # the caller's setting again


@pytest.mark.django_db(transaction=True)
def test_a_batch_with_one_bad_row_stores_none_of_it(org):
    """The batch is one transaction: one row PostgreSQL refuses (a provider id longer than the column)
    and nothing of it is stored, nor any drain claimed; the group commit then stores each event
    alone (tests/messaging/test_inbound.py)."""
    with tenant_scope(org):
        with pytest.raises(DataError):
            store_committed([org] * 3, ["SMa", "SM" + "x" * 200, "SMb"], ["a", "bad", "b"])
        assert session_tenant() == (str(org.pk), "off")
    assert stored_events(org) == []
    with tenant_scope(org), connection.cursor() as cursor:
        cursor.execute("select count(*) from messaging_inbounddrain")
        assert cursor.fetchone()[0] == 0
    assert store_committed([org, org], ["SMa", "SMb"], ["a", "b"]) == ([True, True], [True, False])
    assert stored_events(org) == [("SMa", "a"), ("SMb", "b")]

