from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from softphone.urls import urlpatterns as product_urlpatterns


@csrf_exempt
def bare(request):
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [path("bench/bare", bare), *product_urlpatterns]
