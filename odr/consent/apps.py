from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _receipt_attachments(message):
    # Imported on use: PDF libraries are heavy, and most processes never send a receipt.
    from .pdf import receipt_attachments

    return receipt_attachments(message)


class ConsentConfig(AppConfig):
    name = "odr.consent"
    label = "consent"
    verbose_name = _("Consent receipts")

    def ready(self):
        from odr.notifications.emails import register_attachments

        # The notifications package never imports us: we hand it the PDF for our own e-mails (D32).
        register_attachments("consent_receipt", _receipt_attachments)
