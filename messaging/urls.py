from django.urls import path

from . import api, api_senders, views, views_orders, views_senders, views_templates, webhooks
from .providers import ADAPTERS
from .providers.base import NUMBERS


def _number_vendor_routes() -> list:
    """Each vendor whose lines are phone numbers calls /webhooks/<its adapter's name>/messages/ and
    .../messages/status/ (Twilio: /webhooks/twilio/messages/, the address its numbers are given)."""
    routes = []
    for provider, adapter in ADAPTERS.items():
        if adapter.lines == NUMBERS:
            routes += [
                path(f"{provider}/messages/", webhooks.number_message, {"provider": provider},
                     name=f"{provider}-messages"),
                path(f"{provider}/messages/status/", webhooks.number_message_status, {"provider": provider},
                     name=f"{provider}-message-status"),
            ]
    return routes


webhook_patterns = [
    *_number_vendor_routes(),
    path("whatsapp/", webhooks.whatsapp, name="whatsapp"),
]

# Mounted under /o/<org_slug>/ (HTML).
html_patterns = [
    path("media/<uuid:message_id>/<int:index>/", views.message_media, name="message-media"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/list/", views.inbox_list, name="inbox-list"),
    path("inbox/poll/", views.inbox_poll, name="inbox-poll"),
    path("inbox/availability/", views.availability, name="availability"),
    path("inbox/c/<uuid:conversation_id>/", views.conversation_open, name="conversation-open"),
    path("inbox/with/<uuid:contact_id>/<uuid:phone_number_id>/", views.conversation_with, name="conversation-with"),
    path("inbox/c/<uuid:conversation_id>/older/", views.conversation_older, name="conversation-older"),
    path("inbox/c/<uuid:conversation_id>/suggestions/", views.conversation_suggestions,
         name="conversation-suggestions"),
    path("inbox/c/<uuid:conversation_id>/similar/", views.conversation_similar, name="conversation-similar"),
    path("inbox/c/<uuid:conversation_id>/send/", views.conversation_send, name="conversation-send"),
    path("inbox/c/<uuid:conversation_id>/update/", views.conversation_update, name="conversation-update"),
    path("inbox/contacts/<uuid:contact_id>/notes/", views.contact_notes, name="contact-notes"),
    path("inbox/contacts/<uuid:contact_id>/write/", views.contact_write, name="contact-write"),
    path("inbox/c/<uuid:conversation_id>/orders/", views_orders.conversation_orders, name="conversation-orders"),
    path("inbox/c/<uuid:conversation_id>/orders/new/", views_orders.conversation_order_create,
         name="conversation-order-create"),
    path("inbox/c/<uuid:conversation_id>/orders/<uuid:order_id>/update/", views_orders.conversation_order_update,
         name="conversation-order-update"),
    path("inbox/c/<uuid:conversation_id>/orders/<uuid:order_id>/transition/",
         views_orders.conversation_order_transition, name="conversation-order-transition"),
    path("inbox/c/<uuid:conversation_id>/template/", views_templates.conversation_template,
         name="conversation-template"),
    path("whatsapp/templates/", views_templates.whatsapp_templates, name="whatsapp-templates"),
    path("whatsapp/templates/sync/<uuid:whatsapp_sender_id>/", views_templates.whatsapp_templates_sync,
         name="whatsapp-templates-sync"),
    path("whatsapp/templates/sync/twilio/<uuid:provider_account_id>/", views_templates.twilio_templates_sync,
         name="twilio-templates-sync"),
    path("canned-replies/", views.canned_replies, name="canned-replies"),
    path("canned-replies/<uuid:canned_reply_id>/delete/", views.canned_reply_delete, name="canned-reply-delete"),
    path("whatsapp/senders/", views_senders.sender_list, name="sender-list"),
    path("whatsapp/senders/connect/", views_senders.sender_connect, name="sender-connect"),
    path("whatsapp/senders/<uuid:whatsapp_sender_id>/", views_senders.sender_detail, name="sender-detail"),
    path("whatsapp/senders/<uuid:whatsapp_sender_id>/switch/", views_senders.sender_switch, name="sender-switch"),
    path("whatsapp/senders/<uuid:whatsapp_sender_id>/check/", views_senders.sender_check, name="sender-check"),
    path("whatsapp/senders/<uuid:whatsapp_sender_id>/delete/", views_senders.sender_delete, name="sender-delete"),
]

# Public: the provider fetches outbound attachments from a signed, expiring link.
public_patterns = [
    path("attachments/<str:token>/", views.attachment_public, name="attachment-public"),
    # The live inbox's "anything new?": a signed, short-lived token of the authenticated poll's.
    path("live/<str:token>/", views.inbox_live, name="inbox-live"),
]

api_patterns = [
    path("contacts", api.ContactListApi.as_view(), name="api-contacts"),
    path("contacts/<uuid:contact_id>", api.ContactDetailApi.as_view(), name="api-contact-detail"),
    path("conversations", api.ConversationListApi.as_view(), name="api-conversations"),
    path("conversations/<uuid:conversation_id>", api.ConversationDetailApi.as_view(), name="api-conversation-detail"),
    path("conversations/<uuid:conversation_id>/messages", api.ConversationMessagesApi.as_view(),
         name="api-conversation-messages"),
    path("messages", api.MessageStartApi.as_view(), name="api-messages"),
    path("search", api.SearchApi.as_view(), name="api-search"),
    path("whatsapp-senders", api_senders.WhatsAppSenderListCreateApi.as_view(), name="api-whatsapp-senders"),
    path("whatsapp-senders/<uuid:whatsapp_sender_id>", api_senders.WhatsAppSenderDetailApi.as_view(),
         name="api-whatsapp-sender-detail"),
    path("whatsapp-senders/<uuid:whatsapp_sender_id>/check", api_senders.WhatsAppSenderCheckApi.as_view(),
         name="api-whatsapp-sender-check"),
]
