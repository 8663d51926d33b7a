"""Celery's queues: every task of the project lands on a queue that `make run` starts a worker for,
and work a person is waiting for is on the interactive queue, away from bulk work."""

from __future__ import annotations

import pytest
from django.conf import settings

from messaging import jobs as messaging_jobs
from softphone import celery_app
from softphone.launcher import WORKERS, processes
from telephony import jobs as telephony_jobs
from tenants import jobs as tenants_jobs

# What a person waits for, and what nobody does (the lists).
INTERACTIVE = {"messaging.inbound_events_drain", "messaging.message_deliver", "tenants.invitation_send",
               "tenants.password_reset_send"}
BULK = {"messaging.message_analyse", "messaging.messages_sweep", "messaging.attachments_sweep",
        "telephony.phone_numbers_import", "telephony.provider_account_sync"}


def project_tasks() -> set[str]:
    """Every task the workers register: Celery's own built-in tasks aside, and those the tests
    define for themselves (named tests.*), which other test modules may have registered by now."""
    celery_app.loader.import_default_modules()
    return {name for name in celery_app.tasks if not name.startswith(("celery.", "tests."))}


def routed_queue(name: str) -> str:
    """The queue Celery itself puts task `name` on, from the settings."""
    return celery_app.amqp.router.route({}, name)["queue"].name


def started_queues() -> list[str]:
    """The queues of the worker processes `make run` starts, read from their command lines."""
    queues = []
    for process in processes(host="127.0.0.1", port=8000, beat_schedule=settings.CELERY_BEAT_SCHEDULE_FILENAME):
        command = process.command
        if "worker" in command:
            queues += command[command.index("--queues") + 1].split(",")
    return queues


def test_make_run_starts_one_worker_for_each_queue_and_no_other():
    assert sorted(started_queues()) == sorted(queue.name for queue in settings.CELERY_TASK_QUEUES)
    assert sorted(started_queues()) == sorted(worker.queue for worker in WORKERS)
    assert settings.CELERY_TASK_DEFAULT_QUEUE in started_queues()


def test_every_task_of_the_project_lands_on_a_queue_a_worker_of_make_run_consumes():
    tasks = project_tasks()
    assert INTERACTIVE | BULK <= tasks  # the registry was read
    lost = {name: routed_queue(name) for name in tasks if routed_queue(name) not in started_queues()}
    assert lost == {}
    # So does a task nobody routed (Celery's own, or one added without a route).
    assert routed_queue("celery.backend_cleanup") in started_queues()
    assert routed_queue("no.such_task") in started_queues()


def test_every_task_is_routed_by_name_and_every_route_names_a_task():
    """Adding a task means deciding whether a person waits for it (settings.INTERACTIVE_TASKS or
    BULK_TASKS); a route whose name has a typo would silently send its task to the default queue."""
    tasks = project_tasks()
    assert sorted(tasks - set(settings.CELERY_TASK_ROUTES)) == []
    assert sorted(set(settings.CELERY_TASK_ROUTES) - tasks) == []
    assert not set(settings.INTERACTIVE_TASKS) & set(settings.BULK_TASKS)


def test_work_a_person_waits_for_is_interactive_and_bulk_work_is_not():
    assert {name: routed_queue(name) for name in INTERACTIVE} == dict.fromkeys(INTERACTIVE, "interactive")
    assert {name: routed_queue(name) for name in BULK} == dict.fromkeys(BULK, "bulk")
    # Beat's periodic fan-outs and sweeps are bulk work.
    periodic = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert periodic <= project_tasks()
    assert {name: routed_queue(name) for name in periodic} == dict.fromkeys(periodic, "bulk")


@pytest.fixture
def sent(monkeypatch):
    """What is handed to the broker, by task name and queue, instead of sending it."""
    sent: list[tuple[str, str]] = []

    def record(producer, name, message, **options):
        sent.append((name, options["queue"].name))

    monkeypatch.setattr(celery_app.amqp, "send_task_message", record)
    eager, celery_app.conf.task_always_eager = celery_app.conf.task_always_eager, False  # as in production
    yield sent
    celery_app.conf.task_always_eager = eager


def test_tasks_sent_by_name_through_the_seams_follow_the_routes(sent, db, django_capture_on_commit_callbacks):
    """Services enqueue by name (core.jobs, `send_task`, after commit): the routes apply there too."""
    with django_capture_on_commit_callbacks(execute=True):
        messaging_jobs.inbound_events_drain("org-1")
        messaging_jobs.message_deliver("org-1", "message-1")
        telephony_jobs.phone_numbers_import("org-1", "job-1")
        tenants_jobs.password_reset_send("user-1")
    assert sorted(sent) == [("messaging.inbound_events_drain", "interactive"),
                            ("messaging.message_deliver", "interactive"),
                            ("telephony.phone_numbers_import", "bulk"),
                            ("tenants.password_reset_send", "interactive")]
