import logging

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from kombu import Connection

from messaging.selectors import inbound_events_failed_count
from messaging.services.meaning import status as embeddings_status

logger = logging.getLogger(__name__)


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("select 1")
        return True
    except Exception:  # any failure means "not ready"; the detail goes to the log
        logger.exception("health check: database did not answer")
        return False


def _broker_ok() -> bool:
    try:
        with Connection(settings.CELERY_BROKER_URL, connect_timeout=1) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=1)
        return True
    except Exception:
        logger.warning("health check: broker did not answer")
        return False


def _inbound_events_failed() -> int | None:
    try:
        return inbound_events_failed_count()
    except Exception:  # e.g. during a deploy, before the migration: unknown, which is not "unavailable"
        logger.exception("health check: could not count failed inbound events")
        return None


@never_cache
@require_GET
def healthz(request):
    checks = {"database": _database_ok(), "broker": _broker_ok()}
    failed = [name for name, ok in checks.items() if not ok]
    body = {"status": "ok" if not failed else "unavailable", "checks": {k: "ok" if v else "failed" for k, v in checks.items()}}
    if failed:
        body["failed"] = failed
    if checks["database"]:
        # Not a failure of the service (it goes on with every other event), but someone must look:
        # the admin lists them, with their errors and a retry action.
        body["inbound_events_failed"] = _inbound_events_failed()
    # Search by meaning: the embedding model, and the last permanent error of the embedder (a refused
    # key, an unknown model) until a batch succeeds again; messages go on arriving meanwhile.
    body["embeddings"] = embeddings_status()
    return JsonResponse(body, status=503 if failed else 200)


def not_found(request, exception):
    """A path under /api/ that names no endpoint answers like every other API 404: JSON."""
    if request.path_info.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)
