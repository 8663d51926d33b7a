from django.apps import AppConfig


class SoftphoneConfig(AppConfig):
    name = "softphone"
    verbose_name = "Softphone platform"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from .sessions import session_started

        # The idle clock starts at login, so the first request after it need not write the session.
        user_logged_in.connect(session_started, dispatch_uid="softphone.sessions.session_started")
