"""`manage.py embed_messages`: embed every message not embedded by the configured model (search by
meaning), one organization after another, with progress. Run it after changing EMBEDDINGS_MODEL or
EMBEDDINGS_URL; safe to stop and run again (each organization's job resumes from its cursor)."""

from django.core.management.base import BaseCommand, CommandError

from messaging import embedders
from messaging.services import meaning
from tenants.models import JobStatus, Organization
from tenants.scoping import tenant_scope


class Command(BaseCommand):
    help = "Embed every message not embedded by the configured model (resumable, idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--organization", help="Only this organization (its slug).")

    def handle(self, *args, organization=None, **options):
        organizations = Organization.objects.order_by("slug")
        if organization:
            organizations = organizations.filter(slug=organization)
            if not organizations.exists():
                raise CommandError(f"No organization {organization!r}.")
        model = embedders.embedder().name
        self.stdout.write(f"Embedding with {model}.")
        for org in organizations:
            with tenant_scope(org):
                job = meaning.embeddings_backfill_start(organization=org)
                self.stdout.write(f"{org.slug}: {job.total or 0} message(s) to embed" +
                                  (f", resuming after {job.done}" if job.done else ""))
                while job.status in (JobStatus.QUEUED, JobStatus.RUNNING):
                    try:
                        job = meaning.embeddings_backfill_run(organization=org, job_id=job.pk, batches=20)
                    except embedders.EmbeddingError as exc:
                        raise CommandError(f"{org.slug}: {exc.message} Run the command again to resume.") from None
                    if job is None:
                        break
                    self.stdout.write(f"  {job.done}/{job.total or 0}")
                if job is not None and job.status == JobStatus.FAILED:
                    raise CommandError(f"{org.slug}: {job.errors[0]['error'] if job.errors else 'failed'}")
        self.stdout.write(self.style.SUCCESS("Done."))
