"""`migrate` with the same autodetector as our `makemigrations` (Django checks they match)."""

from django.core.management.commands.migrate import Command as BaseCommand

from .makemigrations import TenantAwareAutodetector


class Command(BaseCommand):
    autodetector = TenantAwareAutodetector
