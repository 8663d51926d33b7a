"""The database itself keeps tenants apart (row-level security), under the ORM's scoping."""

import pytest
from django.db import DatabaseError, connection, transaction

from tenants.rls import BYPASS_SETTING, ORG_SETTING
from tenants.scoping import platform_scope, tenant_scope
from tests.security.conftest import tenant_models


def _rls_state():
    with connection.cursor() as cursor:
        cursor.execute(
            """
            select c.relname, c.relrowsecurity, c.relforcerowsecurity,
                   array(select polname::text from pg_policy p where p.polrelid = c.oid order by polname)
            from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = current_schema() and c.relkind = 'r'
            """
        )
        return {name: (enabled, forced, policies) for name, enabled, forced, policies in cursor.fetchall()}


def rls_problems() -> list[str]:
    state = _rls_state()
    problems = []
    for model in tenant_models():
        table = model._meta.db_table
        enabled, forced, policies = state.get(table, (False, False, []))
        if not enabled:
            problems.append(f"{table}: row-level security is not enabled")
        if not forced:
            problems.append(f"{table}: row-level security is not forced")
        if policies != ["platform_bypass", "tenant_isolation"]:
            problems.append(f"{table}: policies are {policies}")
    return problems


def raw_count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f'select count(*) from "{table}"')
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_every_tenant_table_has_forced_rls_and_its_policies():
    assert tenant_models(), "no tenant models found"
    assert rls_problems() == []


@pytest.mark.django_db
def test_dropping_a_policy_or_the_force_flag_is_detected():
    with transaction.atomic():
        sid = transaction.savepoint()
        with connection.cursor() as cursor:
            cursor.execute('drop policy tenant_isolation on "tenants_agent"')
            cursor.execute('alter table "tenants_client" no force row level security')
        assert sorted(rls_problems()) == [
            "tenants_agent: policies are ['platform_bypass']",
            "tenants_client: row-level security is not forced",
        ]
        transaction.savepoint_rollback(sid)
    assert rls_problems() == []


@pytest.mark.django_db
def test_the_connection_role_is_neither_superuser_nor_bypassrls():
    with connection.cursor() as cursor:
        cursor.execute("select rolsuper, rolbypassrls from pg_roles where rolname = current_user")
        assert cursor.fetchone() == (False, False)


@pytest.mark.django_db
def test_raw_sql_sees_only_the_scoped_tenants_rows(victim, org, other_org, attacker_client):
    table = "tenants_agent"
    assert raw_count(table) == 0  # no scope: nothing
    with tenant_scope(org):
        with connection.cursor() as cursor:
            cursor.execute(f'select distinct organization_id from "{table}"')
            assert [row[0] for row in cursor.fetchall()] == [org.pk]
    with tenant_scope(other_org):
        with connection.cursor() as cursor:
            cursor.execute(f'select distinct organization_id from "{table}"')
            assert [row[0] for row in cursor.fetchall()] == [other_org.pk]
    with platform_scope():
        assert raw_count(table) == 2
    assert raw_count(table) == 0


@pytest.mark.django_db
@pytest.mark.parametrize("model", tenant_models(), ids=lambda m: m._meta.label)
def test_without_a_scope_raw_sql_sees_no_rows_of_any_tenant_table(model, victim):
    with platform_scope():
        assert model.objects.exists(), f"build_world() creates no {model._meta.label}"
    assert raw_count(model._meta.db_table) == 0


@pytest.mark.django_db
def test_writing_another_tenants_row_from_inside_a_scope_is_refused(org, other_org, victim):
    agent = victim["agent"]
    with tenant_scope(other_org):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute('update "tenants_agent" set name = %s where id = %s', ["pwned", agent.pk])
            assert cursor.rowcount == 0  # invisible, so untouched
        with pytest.raises(DatabaseError, match="row-level security"):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    'insert into "tenants_client" (id, organization_id, name, email, notes, created_at, updated_at) '
                    "values (gen_random_uuid(), %s, 'smuggled', '', '', now(), now())",
                    [org.pk],
                )
    with tenant_scope(org):
        agent.refresh_from_db()
        assert agent.name == "Acme agent"


@pytest.mark.django_db
def test_scopes_restore_the_previous_setting_on_exit(org, other_org):
    def settings_now():
        with connection.cursor() as cursor:
            cursor.execute("select current_setting(%s, true), current_setting(%s, true)", [ORG_SETTING, BYPASS_SETTING])
            return cursor.fetchone()

    with tenant_scope(org):
        assert settings_now() == (str(org.pk), "off")
        with tenant_scope(other_org):
            assert settings_now() == (str(other_org.pk), "off")
        assert settings_now() == (str(org.pk), "off")
        with platform_scope():
            assert settings_now()[1] == "on"
        assert settings_now() == (str(org.pk), "off")
    assert settings_now() in (("", "off"), (None, None), ("", None))


@pytest.mark.django_db
def test_a_request_for_one_tenant_then_another_on_the_same_connection(victim, org, other_org, owner_client,
                                                                       attacker_client):
    first = owner_client.get("/api/acme/agents")
    assert [a["name"] for a in first.json()["results"]] == ["Acme agent"]
    backend_pid = connection.connection.info.backend_pid
    assert raw_count("tenants_agent") == 0  # the request left no tenant behind on the connection

    second = attacker_client.get("/api/globex/agents")
    assert [a["name"] for a in second.json()["results"]] == ["Globex agent"]
    assert connection.connection.info.backend_pid == backend_pid  # it was the same connection
    assert raw_count("tenants_agent") == 0


@pytest.mark.django_db(transaction=True)
def test_a_connection_opened_inside_a_scope_gets_the_tenant(org, victim):
    with tenant_scope(org):
        connection.close()  # as if the pool handed us a fresh connection mid-scope
        with connection.cursor() as cursor:
            cursor.execute('select count(*) from "tenants_agent"')
            assert cursor.fetchone()[0] == 1


@pytest.mark.django_db
def test_the_one_round_trip_fast_path_is_held_to_the_same_policy(org, other_org, victim):
    import uuid

    from tenants.rls import execute_in_tenant

    sql = ("insert into tenants_client (id, organization_id, name, email, notes, created_at, updated_at) "
           "values (%s, %s, %s, '', '', now(), now()) returning id")
    with pytest.raises(DatabaseError, match="row-level security"):
        with transaction.atomic():
            execute_in_tenant(other_org.pk, sql, [uuid.uuid4(), org.pk, "smuggled"])
    [(created,)] = execute_in_tenant(org.pk, sql, [uuid.uuid4(), org.pk, "legit"])
    assert raw_count("tenants_client") == 0  # and the connection is back to no tenant
    with tenant_scope(org):
        from tenants.models import Client

        assert Client.objects.filter(pk=created, name="legit").exists()


def _store_committed(organization, sid: str, payload: str = '{"Body": "hi"}'):
    """The webhook's committing procedure, called as messaging.services.events calls it."""
    import uuid

    from core.ids import uuid7
    from tenants.rls import call_committing

    stored, claimed = call_committing("messaging_inbound_events_store",
                                      [[organization.pk], [uuid7()], ["twilio"], [sid], [uuid.uuid4()], f"[{payload}]",
                                       [uuid7()], 2])
    return stored[0], claimed[0]


def _current_settings():
    with connection.cursor() as cursor:
        cursor.execute("select current_setting(%s, true), current_setting(%s, true)", [ORG_SETTING, BYPASS_SETTING])
        return cursor.fetchone()


@pytest.mark.django_db(transaction=True)
def test_the_committing_webhook_procedure_leaves_the_connection_as_it_found_it(org, other_org):
    """It sets the tenant itself and commits half-way; afterwards the session holds what the calling
    code's scope holds, on success and on error, and the row went to the tenant it was stored for."""
    assert _store_committed(org, "SMrls1") == (True, True)  # stored, and the first asks for a drain
    assert _current_settings() == ("", "off")
    assert raw_count("messaging_inboundevent") == 0  # no tenant on the connection: no rows visible

    with tenant_scope(other_org):
        assert _store_committed(org, "SMrls2") == (True, False)  # stored; a drain is already requested
        assert _current_settings() == (str(other_org.pk), "off")
        assert raw_count("messaging_inboundevent") == 0  # Globex's view: Acme's events are not in it

    with tenant_scope(org):
        with pytest.raises(DatabaseError, match="json"):
            _store_committed(org, "SMrls3", payload="{not json")
        # The failed call rolled back (nothing stored) and the connection still works, in this scope.
        assert _current_settings() == (str(org.pk), "off")
        with connection.cursor() as cursor:
            cursor.execute("select provider_sid from messaging_inboundevent order by provider_sid")
            assert [row[0] for row in cursor.fetchall()] == ["SMrls1", "SMrls2"]
    assert raw_count("messaging_inboundevent") == 0


@pytest.mark.django_db
def test_the_committing_procedure_refuses_to_run_inside_a_transaction(org):
    with pytest.raises(RuntimeError, match="cannot be called inside a transaction"):
        _store_committed(org, "SMrls4")


@pytest.mark.django_db(transaction=True)
def test_events_of_two_tenants_stored_together_each_go_to_their_own_tenant(org, other_org):
    """Group commit stores the webhooks of several tenants in one call: each row is inserted as its
    own organization (RLS checks each), and each tenant sees only its own."""
    import uuid

    from core.ids import uuid7
    from tenants.rls import call_committing

    stored, claimed = call_committing("messaging_inbound_events_store", [
        [org.pk, other_org.pk, org.pk], [uuid7(), uuid7(), uuid7()], ["twilio"] * 3, ["SMacme1", "SMglobex", "SMacme2"],
        [uuid.uuid4()] * 3, '[{"Body": "a1"}, {"Body": "g"}, {"Body": "a2"}]', [uuid7(), uuid7(), uuid7()], 2])
    assert stored == [True, True, True]
    assert claimed == [True, True, False]  # one drain request per tenant
    assert _current_settings() == ("", "off")
    for tenant, expected in [(org, [("SMacme1", "a1"), ("SMacme2", "a2")]), (other_org, [("SMglobex", "g")])]:
        with tenant_scope(tenant), connection.cursor() as cursor:
            cursor.execute("select provider_sid, payload->>'Body' from messaging_inboundevent order by provider_sid")
            assert cursor.fetchall() == expected
