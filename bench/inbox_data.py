"""A large inbox for benchmarks: one organization the size of the inbox issue's target.

`ensure_inbox_data()` makes sure the benchmark database (see bench/common.py) holds organization
`bench-inbox` with, by default:

- a Twilio account, 3 phone numbers and 5 human agents (users, memberships, Agent rows), made
  through the ORM and the tenant services like any organization;
- 100,000 contacts with names combined from 209 first and 204 last names (common ones drawn more
  often, as in life), each with a distinct E.164 number (85 % North American, 10 % UK mobiles, 5 %
  German mobiles), 30 % with an email address, WhatsApp contacts with a profile name, 1 % opted out
  of SMS;
- 100,000 conversations, one per contact (20 % WhatsApp through Twilio, the rest SMS), last active
  over the last 90 days (more of them recently). Status depends on age: of the conversations active
  in the last 7 days 45 % are open, of the older ones 12 %: about 16 % open, 4 % pending, 3 %
  snoozed, 77 % done. About 3 % unread (a fixed share of the open ones, see UNREAD_SQL), assignees
  spread over the 5 agents with 20 % unassigned, 12 % with one or two labels;
- 1,000,000 messages, 1 to 30 per conversation (10 on average, most conversations short, a long
  tail up to 30), the first always inbound, then mostly alternating customer and agent, 3 % private
  notes (never the last one), 3 % of the others after the first with a picture. created_at runs
  from the conversation's start to its last_message_at (the last message is exactly at
  last_message_at, and its text is the preview).
  Bodies are built from templates and vocabularies so that full-text search meets common words
  ("thanks", "order", "delivery" in a large share of messages), moderately common ones (about 60
  products, 209 first names, since agents greet customers by name) and rare ones: each conversation
  has its own 5-digit order number ("order 48213", one of 90,000, so shared by one or two
  conversations) and its own tracking code ("TRK3F9A0C21B7").

Everything is generated in SQL (INSERT ... SELECT over generate_series) in one transaction, so a
failed run leaves nothing behind. The three big tables' secondary indexes, unique and foreign-key
constraints are dropped inside that transaction and rebuilt after the load (each exactly as
PostgreSQL reports its definition), which is several times faster than maintaining them row by row;
then VACUUM (ANALYZE). Ids are PostgreSQL 18's uuidv7() shifted to each row's creation time, so they
are time-ordered as the application's own uuid7 ids are.

Generation is skipped when the organization already holds the requested number of messages. A
partial or different-sized organization of that slug is deleted first. About 75 s on the
2-vCPU benchmark machine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.db import connection, transaction

SLUG = "bench-inbox"
AGENT_NAMES = ["Alice Moreau", "Ben Okafor", "Chloé Martin", "Diego Alvarez", "Emma Lindqvist"]
NUMBERS = ["+14155550311", "+14155550312", "+14155550313"]
TWILIO_SID = "AC" + "1" * 32

# Contact numbers with a conversation's unread state: a fixed rule over the conversation's id, so
# that a benchmark can put back what opening conversations cleared (see reset_unread).
UNREAD_SQL = "(status = 'open' and mod(abs(hashtext(id::text)::bigint), 1000) < 190)"
UNREAD_COUNT_SQL = "(1 + mod(abs(hashtext(id::text)::bigint), 3))::int"

# Roughly by frequency: earlier names are drawn more often.
FIRST_NAMES = """James Mary John Patricia Robert Jennifer Michael Linda David Elizabeth William Barbara Richard
Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy Matthew Betty Anthony Sandra Mark
Margaret Donald Ashley Steven Kimberly Paul Emily Andrew Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian
Melissa George Deborah Timothy Stephanie Ronald Rebecca Edward Sharon Jason Laura Jeffrey Cynthia Ryan Kathleen
Jacob Amy Gary Angela Nicholas Shirley Eric Anna Jonathan Brenda Stephen Pamela Larry Emma Justin Nicole Scott
Helen Brandon Samantha Benjamin Katherine Samuel Christine Gregory Debra Alexander Rachel Frank Carolyn Patrick
Janet Raymond Catherine Jack Maria Dennis Heather Jerry Diane Tyler Ruth Aaron Julie Jose Olivia Adam Joyce
Nathan Virginia Henry Victoria Douglas Kelly Zachary Lauren Peter Christina Kyle Joan Ethan Evelyn Walter Judith
Noah Megan Jeremy Andrea Christian Cheryl Keith Hannah Roger Jacqueline Terry Martha Gerald Gloria Harold Teresa
Sean Ann Austin Sara Carl Madison Arthur Frances Lawrence Kathryn Dylan Janice Jesse Jean Jordan Abigail Bryan
Alice Billy Judy Joe Sophia Bruce Grace Gabriel Denise Logan Amber Albert Doris Willie Marilyn Alan Danielle Juan
Beverly Wayne Isabella Elijah Theresa Randy Diana Roy Natalie Vincent Brittany Ralph Charlotte Eugene Marie Russell
Kayla Bobby Alexis Mason Lori Philip Priya Mohammed Wei Aisha Hiroshi Fatima Lukas Ingrid Mateo Yuki Oluwaseun
Siobhan""".split()

LAST_NAMES = """Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez
Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis
Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera
Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris
Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward
Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel
Myers Long Ross Foster Jimenez Powell Jenkins Perry Russell Sullivan Bell Coleman Butler Henderson Barnes Gonzales
Fisher Vasquez Simmons Romero Jordan Patterson Alexander Hamilton Graham Reynolds Griffin Wallace Moreno West Cole
Hayes Bryant Herrera Gibson Ellis Tran Medina Aguilar Stevens Murray Ford Castro Marshall Owens Harrison Fernandez
McDonald Woods Washington Kennedy Wells Vargas Henry Chen Freeman Webb Tucker Guzman Burns Crawford Olson Simpson
Porter Hunter Gordon Mendez Silva Shaw Snyder Mason Dixon Munoz Hunt Hicks Holmes Palmer Wagner Black Robertson Boyd
Rose Stone Salazar Fox Warren Mills Meyer Rice Schmidt Garza Daniels Ferguson Nichols Stephens Soto Weaver Ryan
Gardner Payne Grant Dunn Kowalski Okonkwo Nakamura Johansson Rossi Dubois Novak""".split()

PRODUCTS = ["wireless earbuds", "espresso machine", "yoga mat", "standing desk", "hiking boots", "air fryer",
            "phone case", "smart watch", "linen shirt", "rain jacket", "desk lamp", "office chair", "blender",
            "backpack", "sunglasses", "water bottle", "running shoes", "bluetooth speaker", "coffee grinder",
            "throw blanket", "electric kettle", "laptop sleeve", "gaming mouse", "mechanical keyboard",
            "cast-iron skillet", "chef knife", "duvet cover", "bath towels", "winter coat", "leather wallet",
            "denim jacket", "wool scarf", "tourmaline pendant", "merino cardigan", "bamboo cutting board",
            "ceramic vase", "scented candle", "photo frame", "plant pot", "picnic basket", "camping tent",
            "sleeping bag", "bike helmet", "tennis racket", "swim goggles", "kids scooter", "baby monitor",
            "dog bed", "cat tree", "aquarium filter", "tablet stand", "usb charger", "hdmi cable",
            "robot vacuum", "hair dryer", "electric toothbrush", "travel adapter", "suitcase", "watercolor set",
            "sewing machine"]
COLORS = ["black", "white", "navy", "red", "green", "grey", "beige", "pink", "teal", "burgundy"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "tomorrow", "next week"]
TIMES = ["9am", "10am", "11:30", "noon", "2pm", "3:30pm", "5pm", "6pm"]
DOMAINS = ["gmail.com", "outlook.com", "yahoo.com", "icloud.com", "proton.me", "hotmail.co.uk", "web.de"]
LABELS = ["vip", "billing", "shipping", "refund", "complaint", "wholesale", "follow-up"]
AREA_CODES = ["212", "213", "305", "312", "404", "415", "469", "503", "512", "602", "617", "646", "702", "713",
              "718", "720", "773", "818", "917", "416"]

# {first} customer's first name, {agent} the assignee's first name, {order} the conversation's order
# number, {track} its tracking code, {product}, {color}, {day}, {time}, {amount}.
OPENING = [
    "Hi, where is my order {order}? It was supposed to arrive {day}.",
    "Hello! I ordered a {color} {product} last week and haven't received it yet.",
    "Can I change the delivery address for order {order}?",
    "Do you have the {product} in {color}?",
    "My {product} arrived damaged. Order {order}.",
    "Hi, I'd like to return the {product} from order {order}.",
    "What are your opening hours on {day}?",
    "Is there a discount code for the {product}?",
    "Hello, I was charged twice for order {order}, please help",
    "Hi there, is the {product} still on sale?",
]
INBOUND = [
    "Thanks!", "Ok thanks", "Thank you so much!", "Great, thanks for the quick reply.", "Yes please",
    "No, that's all", "When will it arrive?", "Can you call me back at {time}?",
    "The tracking number {track} doesn't work", "Still nothing, it's been a week.", "Perfect, thanks",
    "I'll be home after {time}.", "Could you send it to my office instead?", "Is it possible to get a refund instead?",
    "Got it, thanks {agent}!", "The {color} one please.", "Any update on order {order}?",
    "It arrived today, thanks for your help!", "Can I pick it up in store on {day}?",
    "Please cancel order {order}.", "How long does delivery usually take?", "ok",
]
GREETING = [
    "Hi {first}, thanks for reaching out! Let me check order {order} for you.",
    "Hello {first}! I'm {agent}, happy to help. Could you give me your order number?",
    "Hi {first}, sorry to hear that. I'm looking into it now.",
    "Hi {first}, thanks for your message. One moment please.",
]
OUTBOUND = [
    "Your order {order} has shipped, tracking number {track}.",
    "It should arrive on {day} before {time}.",
    "I've issued a refund of ${amount} for order {order}; it takes 3 to 5 business days.",
    "A replacement {product} is on its way at no charge.",
    "We're open 9am to 6pm Monday to Saturday, closed on Sunday.",
    "You're welcome! Anything else I can help with?",
    "I've updated the delivery address on order {order}.",
    "The {product} is back in stock in {color}.",
    "Here's a 10% code for your next order: THANKS10",
    "Sorry for the wait, {first}. The courier confirmed delivery for {day}.",
    "Could you send me a photo of the damage please?",
    "Thanks {first}, have a great day!",
]
NOTES = [
    "Customer called about order {order}, refund approved by {agent}.",
    "VIP customer, handle with care.",
    "Escalated to billing: double charge on order {order}.",
    "Waiting for the courier's reply about {track}.",
]


@dataclass
class InboxData:
    organization: object
    agents: list  # Agent rows, in AGENT_NAMES order
    users: list  # their users
    numbers: list  # PhoneNumber rows
    generated_seconds: float | None  # None when the data was already there


def _fill(template_sql: str) -> str:
    """SQL replacing every placeholder of a template expression, from columns of the message row."""
    expr = template_sql
    for name, value in [("first", "first"), ("agent", "agent_first"), ("order", "order_no::text"),
                        ("track", "track"), ("product", "product"), ("color", "color"),
                        ("day", "(%(days)s::text[])[1 + (j + order_no) %% cardinality(%(days)s::text[])]"),
                        ("time", "(%(times)s::text[])[1 + (j * 7 + order_no) %% cardinality(%(times)s::text[])]"),
                        ("amount", "((order_no %% 300) + 9)::text || '.99'")]:
        expr = f"replace({expr}, '{{{name}}}', {value})"
    return expr


def _pick(array: str, u: str) -> str:
    return f"(%({array})s::text[])[1 + floor({u} * cardinality(%({array})s::text[]))::int]"


def _message_count(organization) -> int:
    from messaging.models import Message
    from tenants.scoping import tenant_scope

    with tenant_scope(organization):
        return Message.objects.filter(organization=organization).count()


def ensure_inbox_data(*, conversations: int = 100_000, messages: int = 1_000_000, slug: str = SLUG,
                      log=print) -> InboxData:
    """The benchmark organization with `conversations` conversations and exactly `messages`
    messages, generated unless already there. Needs django.setup() and the benchmark database."""
    from tenants.models import Organization
    from tenants.scoping import platform_scope

    with platform_scope():
        organization = Organization.objects.filter(slug=slug).first()
    if organization is not None and _message_count(organization) == messages:
        return _load(organization, None)
    if organization is not None:
        log(f"organization {slug} is incomplete or of another size: deleting it")
        wipe(slug)
    log(f"generating {slug}: {conversations:,} contacts and conversations, {messages:,} messages ...")
    started = time.perf_counter()
    organization = _generate(slug=slug, conversations=conversations, messages=messages, log=log)
    seconds = time.perf_counter() - started
    log(f"generated in {seconds:.0f} s")
    return _load(organization, seconds)


def _load(organization, seconds) -> InboxData:
    from telephony.models import PhoneNumber
    from tenants.models import Agent
    from tenants.scoping import tenant_scope

    with tenant_scope(organization):
        agents = list(Agent.objects.filter(organization=organization, kind="human").select_related("user")
                      .order_by("created_at"))
        numbers = list(PhoneNumber.objects.filter(organization=organization).order_by("phone_number"))
    return InboxData(organization, agents, [a.user for a in agents], numbers, seconds)


def wipe(slug: str = SLUG) -> None:
    """Delete the organization and all its rows (the big tables in SQL, the rest through the ORM)."""
    from tenants.models import Organization
    from tenants.scoping import platform_scope

    with platform_scope():
        organization = Organization.objects.filter(slug=slug).first()
        if organization is None:
            return
        with transaction.atomic(), connection.cursor() as cursor:
            for table in ("messaging_message", "messaging_conversation", "crm_contact"):
                cursor.execute(f"delete from {table} where organization_id = %s", [organization.pk])
            organization.delete()


def reset_unread(organization) -> int:
    """Put back the generated unread state (opening a conversation in a benchmark clears it), and
    updated_at for the rows so changed. Returns how many rows changed."""
    from tenants.rls import execute_in_tenant

    rows = execute_in_tenant(
        organization.pk,
        f"with fix as (select id, case when {UNREAD_SQL} then {UNREAD_COUNT_SQL} else 0 end as unread "
        "from messaging_conversation where organization_id = %s) "
        "update messaging_conversation c set unread_count = fix.unread, updated_at = c.last_message_at "
        "from fix where c.id = fix.id and c.unread_count <> fix.unread returning 1",
        [organization.pk])
    return len(rows)


# Generation ---------------------------------------------------------------------------------------

_BIG_TABLES = ("crm_contact", "messaging_conversation", "messaging_message")


def _drop_secondary(cursor) -> list[str]:
    """Drop the big tables' foreign keys, unique constraints and non-primary indexes (inside the
    generating transaction); return the statements that rebuild them, in a valid order."""
    tables = list(_BIG_TABLES)
    cursor.execute(
        "select conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid) from pg_constraint "
        "where contype in ('f', 'u') and (conrelid::regclass::text = any(%s) or confrelid::regclass::text = any(%s))",
        [tables, tables])
    constraints = cursor.fetchall()
    cursor.execute(
        "select i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) from pg_index i "
        "where i.indrelid::regclass::text = any(%s) and not i.indisprimary "
        "and not exists (select 1 from pg_constraint c where c.conindid = i.indexrelid)", [tables])
    indexes = cursor.fetchall()
    # Dropping a foreign key alters the referenced table too, which refuses while rows inserted
    # earlier in this transaction still wait for their deferred checks: run those now.
    cursor.execute("set constraints all immediate")
    for table, name, _, _ in constraints:
        cursor.execute(f'alter table "{table}" drop constraint "{name}"')
    for name, _ in indexes:
        cursor.execute(f'drop index "{name}"')
    rebuild = [f'alter table "{table}" add constraint "{name}" {definition}'
               for table, name, kind, definition in constraints if kind == "u"]
    rebuild += [definition for _, definition in indexes]
    rebuild += [f'alter table "{table}" add constraint "{name}" {definition}'
                for table, name, kind, definition in constraints if kind == "f"]
    return rebuild


def _generate(*, slug: str, conversations: int, messages: int, log) -> object:
    from django.contrib.auth import get_user_model

    from telephony.models import PhoneNumber, Provider, ProviderAccount
    from tenants import services as tenant_services
    from tenants.models import AgentKind, Membership, Role
    from tenants.scoping import tenant_scope

    User = get_user_model()
    step = time.perf_counter()

    def done(what: str) -> None:
        nonlocal step
        now = time.perf_counter()
        log(f"  {what}: {now - step:.1f} s")
        step = now

    with transaction.atomic():
        users = []
        for index, name in enumerate(AGENT_NAMES, start=1):
            first, last = name.split()
            user, _ = User.objects.get_or_create(username=f"{slug}-agent-{index}", defaults={
                "email": f"{slug}-agent-{index}@example.com", "first_name": first, "last_name": last})
            users.append(user)
        organization = tenant_services.organization_create(name="Inbox benchmark", slug=slug, owner=users[0])
        with tenant_scope(organization), connection.cursor() as cursor:
            for user in users[1:]:
                Membership.objects.create(organization=organization, user=user, role=Role.AGENT)
            agents = [tenant_services.agent_create(organization=organization, actor=users[0], name=name,
                                                   kind=AgentKind.HUMAN, user=user)
                      for name, user in zip(AGENT_NAMES, users, strict=True)]
            account = ProviderAccount.objects.create(organization=organization, provider=Provider.TWILIO,
                                                     friendly_name="Bench Twilio", account_sid=TWILIO_SID,
                                                     auth_token="bench-inbox-token")
            numbers = [PhoneNumber.objects.create(
                organization=organization, provider_account=account, phone_number=number,
                friendly_name=["Support", "Sales", "Returns"][i], provider_sid=f"PN{i + 1:032d}",
                capabilities={"sms": True, "mms": True, "voice": True}, source="imported")
                for i, number in enumerate(NUMBERS)]
            done("organization, agents, numbers")

            cursor.execute("set local maintenance_work_mem = '512MB'")
            cursor.execute("set local work_mem = '256MB'")
            cursor.execute("set local synchronous_commit = off")
            cursor.execute("select setseed(0.4213)")
            rebuild = _drop_secondary(cursor)
            params = {
                "org": organization.pk, "n": conversations, "messages": messages,
                "firsts": FIRST_NAMES, "lasts": LAST_NAMES, "products": PRODUCTS, "colors": COLORS,
                "days": DAYS, "times": TIMES, "domains": DOMAINS, "labels": LABELS, "areas": AREA_CODES,
                "numbers": [n.pk for n in numbers], "agents": [a.pk for a in agents],
                "agent_firsts": [n.split()[0] for n in AGENT_NAMES], "users": [u.pk for u in users],
                "opening": OPENING, "inbound": INBOUND, "greeting": GREETING, "outbound": OUTBOUND, "notes": NOTES,
            }
            _plan_conversations(cursor, params)
            done("conversation plan (temporary table)")
            _insert_contacts(cursor, params)
            done(f"{conversations:,} contacts")
            _insert_messages(cursor, params)
            done(f"{messages:,} messages")
            _insert_conversations(cursor, params)
            done(f"{conversations:,} conversations")
            for statement in rebuild:
                cursor.execute(statement)
            done(f"{len(rebuild)} indexes and constraints rebuilt")
    with connection.cursor() as cursor:
        for table in _BIG_TABLES:
            cursor.execute(f'vacuum (analyze) "{table}"')
    done("vacuum (analyze)")
    return organization


def _plan_conversations(cursor, params) -> None:
    """One row per contact and conversation with everything later steps draw from."""
    cursor.execute("""
        create temporary table bench_plan (
            i int primary key, contact_id uuid, conv_id uuid, first text, last text, phone text, email text,
            channel text, phone_number_id uuid, assignee_id uuid, agent_first text, author_id uuid,
            status text, snoozed_until timestamptz, unread int, labels text[], opted_out boolean,
            first_at timestamptz, last_at timestamptz, n int, order_no int, track text, product text, color text
        ) on commit drop""")
    # Volatile random() in a subquery's select list is evaluated once per row (PostgreSQL does not
    # pull such a subquery up), so each u_* is one draw that later expressions may use repeatedly.
    cursor.execute(f"""
        insert into bench_plan
        select i, uuidv7(first_at - now()), uuidv7(first_at - now()), first, last, phone,
               case when u_email < 0.3 then lower(first || '.' || last || (i %% 97)::text) || '@' ||
                    {_pick("domains", "u_domain")} else '' end,
               channel, phone_number_id, assignee_id,
               agent_first,
               author_id, status,
               case when status = 'snoozed' then now() + interval '1 hour' * (1 + 300 * u_snooze) end,
               0,  -- unread: set below from the id, by UNREAD_SQL
               case when u_label < 0.03 then array[(%(labels)s::text[])[1 + i %% 7], (%(labels)s::text[])[1 + (i + 3) %% 7]]
                    when u_label < 0.12 then array[(%(labels)s::text[])[1 + i %% 7]] else '{{}}'::text[] end,
               u_optout < 0.01,
               first_at, last_at, n, order_no, 'TRK' || upper(substr(md5(i::text || 'trk'), 1, 10)),
               {_pick("products", "u_product")}, {_pick("colors", "u_color")}
        from (
            select t.*, last_at - interval '1 minute' * (2 + 20000 * power(u_span, 3)) as first_at,
                   case when last_at > now() - interval '7 days' then
                        case when u_status < 0.45 then 'open' when u_status < 0.55 then 'pending'
                             when u_status < 0.62 then 'snoozed' else 'done' end
                   else case when u_status < 0.12 then 'open' when u_status < 0.15 then 'pending'
                             when u_status < 0.17 then 'snoozed' else 'done' end end as status
            from (
                select i, u_email, u_domain, u_snooze, u_label, u_optout, u_span, u_status, u_product, u_color,
                       (%(firsts)s::text[])[1 + floor(cardinality(%(firsts)s::text[]) * power(u_first, 1.7))::int] as first,
                       (%(lasts)s::text[])[1 + floor(cardinality(%(lasts)s::text[]) * power(u_last, 1.5))::int] as last,
                       case when i %% 20 < 17 then '+1' || (%(areas)s::text[])[1 + (i * 31) %% cardinality(%(areas)s::text[])]
                                 || (2000000 + (i::bigint * 7919) %% 8000000)::text
                            when i %% 20 < 19 then '+447' || (100000000 + (i::bigint * 7919) %% 900000000)::text
                            else '+4915' || (10000000 + (i::bigint * 7919) %% 90000000)::text end as phone,
                       case when u_channel < 0.2 then 'whatsapp' else 'sms' end as channel,
                       (%(numbers)s::uuid[])[case when u_number < 0.5 then 1 when u_number < 0.8 then 2 else 3 end]
                           as phone_number_id,
                       case when u_assign < 0.2 then null
                            else (%(agents)s::uuid[])[1 + floor((u_assign - 0.2) / 0.8 * 5)::int] end as assignee_id,
                       case when u_assign < 0.2 then (%(agent_firsts)s::text[])[1 + i %% 5]
                            else (%(agent_firsts)s::text[])[1 + floor((u_assign - 0.2) / 0.8 * 5)::int] end
                           as agent_first,
                       case when u_assign < 0.2 then (%(users)s::uuid[])[1 + i %% 5]
                            else (%(users)s::uuid[])[1 + floor((u_assign - 0.2) / 0.8 * 5)::int] end as author_id,
                       now() - interval '90 days' * power(u_age, 1.25) as last_at,
                       least(30, 1 + floor(30 * power(u_n, 2.16)))::int as n,
                       10000 + floor(u_order * 90000)::int as order_no
                from (select i, random() u_first, random() u_last, random() u_email, random() u_domain,
                             random() u_channel, random() u_number, random() u_assign, random() u_age,
                             random() u_span, random() u_status, random() u_snooze, random() u_label,
                             random() u_optout, random() u_n, random() u_order, random() u_product, random() u_color
                      from generate_series(1, %(n)s) i) draws
            ) t
        ) s""", params)
    cursor.execute(f"update bench_plan set unread = {UNREAD_COUNT_SQL.replace('id::', 'conv_id::')} "
                   f"where {UNREAD_SQL.replace('id::', 'conv_id::')}")
    # Exactly `messages` in all: nudge conversations' counts by one until the total is right.
    while True:
        cursor.execute("select %(messages)s - sum(n) from bench_plan", params)
        diff = int(cursor.fetchone()[0])
        if diff == 0:
            break
        cursor.execute(
            "update bench_plan set n = n + sign(%(diff)s)::int where i in ("
            " select i from bench_plan where (%(diff)s > 0 and n < 30) or (%(diff)s < 0 and n > 1)"
            " order by (i::bigint * 2654435761) %% 1000003 limit abs(%(diff)s))", {"diff": diff})
    cursor.execute("analyze bench_plan")


def _insert_contacts(cursor, params) -> None:
    cursor.execute("""
        insert into crm_contact (id, organization_id, phone_number, address_kind, name, email, whatsapp_profile_name,
            wa_id, profile_image_url, sms_opted_out_at, sms_opt_out_source, whatsapp_opted_out_at,
            whatsapp_opt_out_source, notes, created_at, updated_at)
        select contact_id, %(org)s, phone, 'phone', first || ' ' || last, email,
               case when channel = 'whatsapp' then first else '' end,
               case when channel = 'whatsapp' then substr(phone, 2) else '' end,
               '', case when opted_out then last_at end, case when opted_out then 'STOP' else '' end, null, '',
               case when i %% 50 = 0 then 'Prefers WhatsApp; ask before calling.' else '' end,
               first_at, last_at
        from bench_plan""", params)


def _insert_messages(cursor, params) -> None:
    body = f"""case
        when direction = 'note' then {_fill(_pick("notes", "u_tpl"))}
        when j = 1 then {_fill(_pick("opening", "u_tpl"))}
        when direction = 'inbound' then {_fill(_pick("inbound", "u_tpl"))}
        when j = 2 then {_fill(_pick("greeting", "u_tpl"))}
        else {_fill(_pick("outbound", "u_tpl"))} end"""
    cursor.execute(f"""
        insert into messaging_message (id, organization_id, conversation_id, direction, channel, body, media,
            media_type, status, provider_sid, error_code, error_message, sentiment, num_segments, attempts,
            created_by_id, created_at, updated_at, sent_at)
        select id, %(org)s, conv_id, direction, msg_channel, body,
               case when has_media then jsonb_build_array(jsonb_build_object(
                   'url', 'https://api.twilio.com/2010-04-01/Accounts/{TWILIO_SID}/Messages/' || sid || '/Media/ME'
                          || substr(sid, 3), 'content_type', 'image/jpeg', 'type', 'image'))
                    else '[]'::jsonb end,
               case when has_media then 'image' else 'none' end,
               msg_status, case when direction = 'note' then null else sid end,
               case msg_status when 'failed' then '30008' when 'undelivered' then '30003' else '' end,
               case msg_status when 'failed' then 'Unknown error' when 'undelivered' then 'Unreachable destination handset'
                    else '' end,
               case when direction = 'inbound' and u_sent < 0.85 then round((u_sent / 0.85 * 2 - 1)::numeric, 2) end,
               greatest(1, ceil(length(body) / 153.0))::int,
               case when direction = 'outbound' then 1 else 0 end,
               case when direction = 'inbound' then null else author_id end,
               created_at, created_at + case when direction = 'outbound' then interval '4 seconds' else '0' end,
               case when direction = 'outbound' then created_at + interval '1 second' end
        from (
            select m.*, {body} as body,
                   case when channel = 'whatsapp' then 'whatsapp' when has_media then 'mms' else 'sms' end as msg_channel,
                   case when direction <> 'outbound' then 'received'
                        when u_status < 0.02 then 'failed' when u_status < 0.03 then 'undelivered'
                        when channel = 'whatsapp' and u_status < 0.6 then 'read' else 'delivered' end as msg_status,
                   (case when has_media then 'MM' else 'SM' end) || replace(id::text, '-', '') as sid
            from (
                select d.*, uuidv7(created_at - now()) as id,
                       case when j = 1 or (j = n and unread > 0) then 'inbound'
                            when u_dir < 0.03 and j < n then 'note'
                            when (j %% 2 = 1) = (u_dir < 0.8) then 'inbound' else 'outbound' end as direction,
                       j > 1 and u_media < 0.03 as has_media
                from (
                    select p.*, j, random() u_dir, random() u_tpl, random() u_media, random() u_status, random() u_sent,
                           p.last_at - (p.last_at - p.first_at) * ((p.n - j)::float8 / greatest(p.n - 1, 1)) as created_at
                    from bench_plan p cross join lateral generate_series(1, p.n) j
                ) d
            ) m
        ) x""", params)
    cursor.execute("select count(*) from messaging_message where organization_id = %(org)s", params)
    count = cursor.fetchone()[0]
    if count != params["messages"]:
        raise RuntimeError(f"generated {count} messages, not {params['messages']}")


def _insert_conversations(cursor, params) -> None:
    """After the messages (the foreign keys are checked at commit), so that the preview is the last
    message's text and last_inbound_at its last inbound message's time."""
    cursor.execute("""
        insert into messaging_conversation (id, organization_id, contact_id, channel, phone_number_id,
            whatsapp_sender_id, status, snoozed_until, assignee_id, unread_count, last_message_at, last_inbound_at,
            last_message_preview, labels, created_at, updated_at)
        select p.conv_id, %(org)s, p.contact_id, p.channel, p.phone_number_id, null, p.status, p.snoozed_until,
               p.assignee_id, p.unread, p.last_at, m.last_inbound_at,
               left(coalesce(nullif(m.last_body, ''), '[image]'), 200), p.labels, p.first_at, p.last_at
        from bench_plan p join (
            select conversation_id,
                   (array_agg(body order by created_at desc))[1] as last_body,
                   max(created_at) filter (where direction = 'inbound') as last_inbound_at
            from messaging_message where organization_id = %(org)s
            group by conversation_id
        ) m on m.conversation_id = p.conv_id""", params)
