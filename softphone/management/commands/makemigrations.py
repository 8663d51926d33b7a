"""`makemigrations` that adds row-level security to every new tenant-owned model by itself."""

from django.apps import apps
from django.core.management.commands.makemigrations import Command as BaseCommand
from django.db.migrations.autodetector import MigrationAutodetector
from django.db.migrations.operations import CreateModel

from tenants.models import TenantModel
from tenants.rls import EnableRowLevelSecurity


class TenantAwareAutodetector(MigrationAutodetector):
    def changes(self, *args, **kwargs):
        changes = super().changes(*args, **kwargs)
        for app_label, migrations in changes.items():
            for migration in migrations:
                for operation in list(migration.operations):
                    if not isinstance(operation, CreateModel):
                        continue
                    try:
                        model = apps.get_model(app_label, operation.name)
                    except LookupError:
                        continue
                    if issubclass(model, TenantModel):
                        migration.operations.append(EnableRowLevelSecurity(operation.name))
        return changes


class Command(BaseCommand):
    autodetector = TenantAwareAutodetector
