-- The SQL of the inbound pipeline that lives in the database (messaging/services/events.py is the
-- rest of the pipeline, top to bottom). The webhook stores an event and asks for a drain in one round
-- trip: a procedure can COMMIT between the two, which a statement sent from Python cannot.
--
-- Loaded by a migration (messaging/migrations/0009_inbound_sql.py) with CREATE OR REPLACE. After
-- changing this file, add a migration that loads it again (as 0009 does): the test
-- tests/messaging/test_inbound_sql.py fails while the database holds other definitions.
--
-- Everything runs with the caller's rights, as the application role: row-level security checks every
-- row against app.organization_id, which the procedure sets to each event's organization.


create or replace function messaging_inbound_event_insert(
    p_organization uuid, p_id uuid, p_provider text, p_provider_sid text, p_phone_number uuid, p_payload jsonb)
returns boolean language plpgsql as $$
-- Store an inbound event once per provider id. True if this call stored it. The columns it does not
-- name (attempts, last_error, next_attempt_at, failed_at) take their database defaults.
begin
    insert into messaging_inboundevent (id, organization_id, provider, provider_sid, phone_number_id,
                                        payload, received_at)
        values (p_id, p_organization, p_provider, p_provider_sid, p_phone_number, p_payload, now())
        on conflict (provider_sid) do nothing;
    return found;
end
$$;


create or replace function messaging_inbound_drain_claim(
    p_organization uuid, p_id uuid, p_seconds double precision)
returns boolean language plpgsql as $$
-- Claim the request for a drain of the organization's events unless one stands (see InboundDrain).
-- True if claimed: the caller then asks a worker for a drain.
begin
    -- A read first: the upsert locks the row, and a lock would make the caller a writing transaction.
    if exists (select 1 from messaging_inbounddrain where requested_until > now()) then
        return false;
    end if;
    insert into messaging_inbounddrain (id, organization_id, requested_until)
        values (p_id, p_organization, now() + make_interval(secs => p_seconds))
        on conflict (organization_id) do update set requested_until = excluded.requested_until
        where messaging_inbounddrain.requested_until <= now();
    return found;
end
$$;


create or replace procedure messaging_inbound_events_store(
    p_organizations uuid[], p_ids uuid[], p_providers text[], p_provider_sids text[], p_phone_numbers uuid[],
    p_payloads jsonb, p_drain_ids uuid[], p_drain_seconds double precision,
    p_after_organization text, p_after_bypass text,
    inout stored boolean[] default null, inout drain_claimed boolean[] default null)
language plpgsql as $$
-- The webhook's one round trip, for one event or several at once (group commit): each event is
-- inserted as its own organization, all of them are committed together (one flush of the
-- write-ahead log), and only then each organization's drain request is claimed. Claiming after the
-- commit is what makes the coalescing safe (see InboundDrain); an organization's first claim in a
-- batch makes the request stand, so its later events claim nothing. p_payloads is a JSON array, one
-- payload per event. Called outside any transaction (tenants.rls.call_committing); leaves the
-- session with the caller's tenant setting (the p_after_* parameters).
declare
    n integer := coalesce(cardinality(p_ids), 0);
begin
    stored := array_fill(false, array[n]);
    drain_claimed := array_fill(false, array[n]);
    for i in 1 .. n loop
        perform set_config('app.organization_id', p_organizations[i]::text, false),
                set_config('app.bypass_rls', 'off', false);
        stored[i] := messaging_inbound_event_insert(p_organizations[i], p_ids[i], p_providers[i],
                                                    p_provider_sids[i], p_phone_numbers[i], p_payloads -> (i - 1));
    end loop;
    commit;
    for i in 1 .. n loop
        if stored[i] then  -- a duplicate asks for nothing
            perform set_config('app.organization_id', p_organizations[i]::text, false);
            drain_claimed[i] := messaging_inbound_drain_claim(p_organizations[i], p_drain_ids[i], p_drain_seconds);
        end if;
    end loop;
    perform set_config('app.organization_id', p_after_organization, false),
            set_config('app.bypass_rls', p_after_bypass, false);
end
$$;
