"""Documents the platform generates (records, audit trails, notices, reports, exports) and keeps.

Files are stored under random names and served only through permission-checked views. A document's
SHA-256 is recorded in the case's audit trail when it is generated (D37), so that anyone holding the
file can check it is the one the platform issued.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class DocumentKind(models.TextChoices):
    MEDIATION_RECORD = "mediation_record", _("Mediation record")
    AUDIT_TRAIL = "audit_trail", _("Audit trail")
    COMPLAINT_ACKNOWLEDGEMENT = "complaint_acknowledgement", _("Acknowledgement of the complaint")
    MEDIATOR_NOTICE = "mediator_notice", _("Information on the consumer mediator")
    ANNUAL_REPORT = "annual_report", _("Annual activity report")
    CASE_EXPORT = "case_export", _("Export of cases")


class DocumentStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be generated")
    RUNNING = "running", _("Being generated")
    READY = "ready", _("Ready")
    FAILED = "failed", _("Failed")


def _storage_name(instance, filename):
    return f"documents/{uuid.uuid4().hex}{'.zip' if filename.endswith('.zip') else '.pdf'}"


class GeneratedDocument(models.Model):
    kind = models.CharField(_("kind"), max_length=32, choices=DocumentKind.choices)
    # The case the document is about (its audit chain records the fingerprint), or for a report or an
    # export the mediation body it belongs to, as "B-<slug>".
    subject_reference = models.CharField(_("about"), max_length=64, db_index=True)
    parameters = models.JSONField(_("parameters"), default=dict, blank=True)
    language = models.CharField(_("language"), max_length=8, default="fr")
    status = models.CharField(
        _("status"), max_length=16, choices=DocumentStatus.choices, default=DocumentStatus.PENDING
    )
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    file = models.FileField(_("file"), upload_to=_storage_name, blank=True)
    filename = models.CharField(_("file name"), max_length=200, blank=True)
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    size = models.PositiveBigIntegerField(_("size"), default=0)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    requested_at = models.DateTimeField(_("requested"))
    ready_at = models.DateTimeField(_("ready"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    # A document produced in steps (an export) is `running` outside any transaction: the worker holds
    # it until this instant, renewed at each progress report. A running row past it was left by a
    # worker that died (SIGKILL, host lost); the periodic pick-up claims it again.
    lease_expires_at = models.DateTimeField(_("lease expires"), null=True, blank=True)
    # Set anew at each claim: progress, failure and storing are done only under the token the worker
    # claimed with, so a worker whose export was taken over can no longer touch it.
    lease_token = models.UUIDField(_("lease token"), null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-requested_at", "-pk"]
        indexes = [
            models.Index(
                fields=["lease_expires_at"], condition=Q(status="running"), name="document_running_lease"
            ),
            # The every-minute pick-up of documents whose task was lost, oldest first.
            models.Index(fields=["requested_at"], condition=Q(status="pending"), name="document_pending"),
            # Failed renderings for the metrics (odr.ops), without scanning every document ever made.
            models.Index(fields=["kind"], condition=Q(status="failed"), name="document_failed"),
        ]
        verbose_name = _("generated document")
        verbose_name_plural = _("generated documents")

    def __str__(self):
        return f"{self.get_kind_display()} {self.subject_reference}"
