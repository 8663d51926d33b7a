from django.urls import path

from . import views

app_name = "simulator"

urlpatterns = [
    path("twilio/<path:path>", views.twilio_api, name="twilio-api"),
    path("vapi/<path:path>", views.vapi_api, name="vapi-api"),
    path("whatsapp/<path:path>", views.whatsapp_api, name="whatsapp-api"),
    path("vonage/<path:path>", views.vonage_api, name="vonage-api"),
    path("bandwidth/<path:path>", views.bandwidth_api, name="bandwidth-api"),
    path("phone/", views.phone, name="phone"),
    path("phone/thread/", views.phone_thread, name="phone-thread"),
    path("phone/call/", views.phone_call, name="phone-call"),
    path("voice/device/", views.voice_device, name="voice-device"),
    path("voice/connect/", views.voice_connect, name="voice-connect"),
    path("voice/calls/<str:sid>/<str:action>/", views.voice_call, name="voice-call"),
]
