"""Search by meaning (issue 19): every message's text gets an embedding (seed 002), made by a worker on
the bulk queue after the message is stored, never in a webhook or a request.

- `embedding_request`: after messages are stored, ask for the organization's waiting messages to be
  embedded (coalesced: one task for a burst). The sweep (every 30 s, beat) asks for every organization
  that has messages waiting, so a lost request, a broker or worker that was down, only delays them.
- `messages_embed`: the organization's waiting messages (`embedding_model = ''`), oldest first, a batch at
  a time; one worker per organization at once (an advisory lock). A transient error of the embedder is
  retried with backoff, then left for the next run; a permanent one is recorded for the health page and
  the messages stay waiting: nothing else about a message depends on its embedding.
- `embeddings_backfill_*`: a job (progress, resumable from its cursor, idempotent) that embeds every
  message not embedded by the configured model: existing messages, or all of them again after the
  model changed (`manage.py embed_messages`).
"""

from __future__ import annotations

import logging

from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from messaging import embedders, jobs
from messaging.models import Message
from tenants.models import Job, JobStatus, Organization
from tenants.scoping import platform_scope

logger = logging.getLogger(__name__)

EMBED_JOB = "messages_embed_backfill"
REQUEST_SECONDS = 5  # a request for an organization's embedding stands this long (coalescing)
BATCHES_PER_RUN = 20  # then the task asks again, so other organizations' turns come
STATUS_KEY = "messaging:embeddings:status"


# Asking -----------------------------------------------------------------------------------------------


def embedding_request(organization_id) -> None:
    """Ask a worker to embed the organization's waiting messages, unless asked in the last few seconds.
    Without Redis nothing is asked: the sweep asks within 30 s."""
    try:
        asked = cache.add(f"messaging:embed-request:{organization_id}", 1, timeout=REQUEST_SECONDS)
    except Exception:  # the cache (Redis) is down
        logger.warning("embeddings: could not ask for organization %s (the sweep will)", organization_id)
        return
    if asked:
        jobs.messages_embed(organization_id)


def organizations_waiting() -> list:
    """Organizations with messages waiting to be embedded (the sweep), through the partial index."""
    with platform_scope():
        return list(Message.objects.filter(embedding_model="").exclude(body="")
                    .order_by().values_list("organization_id", flat=True).distinct())


# Embedding --------------------------------------------------------------------------------------------


def messages_embed(*, organization: Organization, batches: int = BATCHES_PER_RUN) -> tuple[int, bool]:
    """Embed up to `batches` batches of the organization's waiting messages. Returns (how many were
    embedded, whether some still wait). Another worker embedding this organization already: (0, False)."""
    embedder = embedders.embedder()
    with _organization_lock(organization) as locked:
        if not locked:
            return 0, False
        done = 0
        for _ in range(batches):
            rows = list(Message.objects.filter(organization=organization, embedding_model="").exclude(body="")
                        .order_by("id").values_list("id", "body")[:embedder.batch_size])
            if not rows:
                return done, False
            done += _embed(organization, embedder, rows, replacing="")
        return done, True


class _organization_lock:
    """A session advisory lock on the organization's embedding (no row is locked while the embedder
    answers, so nothing else waits for it)."""

    def __init__(self, organization: Organization):
        self.key = int.from_bytes(organization.pk.bytes[:8], "big", signed=True) ^ 0x656D6265  # "embe"
        self.locked = False

    def __enter__(self) -> bool:
        with connection.cursor() as cursor:
            cursor.execute("select pg_try_advisory_lock(%s)", [self.key])
            self.locked = cursor.fetchone()[0]
        return self.locked

    def __exit__(self, *exc) -> None:
        if self.locked:
            with connection.cursor() as cursor:
                cursor.execute("select pg_advisory_unlock(%s)", [self.key])


def _embed(organization: Organization, embedder: embedders.Embedder, rows: list[tuple], *,
           replacing: str | None) -> int:
    """Embed `rows` ((id, body) pairs) and store the vectors on the rows that are still as they were:
    embedded by the model `replacing` ("" for none yet), or by None: by any model but this one.
    Returns how many rows took them. Raises EmbeddingError."""
    try:
        vectors = embedders.with_retries(embedder.embed, [body for _, body in rows])
    except embedders.EmbeddingError as exc:
        status_record(embedder, error=exc.message if exc.permanent else "")
        raise
    status_record(embedder, error="")
    condition, condition_params = (("m.embedding_model = %s", [replacing]) if replacing is not None
                                   else ("m.embedding_model <> %s", [embedder.name]))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"""
            update messaging_message m
               set embedding = v.embedding::vector, embedding_model = %s, embedding_dimensions = %s,
                   embedded_at = %s
              from unnest(%s::uuid[], %s::text[]) as v(id, embedding)
             where m.id = v.id and m.organization_id = %s and {condition}""",  # noqa: S608 - fixed conditions
            [embedder.name, embedder.dimensions, timezone.now(), [row_id for row_id, _ in rows],
             [_literal(vector) for vector in vectors], organization.pk, *condition_params])
        return cursor.rowcount


def _literal(vector: list[float]) -> str:
    """pgvector's text form of a vector (the model's own dimensions)."""
    return "[" + ",".join(f"{v:.7g}" for v in vector) + "]"


# Health -----------------------------------------------------------------------------------------------


def status_record(embedder: embedders.Embedder, *, error: str) -> None:
    """What the health page says of embedding: the model, and the last permanent error (cleared by the
    next success). Kept in the cache: it describes the embedder, not anyone's data."""
    try:
        if error:
            cache.set(STATUS_KEY, {"model": embedder.name, "error": error, "at": timezone.now().isoformat()},
                      timeout=None)
        elif cache.get(STATUS_KEY):
            cache.delete(STATUS_KEY)
    except Exception:
        logger.warning("embeddings: could not record the embedder's status")


def status() -> dict:
    """{"model": ..., "error": "" or the last permanent error, "since": when}."""
    try:
        recorded = cache.get(STATUS_KEY) or {}
    except Exception:
        recorded = {}
    model = embedders.embedder().name
    if recorded.get("model") != model:
        recorded = {}
    return {"model": model, "error": recorded.get("error", ""), "since": recorded.get("at", "")}


# Backfill ---------------------------------------------------------------------------------------------


def embeddings_backfill_start(*, organization: Organization, actor=None) -> Job:
    """A job that embeds every message of the organization not embedded by the configured model (an
    unfinished one is resumed rather than doubled)."""
    model = embedders.embedder().name
    running = Job.objects.filter(organization=organization, kind=EMBED_JOB, params__model=model,
                                 status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).first()
    if running is not None:
        return running
    total = Message.objects.filter(organization=organization).exclude(body="").exclude(embedding_model=model).count()
    return Job.objects.create(organization=organization, kind=EMBED_JOB, created_by=actor, total=total,
                              params={"model": model})


def embeddings_backfill_run(*, organization: Organization, job_id, batches: int | None = None) -> Job | None:
    """Run (or resume) a backfill job from its cursor (the last message id done), a batch at a time,
    saving the cursor and progress after each. `batches`: stop after that many (the job stays running,
    and resumes from there). A permanent error of the embedder fails the job with its reason."""
    now = timezone.now()
    claimed = Job.objects.filter(organization=organization, pk=job_id, kind=EMBED_JOB,
                                 status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).update(
        status=JobStatus.RUNNING, heartbeat_at=now, started_at=now)
    if not claimed:
        return None
    job = Job.objects.get(organization=organization, pk=job_id)
    embedder = embedders.embedder()
    if job.params.get("model") != embedder.name:
        return _job_end(job, JobStatus.FAILED, f"The model changed to {embedder.name} while this job ran: "
                                               "start a new one.")
    ran = 0
    while batches is None or ran < batches:
        qs = (Message.objects.filter(organization=organization).exclude(body="")
              .exclude(embedding_model=embedder.name).order_by("id"))
        if job.cursor:
            qs = qs.filter(id__gt=job.cursor)
        rows = list(qs.values_list("id", "body")[:embedder.batch_size])
        if not rows:
            return _job_end(job, JobStatus.DONE)
        try:
            embedded = _embed(organization, embedder, rows, replacing=None)
        except embedders.EmbeddingError as exc:
            if exc.permanent:
                return _job_end(job, JobStatus.FAILED, exc.message)
            raise
        job.cursor, job.done = str(rows[-1][0]), job.done + embedded
        job.heartbeat_at = timezone.now()
        job.save(update_fields=["cursor", "done", "heartbeat_at"])
        ran += 1
    return job


def _job_end(job: Job, status: str, reason: str = "") -> Job:
    job.status, job.finished_at = status, timezone.now()
    if reason:
        job.errors = [{"item": "", "error": reason}]
    job.save(update_fields=["status", "finished_at", "errors"])
    return job
