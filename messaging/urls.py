from django.urls import path

from . import api, views, webhooks

webhook_patterns = [
    path("twilio/messages/", webhooks.twilio_message, name="twilio-messages"),
    path("twilio/messages/status/", webhooks.twilio_message_status, name="twilio-message-status"),
    path("whatsapp/", webhooks.whatsapp, name="whatsapp"),
]

html_patterns = [
    path("media/<uuid:message_id>/<int:index>/", views.message_media, name="message-media"),
]

api_patterns = [
    path("contacts", api.ContactListApi.as_view(), name="api-contacts"),
    path("contacts/<uuid:contact_id>", api.ContactDetailApi.as_view(), name="api-contact-detail"),
    path("conversations", api.ConversationListApi.as_view(), name="api-conversations"),
    path("conversations/<uuid:conversation_id>", api.ConversationDetailApi.as_view(), name="api-conversation-detail"),
    path("conversations/<uuid:conversation_id>/messages", api.ConversationMessagesApi.as_view(),
         name="api-conversation-messages"),
    path("messages", api.MessageStartApi.as_view(), name="api-messages"),
]
