"""A bare Django application: one view, no middleware, no apps, nothing else. The benchmarks serve it
with the same web server command as the product (`bench.bare_django:application`) to measure the most
a Django view can do on this machine, in the same run as the product's figures."""

from django.conf import settings

settings.configure(DEBUG=False, SECRET_KEY="bench-bare-django-not-a-secret", ALLOWED_HOSTS=["*"],
                   ROOT_URLCONF=__name__, MIDDLEWARE=[], INSTALLED_APPS=[], DATABASES={}, USE_TZ=True)

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402


def bare(request):
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [path("bench/bare", bare)]
application = get_wsgi_application()
