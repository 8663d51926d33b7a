# The webhook's one round trip, for several events at once (group commit, see
# messaging.services.events): each event is stored as its own organization, all of them are
# committed together (one flush of the write-ahead log), and only then each organization's drain
# request is claimed. A batch of one is the single webhook's call; it replaces the single-event
# procedure of 0006, whose two functions it uses.

import importlib

from django.db import migrations

CREATE = """
drop procedure if exists messaging_inbound_event_store;

create or replace procedure messaging_inbound_events_store(
    p_organizations uuid[], p_ids uuid[], p_providers text[], p_provider_sids text[], p_phone_numbers uuid[],
    p_payloads jsonb, p_drain_ids uuid[], p_drain_seconds double precision,
    p_after_organization text, p_after_bypass text,
    inout stored boolean[] default null, inout drain_claimed boolean[] default null)
language plpgsql as $$
-- p_payloads is a JSON array, one payload per event. Row-level security applies to every insert
-- (this runs with the caller's rights, as each event's organization). Claiming after the commit is
-- what makes the coalescing safe (see InboundDrain); an organization's first claim in a batch makes
-- the request stand, so its later events claim nothing. Leaves the session with the caller's
-- tenant setting.
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
"""

# Undone: this procedure dropped, 0006's created again.
PREVIOUS = importlib.import_module("messaging.migrations.0006_inbound_event_store_procedure").CREATE


class Migration(migrations.Migration):

    dependencies = [
        ("messaging", "0006_inbound_event_store_procedure"),
    ]

    operations = [migrations.RunSQL(CREATE, "drop procedure if exists messaging_inbound_events_store;\n" + PREVIOUS)]
