from django.apps import AppConfig
from django.conf import settings
from django.utils.translation import gettext_lazy as _


class ComplaintsConfig(AppConfig):
    name = "complaints"
    verbose_name = _("Complaints")

    def ready(self):
        # The deadline sweep (odr.deadlines) calls back into this stage by deadline kind.
        from odr.deadlines.models import DeadlineKind
        from odr.deadlines.sweep import DeadlineHandler, register_deadline_handler
        from odr.documents.models import DocumentKind
        from odr.documents.services import register_document_builder

        from . import documents, services

        register_deadline_handler(
            DeadlineKind.MERCHANT_RESPONSE,
            DeadlineHandler(
                on_due=lambda complaint: services.complaint_response_lapsed(complaint=complaint),
                on_remind=lambda complaint, days: services.complaint_remind_merchant(
                    complaint=complaint, days_left=days
                ),
                remind_days=lambda: settings.ODR_RESPONSE_REMINDER_DAYS,
            ),
        )
        register_deadline_handler(
            DeadlineKind.REFERRAL_WINDOW,
            DeadlineHandler(on_due=lambda complaint: services.complaint_expire(complaint=complaint)),
        )
        # The stage's PDF/A documents (odr.documents): acknowledgement (D1), mediator information (D4).
        register_document_builder(DocumentKind.COMPLAINT_ACKNOWLEDGEMENT, documents.acknowledgement_spec)
        register_document_builder(DocumentKind.MEDIATOR_NOTICE, documents.mediator_notice_spec)
