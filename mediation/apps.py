from django.apps import AppConfig
from django.conf import settings
from django.utils.translation import gettext_lazy as _


class MediationConfig(AppConfig):
    name = "mediation"
    verbose_name = _("Mediation")

    def ready(self):
        # The deadline sweep (odr.deadlines) calls back into this stage by deadline kind.
        from odr.deadlines.models import DeadlineKind
        from odr.deadlines.sweep import DeadlineHandler, register_deadline_handler
        from odr.documents.models import DocumentKind
        from odr.documents.services import register_document_builder, register_document_producer

        from . import documents, export, reports, services

        register_document_builder(DocumentKind.MEDIATION_RECORD, documents.mediation_record_spec)
        register_document_producer(DocumentKind.CASE_EXPORT, export.export_cases_produce)
        register_document_builder(DocumentKind.ANNUAL_REPORT, reports.annual_report_spec)

        register_deadline_handler(
            DeadlineKind.ADMISSIBILITY,
            DeadlineHandler(
                on_due=lambda case: services.case_admissibility_lapsed(case=case),
                on_remind=lambda case, days: services.case_remind_mediator(
                    case=case, kind=DeadlineKind.ADMISSIBILITY, days_left=days
                ),
                remind_days=lambda: settings.ODR_ADMISSIBILITY_REMINDER_DAYS,
            ),
        )
        register_deadline_handler(
            DeadlineKind.OUTCOME,
            DeadlineHandler(
                on_due=lambda case: services.case_mark_overdue(case=case),
                on_remind=lambda case, days: services.case_remind_mediator(
                    case=case, kind=DeadlineKind.OUTCOME, days_left=days
                ),
                remind_days=lambda: settings.ODR_OUTCOME_REMINDER_DAYS,
            ),
        )
        register_deadline_handler(
            DeadlineKind.PROPOSAL_RESPONSE,
            DeadlineHandler(on_due=lambda response: services.proposal_deem_refused(response=response)),
        )
        register_deadline_handler(
            DeadlineKind.COMPLIANCE_FOLLOWUP,
            DeadlineHandler(on_due=lambda case: services.case_compliance_followup(case=case)),
        )
