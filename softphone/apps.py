from django.apps import AppConfig


class SoftphoneConfig(AppConfig):
    name = "softphone"
    verbose_name = "Softphone platform"
