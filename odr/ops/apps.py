from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OpsConfig(AppConfig):
    name = "odr.ops"
    label = "ops"
    verbose_name = _("Operations")

    def ready(self):
        # The worker's log context (task id and name on every record): Celery signals.
        from . import logcontext

        logcontext.connect_celery_signals()
