from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "odr.audit"
    label = "audit"
    verbose_name = _("Audit trail")

    def ready(self):
        # The compliance officer's export of a case's trail as PDF/A (D37).
        from odr.documents.models import DocumentKind
        from odr.documents.services import register_document_builder

        from .pdf import audit_trail_spec

        register_document_builder(DocumentKind.AUDIT_TRAIL, audit_trail_spec)
