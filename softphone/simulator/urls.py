from django.urls import path

from . import views

app_name = "simulator"

urlpatterns = [
    path("twilio/<path:path>", views.twilio_api, name="twilio-api"),
    path("vapi/<path:path>", views.vapi_api, name="vapi-api"),
    path("whatsapp/<path:path>", views.whatsapp_api, name="whatsapp-api"),
    path("phone/", views.phone, name="phone"),
    path("phone/thread/", views.phone_thread, name="phone-thread"),
]
