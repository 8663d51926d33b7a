"""A team's real week for the demo organization (`seed_demo`): more people and AI agents, two clients,
a few dozen numbers, fifty customers writing and calling over the last four weeks, voicemails and AI
calls with their reports, and orders in every state. Deterministic (one seeded random generator) and
idempotent: it runs once per organization, marked by its first customer."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone

from crm.models import Contact
from crm.services import ItemInput, contact_for, order_create, order_transition
from messaging.models import Conversation, Message, MessageStatus
from messaging.services.conversations import conversation_for
from telephony.models import Call, CallDirection, CallStatus, PhoneNumber, Provider, ProviderAccount
from tenants import services
from tenants.models import Agent, AgentKind, Client, Membership, Role

# Fifty customers on Ofcom's numbers for drama (+44 7700 900000 to 900999): never anyone's phone.
CUSTOMERS = [f"+447700900{n:03d}" for n in range(100, 150)]
FIRST_NAMES = ["Olivia", "Liam", "Emma", "Noah", "Ava", "Lucas", "Mia", "Ethan", "Sofia", "Mateo", "Chloe", "Arjun",
               "Zara", "Kwame", "Yuki", "Lena", "Omar", "Ines", "Tariq", "Hana", "Diego", "Freya", "Ravi", "Nadia",
               "Jonas"]
LAST_NAMES = ["Smith", "Garcia", "Nguyen", "Okafor", "Rossi", "Kowalski", "Haddad", "Silva", "Tanaka", "Müller",
              "Dubois", "Patel", "Andersen", "Costa", "Mensah"]
EXCHANGES = [
    [("inbound", "Hi, has my order shipped yet?"), ("outbound", "Hi! Yes, it left our warehouse this morning."),
     ("inbound", "Great, thanks!")],
    [("inbound", "Do you have the blue one in size M?"), ("outbound", "We do, shall I reserve one for you?")],
    [("inbound", "I was charged twice for the same order."),
     ("outbound", "Sorry about that! I've refunded the second charge, you'll see it in 3-5 days."),
     ("inbound", "Thank you for sorting it so quickly.")],
    [("inbound", "¿Hacen envíos a Madrid?"), ("outbound", "¡Sí! El envío a España tarda 3 días laborables.")],
    [("inbound", "Can I cancel my order? I ordered the wrong colour."),
     ("outbound", "No problem, it's cancelled. Would you like the right colour instead?")],
    [("inbound", "The parcel arrived damaged 😞"), ("outbound", "I'm so sorry! Could you send a photo of it?"),
     ("inbound", "Sure, sending it now.")],
    [("inbound", "What are your opening hours on Saturday?")],
    [("inbound", "Olá, vocês entregam em Lisboa?"), ("outbound", "Olá! Sim, entregamos em 2 a 4 dias.")],
    [("inbound", "Is there a discount for ordering ten?"), ("outbound", "Yes, 10% off from ten pieces.")],
    [("inbound", "Still waiting for my refund, it's been two weeks."), ("outbound", "Let me check with billing.")],
]
PRODUCTS = [("Coffee beans 1 kg", "12.50"), ("Enamel mug", "9.90"), ("Pour-over kettle", "39.00"),
            ("Filter papers (100)", "4.20"), ("Espresso beans 1 kg", "18.00"), ("Grinder", "64.00")]
ORDER_PATHS = [[], ["confirmed"], ["confirmed", "processing"], ["confirmed", "processing", "shipped"],
               ["confirmed", "processing", "shipped", "delivered"], ["cancelled"],
               ["confirmed", "processing", "shipped", "delivered", "refunded"]]
PEOPLE = [("sam", "Sam", "Support"), ("priya", "Priya", "Sales"), ("leo", "Leo", "Billing"),
          ("mei", "Mei", "Nights")]
AI_AGENTS = [("Ava, AI receptionist", "asst_demo_receptionist"), ("Max, AI order desk", "asst_demo_orders")]
AI_SUMMARIES = [
    "Caller asked about delivery times to Manchester; told 2 working days. No follow-up needed.",
    "Caller wanted to change the delivery address of an order; transferred to the team by text.",
    "Caller asked for opening hours and whether the shop sells gift cards (yes, from 10).",
]


def already_seeded(organization) -> bool:
    return Contact.objects.filter(organization=organization, phone_number=CUSTOMERS[0]).exists()


def seed_week(organization, *, owner, number_sids: dict[str, str], account: ProviderAccount) -> None:
    rng = random.Random(2026)
    now = timezone.now()
    agents = _people(organization, owner=owner)
    clients = [Client.objects.get_or_create(organization=organization, name=name, defaults={"email": email})[0]
               for name, email in (("Bright Dental", "front-desk@brightdental.example"),
                                   ("Northwind Bikes", "shop@northwind.example"))]
    numbers = _numbers(organization, account=account, number_sids=number_sids, agents=agents, clients=clients)
    texting = [n for n in numbers if n.capabilities.get("sms")]
    people = [a for a in agents if a.kind == AgentKind.HUMAN]
    for index, phone in enumerate(CUSTOMERS):
        contact = contact_for(organization=organization, phone=phone)
        contact.name = f"{FIRST_NAMES[index % len(FIRST_NAMES)]} {LAST_NAMES[(index * 7) % len(LAST_NAMES)]}"
        contact.labels = sorted(rng.sample(["vip", "wholesale", "complaint", "new"], k=rng.choice([0, 0, 1, 2])))
        contact.save(update_fields=["name", "labels", "updated_at"])
        number = texting[index % len(texting)]
        _conversation(organization, contact, number, rng=rng, now=now, index=index, people=people)
        for _ in range(rng.choice([0, 1, 1, 2])):
            _call(organization, contact, numbers[(index + 3) % len(numbers)], rng=rng, now=now, people=people)
        if index % 3 == 0:
            _order(organization, owner, contact, rng=rng, path=ORDER_PATHS[(index // 3) % len(ORDER_PATHS)])


def _people(organization, *, owner) -> list[Agent]:
    User = get_user_model()
    for username, first, last in PEOPLE:
        user, created = User.objects.get_or_create(
            username=username, defaults={"email": f"{username}@demo.softphone.local", "first_name": first,
                                         "last_name": last})
        if created:
            user.set_password(f"demo-{username}-pass")
            user.save()
        Membership.objects.get_or_create(organization=organization, user=user, defaults={"role": Role.AGENT})
        if not Agent.objects.filter(organization=organization, user=user).exists():
            services.agent_create(organization=organization, actor=owner, name=user.display_name,
                                  kind=AgentKind.HUMAN, user=user)
    for name, assistant in AI_AGENTS:
        Agent.objects.get_or_create(organization=organization, name=name,
                                    defaults={"kind": AgentKind.AI, "assistant_id": assistant, "created_by": owner})
    return list(Agent.objects.filter(organization=organization).order_by("name"))


def _numbers(organization, *, account, number_sids, agents, clients) -> list[PhoneNumber]:
    people = [a for a in agents if a.kind == AgentKind.HUMAN]
    made = []
    for offset, (phone, sid) in enumerate(sorted(number_sids.items())):
        client = clients[offset % 2] if 8 <= offset < 14 else None
        agent = people[offset % len(people)] if offset % 4 else None
        number, _ = PhoneNumber.objects.get_or_create(
            organization=organization, phone_number=phone,
            defaults={"provider_account": account, "provider": Provider.TWILIO, "provider_sid": sid,
                      "friendly_name": f"{client.name if client else 'Main'} line {offset}", "agent": agent,
                      "client": client, "source": "imported",
                      "capabilities": {"voice": True, "sms": True, "mms": True, "fax": False}})
        made.append(number)
    return made


def _conversation(organization, contact, number, *, rng, now, index, people) -> None:
    conversation = conversation_for(organization=organization, contact=contact, channel="sms", phone_number=number)
    exchange = EXCHANGES[index % len(EXCHANGES)]
    started = now - timedelta(days=rng.randint(0, 27), hours=rng.randint(0, 10), minutes=rng.randint(0, 59))
    if index < 6:  # the freshest: written today, some still waiting for an answer
        started = now - timedelta(minutes=5 + index * 17)
        exchange = exchange[:1] if index % 2 == 0 else exchange
    at = started
    agent = rng.choice(people)
    last_inbound = None
    for position, (direction, body) in enumerate(exchange):
        at = at + timedelta(minutes=rng.randint(1, 25), seconds=rng.randint(0, 59)) if position else at
        message = Message.objects.create(
            organization=organization, conversation=conversation, direction=direction, channel="sms", body=body,
            status=MessageStatus.RECEIVED if direction == "inbound" else MessageStatus.DELIVERED,
            created_by=agent.user if direction == "outbound" else None)
        Message.objects.filter(pk=message.pk).update(created_at=at)
        if direction == "inbound":
            last_inbound = at
    waiting = exchange[-1][0] == "inbound"
    status = "open" if waiting or index < 12 else rng.choice(["done", "done", "pending", "open"])
    Conversation.objects.filter(pk=conversation.pk).update(
        last_message_at=at, last_inbound_at=last_inbound, last_message_preview=exchange[-1][1][:200],
        unread_count=1 if waiting else 0, status=status, assignee=agent if index % 3 else None)


def _call(organization, contact, number, *, rng, now, people) -> None:
    started = now - timedelta(days=rng.randint(1, 27), hours=rng.randint(0, 9), minutes=rng.randint(0, 59))
    kind = rng.choice(["answered", "answered", "answered", "missed", "voicemail", "outbound", "ai"])
    agent = number.agent if number.agent_id else rng.choice(people)
    inbound = kind != "outbound"
    talked = rng.randint(40, 600) if kind in ("answered", "outbound", "ai") else None
    status = CallStatus.COMPLETED if talked else CallStatus.NO_ANSWER
    call = Call.objects.create(
        organization=organization, phone_number=number, agent=agent, contact=contact,
        direction=CallDirection.INBOUND if inbound else CallDirection.OUTBOUND,
        from_number=contact.phone_number if inbound else number.phone_number,
        to_number=number.phone_number if inbound else contact.phone_number, provider=Provider.TWILIO,
        provider_sid=f"CA{rng.getrandbits(128):032x}", status=status, started_at=started,
        answered_at=started + timedelta(seconds=8) if talked else None,
        ended_at=started + timedelta(seconds=(talked or 30) + 8), duration=talked,
        voicemail=kind == "voicemail", seen_at=now,  # history: looked at already (the badge counts today's)
        summary=rng.choice(AI_SUMMARIES) if kind == "ai" else "",
        transcript="AI: Hello, how can I help?\nCaller: I had a question about my order." if kind == "ai" else "",
        ended_reason="customer-ended-call" if kind == "ai" else "", conversation_pending=True)
    Call.objects.filter(pk=call.pk).update(created_at=started)


def _order(organization, owner, contact, *, rng, path) -> None:
    lines = [ItemInput(name, rng.randint(1, 3), Decimal(price)) for name, price in rng.sample(PRODUCTS, k=rng.randint(1, 3))]
    order = order_create(organization=organization, actor=owner, contact=contact, items=lines,
                         shipping_address=f"{rng.randint(1, 120)} High Street, London")
    for step in path:
        order = order_transition(organization=organization, actor=owner, order=order, to=step)
