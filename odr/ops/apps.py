from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OpsConfig(AppConfig):
    name = "odr.ops"
    label = "ops"
    verbose_name = _("Operations")

    def ready(self):
        # The log context's ends: a request finished (web), a task started or finished (worker).
        from . import logcontext

        logcontext.connect_signals()
