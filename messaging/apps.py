from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = "Messaging"

    def ready(self):
        # crm sits below messaging and cannot call it: it says when a contact changed, and the
        # conversations of the contact tell their open tabs.
        from crm.signals import contact_changed, contacts_merging

        from .services.conversations import contact_conversations_changed, contacts_merging_conversations

        contact_changed.connect(contact_conversations_changed, dispatch_uid="messaging.contact_conversations_changed")
        # Two contacts made one: the person's two conversations on one line of ours become one.
        contacts_merging.connect(contacts_merging_conversations, dispatch_uid="messaging.contacts_merging_conversations")

        # Telephony sits below messaging too: each call it records joins the contact's conversation
        # on that number (the same timeline as the messages).
        from telephony.signals import call_changed, calls_waiting

        from .services.calls import call_changed_in_conversation, calls_waiting_in_conversation

        call_changed.connect(call_changed_in_conversation, dispatch_uid="messaging.call_changed_in_conversation")
        calls_waiting.connect(calls_waiting_in_conversation, dispatch_uid="messaging.calls_waiting_in_conversation")

        # The organization's home page: the conversations and messages panels.
        from tenants.signals import home_panels_requested

        from . import home

        home_panels_requested.connect(home.home_panels, dispatch_uid="messaging.home_panels")
