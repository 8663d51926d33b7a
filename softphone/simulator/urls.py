from django.urls import path

from . import views

app_name = "simulator"

urlpatterns = [
    path("twilio/<path:path>", views.twilio_api, name="twilio-api"),
    path("phone/", views.phone, name="phone"),
    path("phone/thread/", views.phone_thread, name="phone-thread"),
]
