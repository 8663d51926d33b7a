from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

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
        self.stdout.write(self.style.SUCCESS(f"Demo organization '{DEMO_SLUG}' is ready."))
