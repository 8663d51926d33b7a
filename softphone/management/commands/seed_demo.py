"""The demo organization of `make run`: people, an agent, and an inbox with history.

It lives in the project package, not in `tenants`, because it seeds every app (tenants depends on
nothing of ours)."""

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from crm.models import Order, OrderCounter
from crm.services import ItemInput, contact_for, order_create, order_transition
from messaging.models import CannedReply, Conversation, Message, MessageStatus, WhatsAppSender
from messaging.services.conversations import conversation_for
from messaging.services.senders import webhook_url as whatsapp_webhook_url
from softphone import demo_week
from softphone.simulator.state import VAPI_KEY as SIMULATED_VAPI_KEY
from softphone.simulator.state import WHATSAPP_TOKEN as SIMULATED_WHATSAPP_TOKEN
from softphone.simulator.state import simulated
from telephony.models import (
    Call,
    CallDirection,
    CallStatus,
    PhoneNumber,
    Platform,
    PlatformState,
    Provider,
    ProviderAccount,
)
from telephony.platforms import vapi as vapi_platform
from telephony.services.platform import report_server
from telephony.services.webhook_contract import webhook_urls
from tenants import services
from tenants.models import Agent, AgentKind, Membership, Organization, Role
from tenants.scoping import tenant_scope

DEMO_SLUG = "demo"
DEMO_USERS = [
    # username, password, email, first, last, role
    ("owner", "demo-owner-pass", "owner@demo.softphone.local", "Olivia", "Owner", Role.OWNER),
    ("agent", "demo-agent-pass", "agent@demo.softphone.local", "Adam", "Agent", Role.AGENT),
]
DEMO_ADMIN = ("admin", "demo-admin-pass", "admin@softphone.local")


class Command(BaseCommand):
    help = "Create the demo organization, its owner and agent, and a platform admin. Safe to run again."

    @transaction.atomic
    def handle(self, *args, **options):
        User = get_user_model()
        people = {}
        for username, password, email, first, last, role in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=username, defaults={"email": email, "first_name": first, "last_name": last}
            )
            if created:
                user.set_password(password)
                user.save()
            people[role] = user
        admin, created = User.objects.get_or_create(
            username=DEMO_ADMIN[0], defaults={"email": DEMO_ADMIN[2], "is_staff": True, "is_superuser": True}
        )
        if created:
            admin.set_password(DEMO_ADMIN[1])
            admin.save()

        organization = Organization.objects.filter(slug=DEMO_SLUG).first()
        if organization is None:
            organization = services.organization_create(name="Demo Company", slug=DEMO_SLUG, owner=people[Role.OWNER])
        with tenant_scope(organization):
            for role, user in people.items():
                Membership.objects.get_or_create(organization=organization, user=user, defaults={"role": role})
            agent_user = people[Role.AGENT]
            if not Agent.objects.filter(organization=organization, user=agent_user).exists():
                services.agent_create(organization=organization, actor=people[Role.OWNER],
                                      name=agent_user.display_name, kind=AgentKind.HUMAN, user=agent_user)
            simulated_sids = seed_simulator() if settings.SIMULATOR_ENABLED else {}
            if not organization_has_inbox(organization):
                seed_inbox(organization, owner=people[Role.OWNER],
                           agent=Agent.objects.get(organization=organization, user=agent_user))
            if not Call.objects.filter(organization=organization).exists():
                seed_calls(organization, agent=Agent.objects.get(organization=organization, user=agent_user))
            if not Order.objects.filter(organization=organization).exists():
                seed_orders(organization, owner=people[Role.OWNER])
            if simulated_sids:
                seed_vendor_accounts(organization)
            if simulated_sids and not demo_week.already_seeded(organization):
                demo_week.seed_week(organization, owner=people[Role.OWNER], account=ProviderAccount.objects.get(
                    organization=organization, account_sid=DEMO_ACCOUNT_SID),
                    number_sids={phone: simulated_sids[phone] for phone in WEEK_NUMBERS})
            if simulated_sids:
                seed_ai_line(organization, sid=simulated_sids[DEMO_AI_NUMBER])
                # The demo's number is the simulated account's own (a database seeded before the
                # simulator existed gets the simulated number's sid).
                PhoneNumber.objects.filter(organization=organization, phone_number=DEMO_NUMBER).exclude(
                    provider_sid=simulated_sids[DEMO_NUMBER]).update(provider_sid=simulated_sids[DEMO_NUMBER])
        self.stdout.write(self.style.SUCCESS(f"Demo organization '{DEMO_SLUG}' is ready."))


# The demo inbox: a Twilio account matching README's simulated Twilio, one number answered by the
# demo agent, a few customers with history, and canned replies.
DEMO_ACCOUNT_SID, DEMO_TOKEN, DEMO_NUMBER = "AC00000000000000000000000000000001", "demo-token", "+14155550100"
DEMO_NUMBER_SID = "PN" + "0" * 31 + "1"
# The simulated Twilio account's numbers (softphone.simulator, on in `make run`): the demo's number and
# 29 more (555-01XX numbers are fiction's); the demo's week uses 21 of them (WEEK_NUMBERS), the other
# eight are left for Numbers → Import from Twilio.
SIMULATED_NUMBERS = [DEMO_NUMBER] + [f"+1415555{n:04d}" for n in range(150, 179)]
WEEK_NUMBERS = SIMULATED_NUMBERS[1:22]
# Answered by Ava, the AI receptionist, through the simulated VAPI (the other seven are left to import).
DEMO_AI_NUMBER = SIMULATED_NUMBERS[22]


def seed_simulator() -> dict[str, str]:
    """The demo's Twilio account in the simulated carrier, with its numbers, its texts and calls
    pointed at this installation as an import would have configured them. Returns number -> sid."""
    urls = webhook_urls()
    with simulated("twilio") as fake:
        if fake.account(DEMO_ACCOUNT_SID) is None:
            fake.add_account(DEMO_ACCOUNT_SID, DEMO_TOKEN, friendly_name="Demo Twilio (simulated)")
        sids = {}
        for phone in SIMULATED_NUMBERS:
            found = fake.find_number(DEMO_ACCOUNT_SID, phone)
            if found is None:
                found = fake.add_incoming_number(DEMO_ACCOUNT_SID, phone, friendly_name=phone,
                                                 capabilities={"voice": True, "sms": True, "mms": True, "fax": False})
            if phone == DEMO_AI_NUMBER:  # its voice URL is VAPI's once VAPI imports it (seed_ai_line)
                found = fake.update_number(DEMO_ACCOUNT_SID, found["sid"], sms_url=urls.sms_url,
                                           status_callback=urls.status_callback, friendly_name="AI reception line")
            elif phone == DEMO_NUMBER or phone in WEEK_NUMBERS:
                found = fake.update_number(DEMO_ACCOUNT_SID, found["sid"], sms_url=urls.sms_url,
                                           voice_url=urls.voice_url, status_callback=urls.status_callback,
                                           friendly_name="Support line" if phone == DEMO_NUMBER else phone)
            sids[phone] = found["sid"]
    with simulated("vapi") as fake:
        for assistant_id, name in DEMO_ASSISTANTS:
            if fake.assistant(assistant_id) is None:
                fake.add_assistant(assistant_id, name=name)
    with simulated("whatsapp") as fake:
        if not fake.has_phone_number(DEMO_WHATSAPP["phone_number_id"]):
            fake.add_business_account(DEMO_WHATSAPP["business_account_id"])
            fake.add_phone_number(DEMO_WHATSAPP["phone_number_id"], DEMO_WHATSAPP["display"],
                                  business_account_id=DEMO_WHATSAPP["business_account_id"],
                                  verified_name="Demo Company")
        # Meta's app posts to this installation, signed with the sender's app secret.
        fake.set_webhook(url=whatsapp_webhook_url(), app_secret=DEMO_WHATSAPP["app_secret"])
    return sids


# The demo's VAPI assistants and WhatsApp sender, in the simulated vendors.
DEMO_ASSISTANTS = [("asst_demo_receptionist", "Ava, AI receptionist"), ("asst_demo_orders", "Max, AI order desk")]
DEMO_WHATSAPP = {"phone_number_id": "109000000000001", "business_account_id": "209000000000001",
                 "display": "+1 415-555-0199", "app_secret": "demo-whatsapp-app-secret",
                 "verify_token": "demo-whatsapp-verify-token"}


def seed_vendor_accounts(organization) -> None:
    """The demo's simulated VAPI account and WhatsApp sender, connected as an owner would connect them."""
    ProviderAccount.objects.get_or_create(
        organization=organization, provider=Provider.VAPI, account_sid="",
        defaults={"friendly_name": "Demo VAPI (simulated)", "api_key": SIMULATED_VAPI_KEY})
    WhatsAppSender.objects.get_or_create(
        organization=organization, phone_number_id=DEMO_WHATSAPP["phone_number_id"],
        defaults={"name": "Demo WhatsApp (simulated)", "display_phone_number": DEMO_WHATSAPP["display"],
                  "business_account_id": DEMO_WHATSAPP["business_account_id"],
                  "access_token": SIMULATED_WHATSAPP_TOKEN, "app_secret": DEMO_WHATSAPP["app_secret"],
                  "verify_token": DEMO_WHATSAPP["verify_token"], "verified_name": "Demo Company"})


def seed_ai_line(organization, *, sid: str) -> None:
    """One number answered by an AI agent, as assigning it would leave it: imported into the simulated
    VAPI with Ava's assistant and our report server (VAPI then points the number's voice URL at itself,
    its texts stay ours), and synced on our side."""
    if PhoneNumber.objects.filter(organization=organization, phone_number=DEMO_AI_NUMBER).exists():
        return
    ava = Agent.objects.get(organization=organization, name=demo_week.AI_AGENTS[0][0])
    server = report_server(ProviderAccount.objects.get(organization=organization, provider=Provider.VAPI))
    with simulated("twilio") as twilio, simulated("vapi") as vapi:
        vapi.twilio = twilio
        try:
            imported = vapi.add_number(provider="twilio", number=DEMO_AI_NUMBER, twilioAccountSid=DEMO_ACCOUNT_SID,
                                       twilioAuthToken=DEMO_TOKEN, assistantId=ava.assistant_id, smsEnabled=False,
                                       name="AI reception line", server={"url": server.url, "headers": {
                                           vapi_platform.SECRET_HEADER: server.secret}})
        finally:
            vapi.twilio = None
    PhoneNumber.objects.create(
        organization=organization, phone_number=DEMO_AI_NUMBER, provider_account=ProviderAccount.objects.get(
            organization=organization, account_sid=DEMO_ACCOUNT_SID),
        provider=Provider.TWILIO, provider_sid=sid, friendly_name="AI reception line", agent=ava, source="imported",
        platform=Platform.VAPI, platform_id=imported["id"], platform_state=PlatformState.SYNCED,
        capabilities={"voice": True, "sms": True, "mms": True, "fax": False})


DEMO_CUSTOMERS = [
    # phone, name, minutes ago, [(direction, body)], labels
    ("+14155550123", "Maria Lopez", 3, [("inbound", "Hi! Where is my order #1042? It said Tuesday."),
                                         ("outbound", "Hi Maria, let me check that for you."),
                                         ("inbound", "Thanks, I really need it by Friday 🙏")], ["orders"]),
    ("+14155550124", "Kenji Watanabe", 25, [("inbound", "Can I change the delivery address for order #1043?")], []),
    ("+14155550125", "Aisha Bello", 90, [("inbound", "This is the third time the package is late. Very disappointed."),
                                          ("outbound", "I'm sorry, Aisha. I've escalated it to our carrier.")],
     ["complaint"]),
    ("+14155550126", "", 240, [("inbound", "Do you deliver on Sundays?")], []),
    ("+14155550127", "Tom Becker", 60 * 26, [("inbound", "Great service, thank you!"),
                                              ("outbound", "Thank you, Tom! Have a nice day.")], ["vip"]),
]
DEMO_CANNED = [
    ("hours", "Opening hours", "We are open Monday to Friday, 9:00 to 17:00."),
    ("thanks", "Thank you", "Thank you for your message! We will get back to you shortly."),
    ("tracking", "Tracking link", "You can track your order at https://example.com/track with your order number."),
]


def organization_has_inbox(organization) -> bool:
    return CannedReply.objects.filter(organization=organization).exists()


def seed_inbox(organization, *, owner, agent) -> None:
    account, _ = ProviderAccount.objects.get_or_create(
        organization=organization, provider=Provider.TWILIO, account_sid=DEMO_ACCOUNT_SID,
        defaults={"friendly_name": "Demo Twilio (simulated)", "auth_token": DEMO_TOKEN})
    number, _ = PhoneNumber.objects.get_or_create(
        organization=organization, phone_number=DEMO_NUMBER,
        defaults={"provider_account": account, "provider": Provider.TWILIO, "provider_sid": DEMO_NUMBER_SID,
                  "friendly_name": "Support line", "agent": agent,
                  "capabilities": {"voice": True, "sms": True, "mms": True, "fax": False}})
    now = timezone.now()
    for index, (phone, name, minutes, messages, labels) in enumerate(DEMO_CUSTOMERS):
        contact = contact_for(organization=organization, phone=phone)
        if name and not contact.name:
            contact.name = name
            contact.save(update_fields=["name", "updated_at"])
        conversation = conversation_for(organization=organization, contact=contact, channel="sms", phone_number=number)
        at = now - timedelta(minutes=minutes)
        for position, (direction, body) in enumerate(messages):
            message = Message.objects.create(
                organization=organization, conversation=conversation, direction=direction, channel="sms", body=body,
                status=MessageStatus.RECEIVED if direction == "inbound" else MessageStatus.DELIVERED,
                provider_sid=f"SMdemo{index:02d}{position:02d}" + "0" * 22,
                created_by=agent.user if direction == "outbound" else None)
            Message.objects.filter(pk=message.pk).update(created_at=at - timedelta(minutes=len(messages) - 1 - position))
        unread = 1 if messages[-1][0] == "inbound" else 0
        Conversation.objects.filter(pk=conversation.pk).update(
            last_message_at=at, last_inbound_at=at, last_message_preview=messages[-1][1][:200], unread_count=unread,
            labels=labels, status="done" if minutes > 24 * 60 else "open",
            assignee=agent if index % 2 == 0 else None)
    for shortcut, title, body in DEMO_CANNED:
        CannedReply.objects.get_or_create(organization=organization, shortcut=shortcut,
                                          defaults={"title": title, "body": body, "created_by": owner})


# A few calls on the demo number, so the call log, the missed-call badge and the conversations'
# timelines have something to show: (customer phone, direction, status, minutes ago, seconds talked).
DEMO_CALLS = [
    ("+14155550123", CallDirection.INBOUND, CallStatus.COMPLETED, 8, 252),
    ("+14155550124", CallDirection.INBOUND, CallStatus.NO_ANSWER, 30, None),
    ("+14155550125", CallDirection.OUTBOUND, CallStatus.NO_ANSWER, 95, None),
]


def seed_calls(organization, *, agent) -> None:
    number = PhoneNumber.objects.filter(organization=organization, phone_number=DEMO_NUMBER).first()
    if number is None:
        return
    now = timezone.now()
    for index, (phone, direction, status, minutes, talked) in enumerate(DEMO_CALLS):
        contact = contact_for(organization=organization, phone=phone)
        started = now - timedelta(minutes=minutes)
        inbound = direction == CallDirection.INBOUND
        call = Call.objects.create(
            organization=organization, phone_number=number, agent=agent, contact=contact, direction=direction,
            from_number=phone if inbound else DEMO_NUMBER, to_number=DEMO_NUMBER if inbound else phone,
            provider=Provider.TWILIO, provider_sid=f"CAdemo{index:02d}" + "0" * 26, status=status,
            started_at=started, answered_at=started + timedelta(seconds=6) if talked else None,
            ended_at=started + timedelta(seconds=(talked or 25) + 6), duration=talked,
            created_by=None if inbound else agent.user)
        Call.objects.filter(pk=call.pk).update(created_at=started)


# The orders the demo's customers write about ("Where is my order #1042?"): numbered from 1041, each
# walked through the workflow by the owner as an agent would. (customer phone, lines, steps, ship to)
DEMO_ORDERS = [
    ("+14155550125", [("Espresso beans 1 kg", 1, "18.00")], ["confirmed", "processing", "shipped", "delivered"],
     "4 Elm Row, Oakland"),
    ("+14155550123", [("Coffee beans 1 kg", 2, "12.50"), ("Enamel mug", 1, "9.90")],
     ["confirmed", "processing", "shipped"], "12 Market St, San Francisco"),
    ("+14155550124", [("Pour-over kettle", 1, "39.00"), ("Filter papers (100)", 3, "4.20")], [],
     "88 Valencia St, San Francisco"),
]


def seed_orders(organization, *, owner) -> None:
    OrderCounter.objects.update_or_create(organization=organization, defaults={"last_number": 1040})
    for phone, lines, steps, address in DEMO_ORDERS:
        contact = contact_for(organization=organization, phone=phone)
        order = order_create(organization=organization, actor=owner, contact=contact, shipping_address=address,
                             items=[ItemInput(name, quantity, Decimal(price)) for name, quantity, price in lines])
        for step in steps:
            order = order_transition(organization=organization, actor=owner, order=order, to=step)
