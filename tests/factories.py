"""Factories shared by the suite. Tenant-owned rows are created inside their tenant's scope."""

from __future__ import annotations

import itertools

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache

from tenants import services
from tenants.models import Agent, AgentKind, Membership, Organization, Role
from tenants.scoping import tenant_scope

_seq = itertools.count(1)
PASSWORD = "correct horse battery staple"


def make_user(username: str | None = None, **extra):
    n = next(_seq)
    username = username or f"user{n}"
    user = get_user_model().objects.create_user(
        username=username, email=extra.pop("email", f"{username}@example.com"), password=PASSWORD, **extra
    )
    return user


def make_organization(name: str, owner=None, slug: str | None = None) -> Organization:
    owner = owner or make_user()
    return services.organization_create(name=name, slug=slug, owner=owner)


def add_member(organization: Organization, user, role: str = Role.AGENT) -> Membership:
    with tenant_scope(organization):
        return Membership.objects.create(organization=organization, user=user, role=role)


def make_agent(organization: Organization, *, user=None, name: str | None = None, kind: str = AgentKind.HUMAN,
               assistant_id: str = "") -> Agent:
    with tenant_scope(organization):
        return Agent.objects.create(
            organization=organization, user=user, name=name or (user.username if user else "AI agent"), kind=kind,
            assistant_id=assistant_id,
        )


def make_client(organization: Organization, name: str):
    from tenants.models import Client

    with tenant_scope(organization):
        return Client.objects.create(organization=organization, name=name)


def build_world(organization: Organization, owner) -> dict:
    """One row of every tenant-owned model for ``organization``, keyed by model name.

    The security suite resolves URL kwargs such as ``agent_id`` against this, so a route whose
    object kind is missing here fails loudly instead of going untested: when a later change adds a
    tenant model, it adds a row here.
    """
    from datetime import timedelta

    from django.utils import timezone

    from core.ids import uuid7
    from crm.models import (
        Contact,
        ContactImport,
        ContactLabelUse,
        ContactMerge,
        Order,
        OrderCounter,
        OrderItem,
        OrderStatusChange,
    )
    from messaging.models import (
        CannedReply,
        Conversation,
        InboundDrain,
        InboundEvent,
        LabelUse,
        Message,
        WhatsAppSender,
        WhatsAppTemplate,
    )
    from telephony.models import Call, CallDrain, PhoneNumber, Provider, ProviderAccount, VoicePolicy
    from tenants.models import AuditEvent, Client, ClientAccess, Invitation, Job

    world = {}
    with tenant_scope(organization):
        member = make_user(f"{organization.slug}-member")
        world["membership"] = Membership.objects.create(organization=organization, user=member, role=Role.AGENT)
        world["client"] = Client.objects.create(organization=organization, name=f"{organization.name} client")
        world["clientaccess"] = ClientAccess.objects.create(organization=organization, membership=world["membership"],
                                                            client=world["client"])
        world["agent"] = Agent.objects.create(organization=organization, user=member, name=f"{organization.name} agent",
                                              kind=AgentKind.HUMAN, client=world["client"])
        world["invitation"] = Invitation.objects.create(
            organization=organization, email=f"invitee@{organization.slug}.example", token_hash=f"h-{organization.pk}",
            token="t", invited_by=owner, expires_at=timezone.now() + timedelta(days=1),
        )
        world["auditevent"] = AuditEvent.objects.create(organization=organization, actor=owner, verb="test.seeded",
                                                        target_type="tenants.client", target_id=world["client"].pk)
        world["job"] = Job.objects.create(organization=organization, kind="test", created_by=owner)
        world["provideraccount"] = ProviderAccount.objects.create(
            organization=organization, provider=Provider.TWILIO, friendly_name=f"{organization.name} Twilio",
            account_sid="AC" + organization.pk.hex, auth_token="token-" + organization.slug)
        world["phonenumber"] = PhoneNumber.objects.create(
            organization=organization, provider_account=world["provideraccount"], provider=Provider.TWILIO,
            phone_number=next_test_number(), provider_sid="PN" + organization.pk.hex, agent=world["agent"],
            client=world["client"],
            capabilities={"voice": True, "sms": True, "mms": False, "fax": False})
        world["contact"] = Contact.objects.create(organization=organization, phone_number=next_test_number(),
                                                  name=f"{organization.name} customer", labels=["wholesale"])
        # kept by a trigger
        world["contactlabeluse"] = ContactLabelUse.objects.get(organization=organization, label="wholesale")
        world["conversation"] = Conversation.objects.create(organization=organization, contact=world["contact"],
                                                            channel="sms", phone_number=world["phonenumber"],
                                                            assignee=world["agent"], labels=["vip"])
        world["labeluse"] = LabelUse.objects.get(organization=organization, label="vip")  # kept by a trigger
        world["message"] = Message.objects.create(
            organization=organization, conversation=world["conversation"], direction="inbound", channel="mms",
            body="hello", status="received", provider_sid="SM" + organization.pk.hex,
            media=[{"url": "https://api.twilio.com/x.jpg", "content_type": "image/jpeg", "type": "image"}])
        world["whatsappsender"] = WhatsAppSender.objects.create(
            organization=organization, name="WA", display_phone_number=next_test_number(),
            phone_number_id="pnid-" + organization.slug, access_token="t", app_secret="s",
            verify_token="verify-" + organization.slug)
        world["whatsapptemplate"] = WhatsAppTemplate.objects.create(
            organization=organization, provider="whatsapp_cloud", business_account_id="1" + str(organization.pk.int)[:12],
            external_id="tpl-" + organization.slug, name="order_update", language="en_US", category="utility",
            status="approved", body="Hello {{1}}, your order is on its way.",
            parameters=[{"component": "body", "name": "1", "example": "Ann"}], synced_at=timezone.now())
        world["inboundevent"] = InboundEvent.objects.create(
            organization=organization, provider="twilio", provider_sid="SMev" + organization.pk.hex,
            phone_number=world["phonenumber"], payload={"Body": "hi"}, received_at=timezone.now())
        world["inbounddrain"] = InboundDrain.objects.create(organization=organization, requested_until=timezone.now())
        world["cannedreply"] = CannedReply.objects.create(organization=organization, shortcut="hello",
                                                          title="Hello", body="Hello! How can we help?",
                                                          created_by=owner)
        world["voicepolicy"] = VoicePolicy.objects.create(organization=organization)
        world["call"] = Call.objects.create(
            organization=organization, phone_number=world["phonenumber"], agent=world["agent"],
            contact=world["contact"], direction="inbound", from_number=world["contact"].phone_number,
            to_number=world["phonenumber"].phone_number, provider_sid="CA" + organization.pk.hex,
            status="completed", voicemail=True, recording_sid="RE" + organization.pk.hex,
            recording_url=f"https://api.twilio.com/2010-04-01/Accounts/AC{organization.pk.hex}/Recordings/RE{organization.pk.hex}")
        world["calldrain"] = CallDrain.objects.create(organization=organization, requested_until=timezone.now())
        world["ordercounter"] = OrderCounter.objects.create(organization=organization, last_number=1001)
        world["order"] = Order.objects.create(organization=organization, contact=world["contact"], number=1001,
                                              currency="USD", created_by=owner)
        world["orderitem"] = OrderItem.objects.create(organization=organization, order=world["order"],
                                                      name="Coffee beans", quantity=2, unit_price="12.50")
        world["orderstatuschange"] = OrderStatusChange.objects.create(
            organization=organization, order=world["order"], from_status=None, to_status="pending", changed_by=owner)
        # The same person under another number (a merge's duplicate).
        world["duplicate"] = Contact.objects.create(organization=organization, phone_number=next_test_number(),
                                                    name="Same customer, other phone")
        world["contactmerge"] = ContactMerge.objects.create(
            organization=organization, contact=world["contact"], merged_contact_id=uuid7(),
            merged_address=next_test_number(), merged_name="Their old number", merged_by=owner)
        # A CSV of contacts, previewed and waiting to be confirmed (one new contact in it).
        world["contactimport"] = ContactImport.objects.create(
            organization=organization, file_name="customers.csv", default_country="US", created_by=owner,
            rows=[{"line": 2, "raw_phone": "+14155550166", "phone": "+14155550166", "name": "Imported Ivy",
                   "email": "", "notes": "", "labels": [], "error": ""}],
            summary={"rows": 1, "errors": 0, "same": 0, "create": 1, "update": 0, "ignored_columns": [],
                     "encoding": "UTF-8"})
    return world


_numbers = itertools.count(1)


def next_test_number() -> str:
    """A distinct, valid US number per call (555-01XX numbers are reserved for fiction)."""
    return f"+1415555{next(_numbers):04d}"


def clear_rate_limits() -> None:
    """Forget every throttle and lockout counter kept in the shared cache (Redis)."""
    client = cache._cache.get_client(write=True)
    for key in client.scan_iter(match=settings.CACHES["default"]["KEY_PREFIX"] + ":*", count=1000):
        client.delete(key)
