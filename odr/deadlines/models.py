"""Deadline rows: every legal period the platform watches is a row, never a Celery countdown.

The sweep (odr.deadlines.sweep) reads pending rows through the partial index on `due_at` and calls
the service that the owning stage registered for the row's kind; reminders before the due date are due
instants of their own (`next_reminder_at`, with its own partial index), so that a sweep reads only what
is due, never every deadline inside the reminder horizon. The subject is any model (complaint,
mediation case, proposal response), linked generically so that this package never imports a stage.
"""

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class DeadlineKind(models.TextChoices):
    MERCHANT_RESPONSE = "merchant_response", _("Merchant's answer to the complaint")
    REFERRAL_WINDOW = "referral_window", _("Referral to mediation possible until")
    ADMISSIBILITY = "admissibility", _("Admissibility decision")
    OUTCOME = "outcome", _("Outcome of the mediation")
    PROPOSAL_RESPONSE = "proposal_response", _("Answer to the proposal")
    COMPLIANCE_FOLLOWUP = "compliance_followup", _("Follow-up on the agreed solution")


LEGAL_BASIS = {
    DeadlineKind.MERCHANT_RESPONSE: "ISO 10002 8.4; L616-1 (D3)",
    DeadlineKind.REFERRAL_WINDOW: "C. consom. L612-2 4° (D8)",
    DeadlineKind.ADMISSIBILITY: "C. consom. L612-2; Dir. 2013/11/EU art. 5(4) (D12)",
    DeadlineKind.OUTCOME: "C. consom. R612-5; Dir. 2013/11/EU art. 8(e) (D16, D17)",
    DeadlineKind.PROPOSAL_RESPONSE: "C. consom. R612-4; Dir. 2013/11/EU art. 9(2)(d) (D25)",
    DeadlineKind.COMPLIANCE_FOLLOWUP: "C. consom. R614-2 6° (D29)",
}


# Deadlines that put a duty on someone (the merchant, the mediator): closing one late is a breach
# that compliance reports. The others are windows or triggers (a party's time to answer a proposal,
# the referral window, the follow-up date): their passing has an effect, but nobody broke the law.
DUTY_KINDS = frozenset({DeadlineKind.MERCHANT_RESPONSE, DeadlineKind.ADMISSIBILITY, DeadlineKind.OUTCOME})


class DeadlineStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    MET = "met", _("Met")
    BREACHED = "breached", _("Breached")
    CANCELLED = "cancelled", _("Cancelled")


class Deadline(models.Model):
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    object_id = models.PositiveBigIntegerField()
    subject = GenericForeignKey("content_type", "object_id")
    case_reference = models.CharField(_("case"), max_length=32, db_index=True)
    kind = models.CharField(_("kind"), max_length=32, choices=DeadlineKind.choices)
    due_at = models.DateTimeField(_("due"))
    status = models.CharField(
        _("status"), max_length=16, choices=DeadlineStatus.choices, default=DeadlineStatus.PENDING
    )
    legal_basis = models.CharField(_("legal basis"), max_length=120)
    opened_at = models.DateTimeField(_("opened"))
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    # When the next reminder before the due date is due (odr.deadlines.reminders); NULL when none is
    # left or the kind has none. Set by deadline_open/deadline_move, advanced by the sweep in the
    # transaction that sends a reminder, cleared by deadline_close.
    next_reminder_at = models.DateTimeField(_("next reminder"), null=True, blank=True)

    class Meta:
        verbose_name = _("deadline")
        verbose_name_plural = _("deadlines")
        ordering = ["due_at"]
        indexes = [
            # The sweep reads only pending rows, by due date: keep that index small.
            models.Index(fields=["due_at"], condition=Q(status="pending"), name="deadline_pending_due"),
            # Its reminders, likewise: only rows that still have a reminder to send.
            models.Index(
                fields=["next_reminder_at"],
                condition=Q(status="pending", next_reminder_at__isnull=False),
                name="deadline_pending_reminder",
            ),
            models.Index(fields=["content_type", "object_id"], name="deadline_subject"),
            # Breaches by kind for the metrics (odr.ops): counted without reading every closed deadline.
            models.Index(fields=["kind"], condition=Q(status="breached"), name="deadline_breached"),
        ]
        constraints = [
            # One pending deadline of a kind per subject: opening it twice is a bug, not a retry.
            models.UniqueConstraint(
                fields=["content_type", "object_id", "kind"],
                condition=Q(status="pending"),
                name="deadline_one_pending_per_subject_kind",
            ),
        ]

    def __str__(self):
        return f"{self.case_reference} {self.get_kind_display()} {self.due_at:%Y-%m-%d}"


class DeadlineEffect(models.Model):
    """What the sweep did for a deadline: its due effect ("due") or a reminder ("remind:14:20260401").

    Written in the same transaction as the effect itself, only when really firing (the claim reads
    only what is due, so no insert is expected to fail). The unique constraint is what makes each
    effect happen once even when two sweeps race on the same row or a task is delivered twice: the
    second writer fails on it and its transaction (effect included) rolls back.
    """

    deadline = models.ForeignKey(Deadline, on_delete=models.CASCADE, related_name="effects")
    effect = models.CharField(max_length=32)
    fired_at = models.DateTimeField()

    class Meta:
        verbose_name = _("deadline effect")
        verbose_name_plural = _("deadline effects")
        constraints = [models.UniqueConstraint(fields=["deadline", "effect"], name="deadline_effect_once")]

    def __str__(self):
        return f"{self.deadline} {self.effect}"
