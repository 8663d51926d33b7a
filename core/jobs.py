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


def enqueue(name: str, *, on_commit: bool = True, **kwargs) -> None:
    """Send task `name` with keyword arguments `kwargs` once the current transaction commits (at
    once outside one; never when it rolls back). Arguments are ids, never secrets.

    A broker outage does not fail the caller: what asked for the work is stored, and a sweeper
    finds it later. It is logged, without the arguments."""
    def send() -> None:
        task = _registered(name)
        if task is not None and current_app.conf.task_always_eager:
            # Inline (unit tests): the task's own errors (a Retry too) are the caller's, as with
            # `.delay()`; only a broker that cannot be reached is caught below.
            task.apply_async(kwargs=kwargs)
            return
        try:
            if task is not None:  # its own options
                task.apply_async(kwargs=kwargs)
            else:
                current_app.send_task(name, kwargs=kwargs)
        except Exception as exc:  # kombu raises several kinds; the sweepers catch up once it is back
            logger.warning("could not enqueue %s (%s: %s); a sweeper will catch up", name, type(exc).__name__, exc)

    if on_commit:
        transaction.on_commit(send)
    else:
        send()


def _registered(name: str):
    """The task registered under `name` in this process, loading the apps' task modules the first
    time (a web process has them loaded at start, softphone/wsgi.py). None if no module defines it."""
    tasks = current_app.tasks
    if name not in tasks:
        current_app.loader.import_default_modules()
    return tasks.get(name)
