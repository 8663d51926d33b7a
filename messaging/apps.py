from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = "Messaging"

    def ready(self):
        # crm sits below messaging and cannot call it: it says when a contact changed, and the
        # conversations of the contact tell their open tabs.
        from crm.signals import contact_changed

        from .services.conversations import contact_conversations_changed

        contact_changed.connect(contact_conversations_changed, dispatch_uid="messaging.contact_conversations_changed")

        # Telephony sits below messaging too: each call it records joins the contact's conversation
        # on that number (the same timeline as the messages).
        from telephony.signals import call_changed, calls_waiting

        from .services.calls import call_changed_in_conversation, calls_waiting_in_conversation

        call_changed.connect(call_changed_in_conversation, dispatch_uid="messaging.call_changed_in_conversation")
        calls_waiting.connect(calls_waiting_in_conversation, dispatch_uid="messaging.calls_waiting_in_conversation")
