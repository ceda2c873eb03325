from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OpsConfig(AppConfig):
    name = "odr.ops"
    label = "ops"
    verbose_name = _("Operations")

    def ready(self):
        import logging

        # Python warnings (a deprecation, whitenoise's missing static folder) through logging: in the
        # same format as every other line (JSON in production), not raw text on stderr.
        logging.captureWarnings(True)

        # The log context's ends: a request finished (web), a task started or finished (worker).
        from . import logcontext

        logcontext.connect_signals()
