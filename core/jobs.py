"""The one way services ask for background work: by task name, after the transaction commits.

Services never import tasks (tasks import services; tests/test_architecture.py keeps it so). Each
app has a small seam (`<app>/jobs.py`) of named functions built on `enqueue`; Celery's routes
(settings.CELERY_TASK_ROUTES) put each task on its queue by name.
"""

from __future__ import annotations

import logging

from celery import current_app
from django.db import transaction

logger = logging.getLogger(__name__)


def enqueue(name: str, *, countdown: float | None = None, queue: str | None = None, on_commit: bool = True,
            **kwargs) -> None:
    """Send task `name` with keyword arguments `kwargs` once the current transaction commits (at
    once outside one; never when it rolls back). Arguments are ids, never secrets.

    A broker outage does not fail the caller: what asked for the work is stored, and a sweeper
    finds it later. It is logged, without the arguments."""
    options = {key: value for key, value in (("countdown", countdown), ("queue", queue)) if value is not None}

    def send() -> None:
        if current_app.conf.task_always_eager:
            # Tasks run inline (the test suite), which send_task ignores: load the task modules as a
            # worker does, and run it as .delay() would.
            current_app.loader.import_default_modules()
            current_app.tasks[name].apply_async(kwargs=kwargs, **options)
            return
        try:
            current_app.send_task(name, kwargs=kwargs, **options)
        except Exception as exc:  # kombu raises several kinds; the sweepers catch up once it is back
            logger.warning("could not enqueue %s (%s: %s); a sweeper will catch up", name, type(exc).__name__, exc)

    if on_commit:
        transaction.on_commit(send)
    else:
        send()
