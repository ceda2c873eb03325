from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebhooksConfig(AppConfig):
    name = "odr.webhooks"
    label = "webhooks"
    verbose_name = _("Webhooks")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from odr.notifications.models import Channel
        from odr.notifications.relay import register_sender

        from .delivery import webhook_send

        register_sender(Channel.WEBHOOK, webhook_send)
