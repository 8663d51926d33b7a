from django.apps import AppConfig


class TelephonyConfig(AppConfig):
    name = "telephony"
    verbose_name = "Telephony"

    def ready(self):
        # tenants sits below telephony and cannot call it: it says when an agent changed or is
        # about to go, and asks for the assistants an AI agent can have; the agent's numbers follow.
        from tenants import signals

        from . import receivers

        signals.agent_changed.connect(receivers.agent_changed, dispatch_uid="telephony.agent_changed")
        signals.agent_deleting.connect(receivers.agent_deleting, dispatch_uid="telephony.agent_deleting")
        signals.assistants_requested.connect(receivers.assistants_requested,
                                             dispatch_uid="telephony.assistants_requested")
        # The organization's home page: the calls panels.
        from . import home

        signals.home_panels_requested.connect(home.home_panels, dispatch_uid="telephony.home_panels")
