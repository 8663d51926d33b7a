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
