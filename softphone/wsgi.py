import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "softphone.settings")
application = get_wsgi_application()


def _settle() -> None:
    """Load now what the first requests would load (every view through the URL configuration), then
    take all of it out of the garbage collector's sight. Without this, each full collection walks the
    whole of Django, DRF, Celery and the Twilio SDK and stops every thread of the process for about
    100 ms on a 2-core machine (docs/benchmarks.md); with it, a collection walks only what requests
    made since. The usual practice for pre-loaded Python servers (gc.freeze, Python 3.7+)."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 (imports every view module, and what they import)
    gc.collect()
    gc.freeze()


_settle()
