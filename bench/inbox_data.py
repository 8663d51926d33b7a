"""A large inbox for benchmarks: one organization the size of the inbox and scale issues' targets.

`ensure_inbox_data()` makes sure the benchmark database (see bench/common.py) holds organization
`bench-inbox` at BENCH_SIZE (SIZES: "10m", the default, is 1,000,000 contacts and conversations and
10,000,000 messages; "1m" a tenth of that; the figures below are for "1m"), with:

- a Twilio account, 3 phone numbers and 5 human agents (users, memberships, Agent rows), made
  through the ORM and the tenant services like any organization;
- 100,000 contacts with names combined from 209 first and 204 last names (common ones drawn more
  often, as in life), each with a distinct E.164 number (85 % North American, 10 % UK mobiles, 5 %
  German mobiles), 30 % with an email address, WhatsApp contacts with a profile name, 1 % opted out
  of SMS, a tenth with a label ("vip", "wholesale", ...);
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
  conversations) and its own tracking code ("TRK3F9A0C21B7");
- calls: 0 to 2 per contact (0.7 on average), in the span of its conversation, 70 % inbound, most
  answered, some missed (half of those with a voicemail), the last day's missed calls unseen;
- orders: 0 to 6 per contact (3 on average) with 1 to 4 lines each, numbered from 1001;
- beside it, 300 small organizations of 40 conversations and 400 messages each (with their calls
  and orders), so that the big one is not the only organization in the tables' statistics.

Everything is generated in SQL (INSERT ... SELECT over generate_series) in one transaction, so a
failed run leaves nothing behind. The three big tables' secondary indexes, unique and foreign-key
constraints are dropped inside that transaction and rebuilt after the load (each exactly as
PostgreSQL reports its definition), which is several times faster than maintaining them row by row;
then VACUUM (ANALYZE). Ids are PostgreSQL 18's uuidv7() shifted to each row's creation time, so they
are time-ordered as the application's own uuid7 ids are.

Generation is skipped when the organization already holds the requested number of messages, its
calls and orders and its neighbours. A partial or different-sized organization of that slug is
deleted first, with its neighbours. On the 2-vCPU benchmark machine: 11 minutes at "10m" (10,000,000
messages in 254 s, 85 indexes and constraints rebuilt in 175 s); at "1m" the big steps take a tenth.
"""

from __future__ import annotations

import hashlib
import os
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
# A tenth of the contacts carry one of these (CONTACT_LABELED, by a hash of the contact's id).
CONTACT_LABELS = ["vip", "wholesale", "reseller", "press", "late payer", "prefers email"]
CONTACT_LABELED = """case when abs(hashtext({id}::text)) %% 10 = 0
    then array[(%(contact_labels)s::varchar[])[1 + abs(hashtext({id}::text)) / 10 %% 6]]
    else '{{}}'::varchar[] end"""
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


@dataclass(frozen=True)
class Size:
    conversations: int  # and contacts, one each
    messages: int
    small_organizations: int  # beside the big one, each with SMALL_CONVERSATIONS and SMALL_MESSAGES


SIZES = {
    "1m": Size(conversations=100_000, messages=1_000_000, small_organizations=300),
    "10m": Size(conversations=1_000_000, messages=10_000_000, small_organizations=300),
}
SMALL_CONVERSATIONS = 40
SMALL_MESSAGES = 400


def bench_size() -> str:
    """BENCH_SIZE: "10m" (the scale issue's size, the default) or "1m" (the inbox issue's)."""
    size = os.environ.get("BENCH_SIZE", "10m")
    if size not in SIZES:
        raise SystemExit(f"BENCH_SIZE must be one of {', '.join(SIZES)}, not {size!r}")
    return size


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


def ensure_inbox_data(*, size: str | None = None, slug: str = SLUG, log=print) -> InboxData:
    """The benchmark organization at ``size`` (BENCH_SIZE, see SIZES): its conversations, exactly its
    messages, its calls and orders, and the small organizations beside it; generated unless already
    there. Needs django.setup() and the benchmark database of that size (bench.common)."""
    from tenants.models import Organization
    from tenants.scoping import platform_scope

    plan = SIZES[size or bench_size()]
    with platform_scope():
        organization = Organization.objects.filter(slug=slug).first()
        complete = organization is not None and _counts(organization) == _expected(plan)
    if complete:
        return _load(organization, None)
    if organization is not None:
        log(f"organization {slug} is incomplete or of another size: deleting it and its neighbours")
    wipe(slug)
    log(f"generating {slug}: {plan.conversations:,} contacts and conversations, {plan.messages:,} messages, "
        f"calls and orders, and {plan.small_organizations} small organizations ...")
    started = time.perf_counter()
    organization = _generate(slug=slug, plan=plan, log=log)
    seconds = time.perf_counter() - started
    log(f"generated in {seconds:.0f} s")
    return _load(organization, seconds)


def _counts(organization) -> dict:
    from tenants.rls import execute_in_tenant

    (messages, calls, orders), = execute_in_tenant(organization.pk, """
        select (select count(*) from messaging_message where organization_id = %s),
               (select count(*) from telephony_call where organization_id = %s),
               (select count(*) from crm_order where organization_id = %s)""", [organization.pk] * 3)
    with connection.cursor() as cursor:  # organizations are not tenant rows: no scope needed
        cursor.execute("select count(*) from tenants_organization where slug like %s", [f"{organization.slug}-small-%"])
        small = cursor.fetchone()[0]
    return {"messages": messages, "calls": calls > 0, "orders": orders > 0, "small": small}


def _expected(plan) -> dict:
    return {"messages": plan.messages, "calls": True, "orders": True, "small": plan.small_organizations}


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
    """Delete the organization, the small ones beside it and all their rows (the big tables in SQL,
    the rest through the ORM)."""
    from tenants.models import Organization
    from tenants.scoping import platform_scope

    with platform_scope():
        organizations = list(Organization.objects.filter(slug=slug)) + list(
            Organization.objects.filter(slug__startswith=f"{slug}-small-"))
        if not organizations:
            return
        ids = [organization.pk for organization in organizations]
        with transaction.atomic(), connection.cursor() as cursor:
            for table in ("telephony_call", "crm_orderitem", "crm_orderstatuschange", "crm_order", "messaging_message",
                          "messaging_conversation", "crm_contact"):
                cursor.execute(f"delete from {table} where organization_id = any(%s)", [ids])
            for organization in organizations:
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

_BIG_TABLES = ("crm_contact", "messaging_conversation", "messaging_message", "telephony_call", "crm_order",
               "crm_orderitem")


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


def _generate(*, slug: str, plan: Size, log) -> object:
    step = time.perf_counter()

    def done(what: str) -> None:
        nonlocal step
        now = time.perf_counter()
        log(f"  {what}: {now - step:.1f} s")
        step = now

    with transaction.atomic():
        organization, numbers, agents, users = _organization(
            slug=slug, name="Inbox benchmark", people=AGENT_NAMES, lines=NUMBERS)
        done("organization, agents, numbers")
        with connection.cursor() as cursor:
            cursor.execute("set local maintenance_work_mem = '1GB'")
            cursor.execute("set local work_mem = '256MB'")
            cursor.execute("set local synchronous_commit = off")
            cursor.execute("select setseed(0.1877)")
            rebuild = _drop_secondary(cursor)
            # The order items' total trigger is replaced by one UPDATE per organization (_insert_orders),
            # the trigger that adds new messages' words to their conversations by the conversations'
            # insert, which comes after the messages' (_insert_conversations).
            cursor.execute("alter table crm_orderitem disable trigger crm_orderitem_total")
            cursor.execute("alter table messaging_message disable trigger messaging_message_words_add")
        # The small organizations first: with the secondary indexes dropped, each one's statements scan
        # the tables, which are still small then.
        for k in range(plan.small_organizations):
            small = _organization(slug=f"{slug}-small-{k:03d}", name=f"Small shop {k:03d}",
                                  people=SMALL_PEOPLE[k % len(SMALL_PEOPLE)], lines=[f"+1415556{k:04d}"])
            _populate(*small, conversations=SMALL_CONVERSATIONS, messages=SMALL_MESSAGES, log=None)
        done(f"{plan.small_organizations} small organizations ({SMALL_CONVERSATIONS} conversations, "
             f"{SMALL_MESSAGES} messages each)")
        with connection.cursor() as cursor:
            cursor.execute("select setseed(0.4213)")  # the big organization's draws as before the small ones came
        _populate(organization, numbers, agents, users, conversations=plan.conversations, messages=plan.messages,
                  log=done)
        with connection.cursor() as cursor:
            cursor.execute("set constraints all immediate")  # the deferred foreign-key checks, before the ALTER
            cursor.execute("alter table crm_orderitem enable trigger crm_orderitem_total")
            cursor.execute("alter table messaging_message enable trigger messaging_message_words_add")
            for statement in rebuild:
                cursor.execute(statement)
        done(f"{len(rebuild)} indexes and constraints rebuilt")
    with connection.cursor() as cursor:
        for table in _BIG_TABLES:
            cursor.execute(f'vacuum (analyze) "{table}"')
    done("vacuum (analyze)")
    return organization


SMALL_PEOPLE = [["Sam Rivers", "Ana Costa"], ["Lee Chen", "Omar Haddad"], ["Mia Weber", "Tom Kelly"]]


def _organization(*, slug: str, name: str, people: list[str], lines: list[str]):
    """An organization made through the services, with one human agent (and user) per person, the
    first its owner, and a Twilio number per line."""
    from django.contrib.auth import get_user_model

    from telephony.models import PhoneNumber, Provider, ProviderAccount
    from tenants import services as tenant_services
    from tenants.models import AgentKind, Membership, Role
    from tenants.scoping import tenant_scope

    User = get_user_model()
    users = []
    for index, person in enumerate(people, start=1):
        first, last = person.split()
        user, _ = User.objects.get_or_create(username=f"{slug}-agent-{index}", defaults={
            "email": f"{slug}-agent-{index}@example.com", "first_name": first, "last_name": last})
        users.append(user)
    organization = tenant_services.organization_create(name=name, slug=slug, owner=users[0])
    account_sid = TWILIO_SID if slug == SLUG else "AC" + hashlib.md5(slug.encode()).hexdigest()
    with tenant_scope(organization):
        for user in users[1:]:
            Membership.objects.create(organization=organization, user=user, role=Role.AGENT)
        agents = [tenant_services.agent_create(organization=organization, actor=users[0], name=person,
                                               kind=AgentKind.HUMAN, user=user)
                  for person, user in zip(people, users, strict=True)]
        account = ProviderAccount.objects.create(organization=organization, provider=Provider.TWILIO,
                                                 friendly_name="Bench Twilio", account_sid=account_sid,
                                                 auth_token="bench-inbox-token")
        numbers = [PhoneNumber.objects.create(
            organization=organization, provider_account=account, phone_number=number,
            friendly_name=["Support", "Sales", "Returns"][i],
            provider_sid="PN" + hashlib.md5(number.encode()).hexdigest(),
            capabilities={"sms": True, "mms": True, "voice": True}, source="imported")
            for i, number in enumerate(lines)]
    return organization, numbers, agents, users


def _populate(organization, numbers, agents, users, *, conversations: int, messages: int, log) -> None:
    """Contacts, conversations, messages, calls and orders of one organization, in SQL."""
    from tenants.scoping import tenant_scope

    params = {
        "org": organization.pk, "n": conversations, "messages": messages,
        "firsts": FIRST_NAMES, "lasts": LAST_NAMES, "products": PRODUCTS, "colors": COLORS,
        "days": DAYS, "times": TIMES, "domains": DOMAINS, "labels": LABELS, "areas": AREA_CODES,
        "numbers": [n.pk for n in numbers], "lines": [n.phone_number for n in numbers],
        "agents": [a.pk for a in agents], "agent_count": len(agents),
        "agent_firsts": [a.name.split()[0] for a in agents], "users": [u.pk for u in users],
        "contact_labels": CONTACT_LABELS, "opening": OPENING, "inbound": INBOUND, "greeting": GREETING, "outbound": OUTBOUND, "notes": NOTES,
    }
    steps = [
        (_plan_conversations, "conversation plan (temporary table)"),
        (_insert_contacts, f"{conversations:,} contacts"),
        (_insert_messages, f"{messages:,} messages"),
        (_insert_conversations, f"{conversations:,} conversations"),
        (_insert_calls, "calls"),
        (_insert_orders, "orders and their items"),
    ]
    with tenant_scope(organization), connection.cursor() as cursor:
        for step, what in steps:
            step(cursor, params)
            if log:
                log(what)
        cursor.execute("drop table bench_plan")


def _plan_conversations(cursor, params) -> None:
    """One row per contact and conversation with everything later steps draw from."""
    cursor.execute("""
        create temporary table bench_plan (
            i int primary key, contact_id uuid, conv_id uuid, first text, last text, phone text, email text,
            channel text, phone_number_id uuid, assignee_id uuid, agent_first text, author_id uuid,
            status text, snoozed_until timestamptz, unread int, labels text[], opted_out boolean,
            first_at timestamptz, last_at timestamptz, n int, order_no int, track text, product text, color text
        )""")
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
                       (%(numbers)s::uuid[])[least(cardinality(%(numbers)s::uuid[]),
                           case when u_number < 0.5 then 1 when u_number < 0.8 then 2 else 3 end)] as phone_number_id,
                       case when u_assign < 0.2 then null
                            else (%(agents)s::uuid[])[1 + floor((u_assign - 0.2) / 0.8 * %(agent_count)s)::int] end
                           as assignee_id,
                       case when u_assign < 0.2 then (%(agent_firsts)s::text[])[1 + i %% %(agent_count)s]
                            else (%(agent_firsts)s::text[])[1 + floor((u_assign - 0.2) / 0.8 * %(agent_count)s)::int] end
                           as agent_first,
                       case when u_assign < 0.2 then (%(users)s::uuid[])[1 + i %% %(agent_count)s]
                            else (%(users)s::uuid[])[1 + floor((u_assign - 0.2) / 0.8 * %(agent_count)s)::int] end
                           as author_id,
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
            whatsapp_opt_out_source, notes, created_at, updated_at, labels)
        select contact_id, %(org)s, phone, 'phone', first || ' ' || last, email,
               case when channel = 'whatsapp' then first else '' end,
               case when channel = 'whatsapp' then substr(phone, 2) else '' end,
               '', case when opted_out then last_at end, case when opted_out then 'STOP' else '' end, null, '',
               case when i %% 50 = 0 then 'Prefers WhatsApp; ask before calling.' else '' end,
               first_at, last_at, """ + CONTACT_LABELED.format(id="contact_id") + """
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
    message's text, last_inbound_at its last inbound message's time, and message_words the words of
    its messages, as migration messaging 0015's trigger would have added them (contact_words is
    copied from the contact by the insert trigger)."""
    cursor.execute("""
        insert into messaging_conversation (id, organization_id, contact_id, channel, phone_number_id,
            whatsapp_sender_id, status, snoozed_until, assignee_id, unread_count, last_message_at, last_inbound_at,
            last_message_preview, labels, created_at, updated_at, message_words)
        select p.conv_id, %(org)s, p.contact_id, p.channel, p.phone_number_id, null, p.status, p.snoozed_until,
               p.assignee_id, p.unread, p.last_at, m.last_inbound_at,
               left(coalesce(nullif(m.last_body, ''), '[image]'), 200), p.labels, p.first_at, p.last_at, m.words
        from bench_plan p join (
            select conversation_id,
                   (array_agg(body order by created_at desc))[1] as last_body,
                   max(created_at) filter (where direction = 'inbound') as last_inbound_at,
                   coalesce(strip(to_tsvector('simple', string_agg(body, E'\\n'))), ''::tsvector) as words
            from messaging_message where organization_id = %(org)s
            group by conversation_id
        ) m on m.conversation_id = p.conv_id""", params)


def _insert_calls(cursor, params) -> None:
    """0 to 2 calls per contact (0.7 on average), between the conversation's first and last message,
    on its number: 70 % inbound. Inbound: 72 % answered, 20 % missed (half with a voicemail), 8 %
    hung up while ringing; outbound: 65 % answered, 20 % not answered, 10 % busy, 5 % failed. Missed
    calls of the last day are unseen."""
    cursor.execute("""
        insert into telephony_call (id, organization_id, phone_number_id, agent_id, contact_id, direction, from_number,
            to_number, provider, provider_sid, child_sid, conference_name, conference_sid, on_hold, status,
            failure_reason, started_at, answered_at, ended_at, duration, last_sequence, recording_sid, recording_url,
            recording_duration, voicemail, transcript, summary, cost, ended_reason, notes, seen_at, created_at,
            updated_at, agent_leg_sid, transfer_leg_sid, transfer_mode, transfer_state, conversation_pending)
        select id, %(org)s, phone_number_id, case when answered then assignee_id end, contact_id, call_direction,
               case when call_direction = 'inbound' then phone else line end,
               case when call_direction = 'inbound' then line else phone end,
               'twilio', 'CA' || replace(id::text, '-', ''), '', '', '', false, call_status,
               case when call_status = 'failed' then 'The carrier could not connect the call.' else '' end,
               at, case when answered then at + interval '6 seconds' end,
               at + interval '1 second' * (6 + seconds), case when answered or voicemail then seconds end,
               3, case when voicemail then 'RE' || substr(md5(id::text), 1, 32) else '' end, '',
               case when voicemail then seconds end, voicemail, '', '', null, '', '',
               case when not answered and at < now() - interval '1 day' then at + interval '2 hours' end,
               at, at + interval '1 second' * (6 + seconds), '', '', '', '', false
        from (
            select c.*, uuidv7(at - now()) as id,
                   (%(lines)s::text[])[array_position(%(numbers)s::uuid[], phone_number_id)] as line,
                   call_status = 'completed' as answered,
                   call_direction = 'inbound' and call_status = 'no-answer' and u_voicemail < 0.5 as voicemail,
                   case when call_status = 'completed' then 20 + floor(600 * power(u_length, 2))::int
                        when call_status = 'no-answer' then 25 else 0 end as seconds
            from (
                select p.*, first_at + (last_at - first_at) * u_at as at,
                       case when u_dir < 0.7 then 'inbound' else 'outbound' end as call_direction,
                       case when u_dir < 0.7 then
                            case when u_status < 0.72 then 'completed' when u_status < 0.92 then 'no-answer'
                                 else 'canceled' end
                       else case when u_status < 0.65 then 'completed' when u_status < 0.85 then 'no-answer'
                                 when u_status < 0.95 then 'busy' else 'failed' end end as call_status
                from (select p.*, k, random() u_at, random() u_dir, random() u_status, random() u_voicemail,
                             random() u_length
                      from bench_plan p
                      cross join lateral generate_series(1, case when (p.i::bigint * 7919) %% 10 < 5 then 0
                                                                 when (p.i::bigint * 7919) %% 10 < 8 then 1
                                                                 else 2 end) k) p
            ) c
        ) x""", params)


def _insert_orders(cursor, params) -> None:
    """0 to 6 orders per contact (3 on average) over the last 90 days, numbered from 1001 as the
    organization's counter numbers them, 1 to 4 lines each, statuses spread as a shop's are (most
    delivered, some on their way, a few cancelled or refunded); totals the sums of their lines."""
    cursor.execute("""
        with plan as (
            select b.contact_id, g as k, b.i as n,
                   now() - make_interval(secs => ((b.i * 31 + g * 977) %% (90 * 86400))) as at
            from bench_plan b, generate_series(1, ((b.i::bigint * 7919) %% 7)::int) g
        )
        insert into crm_order (id, organization_id, contact_id, number, status, currency, total, notes,
                               shipping_address, version, created_by_id, created_at, updated_at)
        select uuidv7(p.at - now()), %(org)s, p.contact_id, 1000 + row_number() over (order by p.at, p.contact_id, p.k),
               case when (p.n + p.k) %% 100 < 60 then 'delivered' when (p.n + p.k) %% 100 < 70 then 'shipped'
                    when (p.n + p.k) %% 100 < 78 then 'processing' when (p.n + p.k) %% 100 < 85 then 'confirmed'
                    when (p.n + p.k) %% 100 < 93 then 'pending' when (p.n + p.k) %% 100 < 98 then 'cancelled'
                    else 'refunded' end,
               'USD', 0, '', '', 1, null, p.at, p.at
        from plan p""", params)
    cursor.execute("""
        insert into crm_orderitem (id, organization_id, order_id, name, quantity, unit_price, created_at)
        select id, %(org)s, order_id, name, quantity, unit_price, created_at
        from (
            select uuidv7(o.created_at - now()) as id, o.id as order_id, o.created_at,
                   (array['Coffee beans','Mug','Grinder','Filter papers','Kettle','Tea','Scale'])
                       [1 + (abs(hashtext(o.id::text || g)) %% 7)] as name,
                   1 + abs(hashtext(g || o.id::text)) %% 5 as quantity,
                   round(((abs(hashtext(o.id::text)) %% 9000) / 100.0 + g)::numeric, 2) as unit_price
            from crm_order o, generate_series(1, 1 + abs(hashtext(o.id::text)) %% 4) g
            where o.organization_id = %(org)s
        ) i""", params)
    cursor.execute("""
        update crm_order o set total = s.total
        from (select order_id, sum(line_total) as total from crm_orderitem where organization_id = %(org)s
              group by order_id) s
        where o.id = s.order_id""", params)
    cursor.execute("""
        insert into crm_ordercounter (id, organization_id, last_number)
        select uuidv7(), %(org)s, coalesce(max(number), 1000) from crm_order where organization_id = %(org)s
        on conflict (organization_id) do update set last_number = excluded.last_number""", params)
