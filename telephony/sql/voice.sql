-- The SQL of the inbound voice webhook that lives in the database (telephony/services/inbound_calls.py
-- is the rest of the path). A customer's call must be answered while they hear silence: the contact,
-- the call and the request for a worker are written, committed and read back in one round trip.
--
-- Loaded by a migration (telephony/migrations/0007_voice_sql.py) with CREATE OR REPLACE. After
-- changing this file, add a migration that loads it again (as 0007 does): the test
-- tests/telephony/test_voice_sql.py fails while the database holds other definitions.
--
-- Everything runs with the caller's rights, as the application role: row-level security checks every
-- row against app.organization_id, which the procedure sets to the call's organization.


create or replace function telephony_call_drain_claim(p_organization uuid, p_id uuid, p_seconds double precision)
returns boolean language plpgsql as $$
-- Claim the request for a worker to bring the organization's new calls into their conversations,
-- unless one stands (see telephony.models.CallDrain). True if claimed: the caller asks a worker.
begin
    -- A read first: the upsert locks the row, and a lock would make the caller a writing transaction.
    if exists (select 1 from telephony_calldrain where requested_until > now()) then
        return false;
    end if;
    insert into telephony_calldrain (id, organization_id, requested_until)
        values (p_id, p_organization, now() + make_interval(secs => p_seconds))
        on conflict (organization_id) do update set requested_until = excluded.requested_until
        where telephony_calldrain.requested_until <= now();
    return found;
end
$$;


create or replace function telephony_inbound_call_insert(
    p_organization uuid, p_call uuid, p_number uuid, p_token_digest text, p_sid text, p_from text,
    p_contact uuid, p_address text, p_address_kind text)
returns table (
    call_id uuid, created boolean, call_status text, caller text, contact_id uuid, contact_name text,
    contact_number text, number_e164 text, number_label text, ring_timeout integer, greeting text,
    greeting_audio text, agent_id uuid, agent_kind text, agent_availability text, organization_name text,
    organization_slug text)
language plpgsql as $$
-- A customer called our number p_number (Twilio's CallSid p_sid, from p_from), whose account's
-- stored auth token has the digest p_token_digest (the webhook verified the request's signature with
-- the token it read under that digest, perhaps from its cache): the caller's contact
-- found or created (p_address is the caller's canonical address and p_address_kind its kind, null for
-- an anonymous caller), and the call stored as ringing once per CallSid (a retried webhook finds the
-- row and stores nothing). Returns one row, what the answer needs: the call, its contact, the number's
-- routing settings and its agent now; no row, and nothing written, when the number is not (or no
-- longer) the organization's or its account's token changed since (the caller reads the line again),
-- or when the CallSid is another tenant's call. Runs as the organization the session is set to
-- (row-level security).
declare
    v_number telephony_phonenumber%rowtype;
    v_contact uuid;
begin
    select n.* into v_number from telephony_phonenumber n
        join telephony_provideraccount a on a.id = n.provider_account_id
        where n.id = p_number and n.status <> 'inactive' and md5(a.auth_token) = p_token_digest;
    if not found then
        return;
    end if;
    if p_address is not null then
        -- A number of a contact merged into another reaches that other (crm.merges).
        select m.contact_id into v_contact from crm_contactmerge m
            where m.organization_id = p_organization and m.merged_address = p_address;
    end if;
    if p_address is not null and v_contact is null then
        insert into crm_contact (id, organization_id, phone_number, address_kind, name, email,
                                 whatsapp_profile_name, wa_id, profile_image_url, sms_opt_out_source,
                                 whatsapp_opt_out_source, notes, created_at, updated_at)
            values (p_contact, p_organization, p_address, p_address_kind, '', '', '', '', '', '', '', '',
                    now(), now())
            on conflict (organization_id, phone_number) do nothing;
        -- What the caller's address is may be known better now (a range libphonenumber learnt).
        update crm_contact k set address_kind = p_address_kind, updated_at = now()
            where k.organization_id = p_organization and k.phone_number = p_address
              and k.address_kind <> p_address_kind;
        select k.id into v_contact from crm_contact k
            where k.organization_id = p_organization and k.phone_number = p_address;
    end if;
    insert into telephony_call (
            id, organization_id, phone_number_id, agent_id, contact_id, direction, from_number, to_number,
            provider, provider_sid, child_sid, conference_name, conference_sid, on_hold, agent_leg_sid,
            transfer_state, transfer_mode, transfer_leg_sid, status, failure_reason, started_at,
            last_sequence, recording_sid, recording_url, voicemail, transcript, summary, ended_reason,
            notes, conversation_pending, created_at, updated_at)
        values (p_call, p_organization, v_number.id, v_number.agent_id, v_contact, 'inbound', p_from,
                v_number.phone_number, 'twilio', p_sid, '', '', '', false, '', '', '', '', 'ringing', '',
                now(), -1, '', '', false, '', '', '', '', true, now(), now())
        on conflict (provider, provider_sid) where provider_sid::text <> '' do nothing;
    created := found;
    select c.id, c.status, c.from_number, c.contact_id into call_id, call_status, caller, v_contact
        from telephony_call c where c.provider = 'twilio' and c.provider_sid = p_sid;
    if call_id is null then  -- another tenant's CallSid: row-level security hides it
        return;
    end if;
    select k.id, coalesce(nullif(k.name, ''), nullif(k.whatsapp_profile_name, ''), k.phone_number), k.phone_number
        into contact_id, contact_name, contact_number
        from crm_contact k where k.id = v_contact;
    select a.id, a.kind, a.availability into agent_id, agent_kind, agent_availability
        from tenants_agent a where a.id = v_number.agent_id;
    select o.name, o.slug into organization_name, organization_slug
        from tenants_organization o where o.id = p_organization;
    number_e164 := v_number.phone_number;
    number_label := coalesce(nullif(v_number.friendly_name, ''), v_number.phone_number);
    ring_timeout := v_number.ring_timeout;
    greeting := v_number.voicemail_greeting;
    greeting_audio := v_number.voicemail_greeting_audio;
    return next;
end
$$;


create or replace procedure telephony_inbound_calls_start(
    p_organizations uuid[], p_calls uuid[], p_numbers uuid[], p_token_digests text[], p_sids text[], p_froms text[],
    p_contacts uuid[], p_addresses text[], p_address_kinds text[], p_drain_ids uuid[], p_drain_seconds double precision,
    p_after_organization text, p_after_bypass text,
    inout calls jsonb default null, inout drain_claimed boolean[] default null)
language plpgsql as $$
-- The webhook's one round trip, for one call or several arriving at once (group commit, see
-- core/group_commit.py): each call stored as its own organization (telephony_inbound_call_insert),
-- all committed together (one flush of the write-ahead log), and only then, for each new call, the
-- request for a worker claimed (claiming after the commit is what makes the coalescing safe, see
-- CallDrain; an organization's first claim in a batch makes the request stand, so its later calls
-- claim nothing). `calls` is a JSON array with the insert's row for each call, or null where it
-- returned none. Called outside any transaction (tenants.rls.call_committing); leaves the session
-- with the caller's tenant setting (the p_after_* parameters).
declare
    n integer := coalesce(cardinality(p_calls), 0);
    v_row jsonb;
begin
    calls := '[]'::jsonb;
    drain_claimed := array_fill(false, array[n]);
    for i in 1 .. n loop
        perform set_config('app.organization_id', p_organizations[i]::text, false),
                set_config('app.bypass_rls', 'off', false);
        select to_jsonb(r) into v_row
            from telephony_inbound_call_insert(p_organizations[i], p_calls[i], p_numbers[i], p_token_digests[i],
                                               p_sids[i], p_froms[i], p_contacts[i], p_addresses[i],
                                               p_address_kinds[i]) r;
        calls := calls || jsonb_build_array(v_row);
    end loop;
    commit;
    for i in 1 .. n loop
        if (calls -> (i - 1) ->> 'created')::boolean then  -- a retried webhook asks for nothing
            perform set_config('app.organization_id', p_organizations[i]::text, false);
            drain_claimed[i] := telephony_call_drain_claim(p_organizations[i], p_drain_ids[i], p_drain_seconds);
        end if;
    end loop;
    perform set_config('app.organization_id', p_after_organization, false),
            set_config('app.bypass_rls', p_after_bypass, false);
end
$$;
