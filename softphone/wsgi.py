import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "softphone.settings")
application = get_wsgi_application()


def _settle() -> None:
    """Load now what the first requests would load (every view through the URL configuration, and
    what sending the first task loads), then take all of it out of the garbage collector's sight.
    Without this, each full collection walks the whole of Django, DRF, Celery and the Twilio SDK and
    stops every thread of the process for about 100 ms on a 2-core machine (docs/benchmarks.md);
    with it, a collection walks only what requests made since. The usual practice for pre-loaded
    Python servers (gc.freeze, Python 3.7+)."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 (imports every view module, and what they import)
    _load_task_sending()
    gc.collect()
    gc.freeze()


def _load_task_sending() -> None:
    """Every tasks module, and the parts of Celery and kombu the first `.delay()` would import: the
    tasks' base class, the broker's transport, the producer pool, the result backend, the event
    dispatcher (about 70 modules). Left to the first request that sends a task, they made that
    request take a second or more on a busy 2-core machine (docs/benchmarks.md). Nothing connects here: connections
    are made on first use, in the process that uses them."""
    from softphone.celery import app

    app.loader.import_default_modules()
    app.Task  # noqa: B018 (the tasks' base class, Django's)
    app.amqp.producer_pool  # noqa: B018
    app.backend  # noqa: B018
    app.events.Dispatcher  # noqa: B018
    with app.connection_for_write() as connection:
        connection.transport  # noqa: B018


_settle()
