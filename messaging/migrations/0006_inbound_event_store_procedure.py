# The inbound webhook's one round trip (see messaging.services.events.inbound_event_store).

from django.db import migrations

CREATE = """
create or replace procedure messaging_inbound_event_store(
    p_organization uuid, p_id uuid, p_provider text, p_provider_sid text, p_phone_number uuid,
    p_payload jsonb, p_drain_id uuid, p_drain_seconds double precision,
    p_after_organization text, p_after_bypass text,
    inout stored boolean default null, inout drain_claimed boolean default null)
language plpgsql as $$
-- Store an inbound event once per provider id, as its organization (row-level security applies:
-- this runs with the caller's rights), commit it, and only then look whether a drain of the
-- organization's events is already requested; if none is, claim the request (the caller then asks
-- a worker). Looking after the commit is what makes the coalescing safe: see InboundDrain.
begin
    perform set_config('app.organization_id', p_organization::text, false),
            set_config('app.bypass_rls', 'off', false);
    insert into messaging_inboundevent (id, organization_id, provider, provider_sid, phone_number_id,
                                        payload, received_at)
        values (p_id, p_organization, p_provider, p_provider_sid, p_phone_number, p_payload, now())
        on conflict (provider_sid) do nothing;
    stored := found;
    drain_claimed := false;
    commit;
    -- A read first: the upsert below locks the row, and a lock would make this a writing transaction.
    if stored and not exists (select 1 from messaging_inbounddrain where requested_until > now()) then
        insert into messaging_inbounddrain (id, organization_id, requested_until)
            values (p_drain_id, p_organization, now() + make_interval(secs => p_drain_seconds))
            on conflict (organization_id) do update set requested_until = excluded.requested_until
            where messaging_inbounddrain.requested_until <= now();
        drain_claimed := found;
    end if;
    perform set_config('app.organization_id', p_after_organization, false),
            set_config('app.bypass_rls', p_after_bypass, false);
end
$$;
"""

DROP = "drop procedure if exists messaging_inbound_event_store"


class Migration(migrations.Migration):

    dependencies = [
        ("messaging", "0005_inbound_drain"),
    ]

    operations = [migrations.RunSQL(CREATE, DROP)]
