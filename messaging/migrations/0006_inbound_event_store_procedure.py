# The inbound webhook's one round trip (see messaging.services.events.inbound_event_store).
# Two functions hold the insert and the claim; the procedure runs them around a COMMIT, and the
# service calls them directly when it runs inside a transaction (where COMMIT is not allowed).

from django.db import migrations

CREATE = """
create or replace function messaging_inbound_event_insert(
    p_organization uuid, p_id uuid, p_provider text, p_provider_sid text, p_phone_number uuid, p_payload jsonb)
returns boolean language plpgsql as $$
-- Store an inbound event once per provider id. True if this call stored it.
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
-- Claim the request for a drain of the organization's events unless one stands. True if claimed.
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

create or replace procedure messaging_inbound_event_store(
    p_organization uuid, p_id uuid, p_provider text, p_provider_sid text, p_phone_number uuid,
    p_payload jsonb, p_drain_id uuid, p_drain_seconds double precision,
    p_after_organization text, p_after_bypass text,
    inout stored boolean default null, inout drain_claimed boolean default null)
language plpgsql as $$
-- As the organization (row-level security applies: this runs with the caller's rights), store the
-- event, commit it, and only then claim a drain request: looking after the commit is what makes
-- the coalescing safe (see InboundDrain). Leaves the session with the caller's tenant setting.
begin
    perform set_config('app.organization_id', p_organization::text, false),
            set_config('app.bypass_rls', 'off', false);
    stored := messaging_inbound_event_insert(p_organization, p_id, p_provider, p_provider_sid,
                                             p_phone_number, p_payload);
    commit;
    drain_claimed := false;
    if stored then  -- a duplicate asks for nothing
        drain_claimed := messaging_inbound_drain_claim(p_organization, p_drain_id, p_drain_seconds);
    end if;
    perform set_config('app.organization_id', p_after_organization, false),
            set_config('app.bypass_rls', p_after_bypass, false);
end
$$;
"""

DROP = """
drop procedure if exists messaging_inbound_event_store;
drop function if exists messaging_inbound_drain_claim;
drop function if exists messaging_inbound_event_insert;
"""


class Migration(migrations.Migration):

    dependencies = [
        ("messaging", "0005_inbound_drain"),
    ]

    operations = [migrations.RunSQL(CREATE, DROP)]
