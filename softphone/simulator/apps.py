from django.apps import AppConfig


class SimulatorConfig(AppConfig):
    name = "softphone.simulator"
    label = "simulator"
    verbose_name = "Simulated carrier"
    default_auto_field = "django.db.models.BigAutoField"
