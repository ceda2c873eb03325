"""Stage 2: the consumer mediation (médiation de la consommation).

State machine (DESIGN.md): received ⇄ awaiting_documents; received → rejected (reason code, D11–D12);
received → open (saisine, D15–D16); open → proposal_issued → settled (both accept, D26) or no_agreement
(a refusal, or silence past the deadline, D25); open → no_agreement (the mediator closes a mediation in
which no solution could be found, before any proposal); received|awaiting_documents|open|proposal_issued →
discontinued (withdrawal, D19); received|open → merchant_declined (D23). Extensions (D17) and the
overdue mark (D18) are facts on the case, not states.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, FSMModelMixin, transition

from complaints.models import Complaint, PartySide
from odr import clock
from odr.accounts.models import MediationBody
from odr.fsm import refusal


class CaseState(models.TextChoices):
    RECEIVED = "received", _("Referral received, admissibility being checked")
    AWAITING_DOCUMENTS = "awaiting_documents", _("Waiting for documents")
    REJECTED = "rejected", _("Not admissible")
    OPEN = "open", _("Mediation open")
    PROPOSAL_ISSUED = "proposal_issued", _("Proposal awaiting answers")
    SETTLED = "settled", _("Settled")
    NO_AGREEMENT = "no_agreement", _("Closed without agreement")
    DISCONTINUED = "discontinued", _("Discontinued (withdrawal)")
    MERCHANT_DECLINED = "merchant_declined", _("Closed: the merchant declined to take part")


ACTIVE_CASE_STATES = (
    CaseState.RECEIVED,
    CaseState.AWAITING_DOCUMENTS,
    CaseState.OPEN,
    CaseState.PROPOSAL_ISSUED,
)
CLOSED_CASE_STATES = (
    CaseState.REJECTED,
    CaseState.SETTLED,
    CaseState.NO_AGREEMENT,
    CaseState.DISCONTINUED,
    CaseState.MERCHANT_DECLINED,
)


class RefusalReason(models.TextChoices):
    """D11: exactly one of the five grounds of L612-2 1°–5°."""

    NO_PRIOR_COMPLAINT = (
        "no_prior_complaint",
        _("No prior written complaint to the merchant (L612-2 1°)"),
    )
    UNFOUNDED_OR_ABUSIVE = "unfounded_or_abusive", _("Manifestly unfounded or abusive (L612-2 2°)")
    ALREADY_EXAMINED = (
        "already_examined",
        _("Examined or being examined by another mediator or a court (L612-2 3°)"),
    )
    TIME_BARRED = (
        "time_barred",
        _("Referred more than one year after the written complaint (L612-2 4°)"),
    )
    OUT_OF_COMPETENCE = "out_of_competence", _("Outside the mediator's competence (L612-2 5°)")


class ExcludedSubject(models.TextChoices):
    """D10 (L611-3, L611-4): disputes consumer mediation does not cover."""

    NONE = "", _("None of these")
    HEALTH = "health", _("Health services provided by health professionals")
    GENERAL_INTEREST = "general_interest", _("Non-economic services of general interest")
    HIGHER_EDUCATION = "higher_education", _("Public higher education")


# --- Conditions of admission (D7–D10). Each refusal names the reason code the mediator should use.


@refusal(_("Another mediator or a court is or was seized of this dispute: reject it as already_examined."))
def no_other_proceedings(case) -> bool:
    return not case.other_proceedings


@refusal(
    _(
        "The dispute is outside consumer mediation (business-to-business, or an excluded subject): "
        "reject it as out_of_competence."
    )
)
def within_scope(case) -> bool:
    return case.acting_as_consumer and not case.excluded_subject


@refusal(_("The referral came more than one year after the written complaint: reject it as time_barred."))
def referred_within_one_year(case) -> bool:
    return case.referred_at <= case.complaint.referral_window_ends_at


@refusal(_("Choose a mediator for the case before opening it."))
def has_mediator(case) -> bool:
    return case.mediator_id is not None


class MediationCase(FSMModelMixin, models.Model):
    reference = models.CharField(_("reference"), max_length=20, unique=True)
    complaint = models.OneToOneField(
        Complaint,
        on_delete=models.PROTECT,
        related_name="mediation_case",
        verbose_name=_("complaint"),
    )
    mediation_body = models.ForeignKey(
        MediationBody,
        on_delete=models.PROTECT,
        related_name="cases",
        verbose_name=_("mediation body"),
    )
    mediator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="mediated_cases",
        verbose_name=_("mediator"),
    )
    state = FSMField(_("status"), default=CaseState.RECEIVED, choices=CaseState.choices, protected=True)

    referred_at = models.DateTimeField(_("referred"))
    # The consumer's declarations at referral (D9, D10).
    other_proceedings = models.BooleanField(
        _("before another mediator or a court"),
        help_text=_("The dispute is or was examined by another mediator or by a court."),
    )
    acting_as_consumer = models.BooleanField(
        _("acting as a consumer"),
        help_text=_("The consumer bought for purposes outside any trade, business or profession."),
    )
    excluded_subject = models.CharField(
        _("excluded subject"), max_length=32, blank=True, choices=ExcludedSubject.choices
    )

    # Completeness and admissibility (D12, D13).
    file_completed_at = models.DateTimeField(_("file complete"), null=True, blank=True)
    admissibility_due_at = models.DateTimeField(_("admissibility decision due"), null=True, blank=True)
    rejection_reason = models.CharField(
        _("reason for refusal"), max_length=32, blank=True, choices=RefusalReason.choices
    )
    rejection_reasoning = models.TextField(_("reasoning"), blank=True)

    # The mediation (D15–D18).
    saisine_at = models.DateTimeField(_("notice of saisine"), null=True, blank=True)
    outcome_due_at = models.DateTimeField(_("outcome due"), null=True, blank=True)
    overdue_since = models.DateTimeField(_("overdue since"), null=True, blank=True)
    # The latest proposal's answer date (D25), kept on the case so that the mediator's queue of
    # proposals is ordered by an index of this table.
    proposal_due_at = models.DateTimeField(_("answers to the proposal due"), null=True, blank=True)

    # Closure.
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    outcome_grounds = models.TextField(_("grounds of the outcome"), blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    closed_by_side = models.CharField(_("closed by"), max_length=16, blank=True)
    closure_reason = models.TextField(_("reason given"), blank=True)
    # D29: after a settlement, did the merchant do what was agreed? (None: not known yet.)
    merchant_complied = models.BooleanField(_("merchant complied"), null=True, blank=True)
    compliance_answered_at = models.DateTimeField(_("compliance answered"), null=True, blank=True)

    class Meta:
        verbose_name = _("mediation case")
        verbose_name_plural = _("mediation cases")
        ordering = ["-referred_at"]
        indexes = [
            models.Index(fields=["mediation_body", "state"], name="case_body_state"),
            # The dashboard's day buckets recount the cases referred on given days (case_figures).
            models.Index(fields=["mediation_body", "referred_at"], name="case_body_referred"),
            # The lists' orders (mediator queues, compliance cases), each an index scan (issue 14).
            # The mediator's queues: (mediator = me) and (mediator IS NULL) are each an ordered range.
            models.Index(
                fields=["mediation_body", "state", "mediator", "admissibility_due_at", "id"],
                name="case_queue_admissibility",
            ),
            models.Index(
                fields=["mediation_body", "state", "mediator", "outcome_due_at", "id"],
                name="case_queue_outcome",
            ),
            models.Index(
                fields=["mediation_body", "state", "mediator", "proposal_due_at", "id"],
                name="case_queue_proposal",
            ),
            models.Index(
                fields=["mediation_body", "state", "referred_at", "id"], name="case_body_state_referred"
            ),
            # New referrals: PostgreSQL orders nothing after "mediator IS NULL"; a partial index it can.
            models.Index(
                fields=["mediation_body", "admissibility_due_at", "id"],
                name="case_queue_new",
                condition=models.Q(state="received", mediator__isnull=True),
            ),
            models.Index(
                fields=["mediation_body", "mediator", "referred_at", "id"],
                name="case_queue_incomplete",
                condition=models.Q(state="awaiting_documents"),
            ),
            models.Index(
                fields=["mediation_body", "mediator", "outcome_due_at", "id"],
                name="case_queue_overdue",
                condition=models.Q(state__in=["open", "proposal_issued"]),
            ),
        ]
        constraints = [
            # D11: a refused case carries exactly one reason code, and only a refused case has one.
            models.CheckConstraint(
                condition=(
                    Q(state=CaseState.REJECTED, rejection_reason__in=RefusalReason.values)
                    | (~Q(state=CaseState.REJECTED) & Q(rejection_reason=""))
                ),
                name="case_rejection_has_one_reason",
            ),
        ]

    def __str__(self):
        return self.reference

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_CASE_STATES

    # --- transitions -----------------------------------------------------------------------------

    @transition(field=state, source=CaseState.RECEIVED, target=CaseState.AWAITING_DOCUMENTS)
    def request_documents(self):
        self.file_completed_at = None
        self.admissibility_due_at = None

    @transition(field=state, source=CaseState.AWAITING_DOCUMENTS, target=CaseState.RECEIVED)
    def complete_file(self, *, admissibility_due_at):
        self.file_completed_at = clock.now()
        self.admissibility_due_at = admissibility_due_at

    @transition(field=state, source=CaseState.RECEIVED, target=CaseState.REJECTED)
    def reject(self, *, reason: str, reasoning: str, by):
        self.rejection_reason = reason
        self.rejection_reasoning = reasoning
        self._close(by=by, side="mediator")

    @transition(
        field=state,
        source=CaseState.RECEIVED,
        target=CaseState.OPEN,
        conditions=[has_mediator, no_other_proceedings, within_scope, referred_within_one_year],
    )
    def open(self, *, outcome_due_at):
        self.saisine_at = clock.now()
        self.outcome_due_at = outcome_due_at

    @transition(field=state, source=CaseState.OPEN, target=CaseState.PROPOSAL_ISSUED)
    def issue_proposal(self):
        pass

    @transition(field=state, source=CaseState.PROPOSAL_ISSUED, target=CaseState.SETTLED)
    def settle(self, *, grounds: str):
        self.outcome_grounds = grounds
        self._close(by=None, side="")

    @transition(field=state, source=CaseState.PROPOSAL_ISSUED, target=CaseState.NO_AGREEMENT)
    def end_without_agreement(self, *, grounds: str):
        self.outcome_grounds = grounds
        self._close(by=None, side="")

    @transition(field=state, source=CaseState.OPEN, target=CaseState.NO_AGREEMENT)
    def close_without_agreement(self, *, grounds: str, by):
        """The mediator ends an open mediation in which no solution could be found, before any
        proposal; once a proposal is issued, the parties' answers decide the outcome (D26)."""
        self.outcome_grounds = grounds
        self._close(by=by, side="mediator")

    @transition(field=state, source=ACTIVE_CASE_STATES, target=CaseState.DISCONTINUED)
    def withdraw(self, *, by, side: str, reason: str):
        self.closure_reason = reason
        self._close(by=by, side=side)

    @transition(
        field=state,
        source=(CaseState.RECEIVED, CaseState.AWAITING_DOCUMENTS, CaseState.OPEN),
        target=CaseState.MERCHANT_DECLINED,
    )
    def merchant_decline(self, *, by, reason: str):
        self.closure_reason = reason
        self._close(by=by, side=PartySide.MERCHANT)

    def _close(self, *, by, side: str):
        self.closed_at = clock.now()
        self.closed_by = by
        self.closed_by_side = side


class DocumentRequest(models.Model):
    """D13: the mediator asks for what is missing; the admissibility clock waits for it."""

    case = models.ForeignKey(MediationCase, on_delete=models.CASCADE, related_name="document_requests")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField(_("documents requested"))
    requested_at = models.DateTimeField(_("requested"))
    fulfilled_at = models.DateTimeField(_("received"), null=True, blank=True)

    class Meta:
        ordering = ["requested_at", "pk"]
        verbose_name = _("document request")
        verbose_name_plural = _("document requests")

    def __str__(self):
        return f"{self.case} documents requested {self.requested_at:%Y-%m-%d}"


class DeadlineExtension(models.Model):
    """D17: the outcome deadline extended for a complex dispute, with its reason."""

    case = models.ForeignKey(MediationCase, on_delete=models.CASCADE, related_name="extensions")
    extended_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(_("reason"))
    previous_due_at = models.DateTimeField(_("previous due date"))
    new_due_at = models.DateTimeField(_("new due date"))
    extended_at = models.DateTimeField(_("extended"))

    class Meta:
        ordering = ["extended_at", "pk"]
        verbose_name = _("deadline extension")
        verbose_name_plural = _("deadline extensions")
        constraints = [
            models.CheckConstraint(
                condition=Q(new_due_at__gt=models.F("previous_due_at")),
                name="extension_moves_later",
            )
        ]

    def __str__(self):
        return f"{self.case} extended to {self.new_due_at:%Y-%m-%d}"


class ConflictDisclosure(models.Model):
    """D22 (R613-1): a circumstance that could affect the mediator's independence, told to both."""

    case = models.ForeignKey(MediationCase, on_delete=models.CASCADE, related_name="disclosures")
    mediator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField(_("disclosure"))
    disclosed_at = models.DateTimeField(_("disclosed"))

    class Meta:
        ordering = ["disclosed_at", "pk"]
        verbose_name = _("conflict-of-interest disclosure")
        verbose_name_plural = _("conflict-of-interest disclosures")

    def __str__(self):
        return f"{self.case} disclosure {self.disclosed_at:%Y-%m-%d}"


class RepresentativeCapacity(models.TextChoices):
    LAWYER = "lawyer", _("Lawyer")
    OTHER = "other", _("Other person")


class Representative(models.Model):
    """D21 (R612-1): a party may be represented or assisted by a lawyer or any person."""

    case = models.ForeignKey(MediationCase, on_delete=models.CASCADE, related_name="representatives")
    side = models.CharField(_("represents"), max_length=16, choices=PartySide.choices)
    name = models.CharField(_("name"), max_length=200)
    email = models.EmailField(_("e-mail address"))
    capacity = models.CharField(_("capacity"), max_length=16, choices=RepresentativeCapacity.choices)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    added_at = models.DateTimeField(_("added"))

    class Meta:
        ordering = ["added_at", "pk"]
        verbose_name = _("representative")
        verbose_name_plural = _("representatives")

    def __str__(self):
        return f"{self.name} ({self.get_side_display()}, {self.case})"


# The key, in each language of a proposal's stored statements, of the note saying that the proposal
# records the parties' own agreement ("record an amicable agreement"); absent from other proposals.
AGREEMENT_NOTE = "agreement"


class Proposal(models.Model):
    """D24–D25: the mediator's proposed solution, with the statements the platform adds."""

    case = models.ForeignKey(MediationCase, on_delete=models.CASCADE, related_name="proposals")
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    solution = models.TextField(_("proposed solution"))
    # The mandatory statements and legal effect, exactly as shown, per language (statements.py).
    statements = models.JSONField(_("mandatory statements"))
    issued_at = models.DateTimeField(_("issued"))
    acceptance_due_at = models.DateTimeField(_("answer due"))

    class Meta:
        ordering = ["issued_at", "pk"]
        verbose_name = _("proposal")
        verbose_name_plural = _("proposals")

    def __str__(self):
        return f"{self.case} proposal {self.issued_at:%Y-%m-%d}"

    @property
    def records_agreement(self) -> bool:
        """The proposal records terms the parties agreed on during the mediation (no field: the
        platform adds a note under AGREEMENT_NOTE in each language of the stored statements)."""
        return any(
            isinstance(snapshot, dict) and bool(snapshot.get(AGREEMENT_NOTE))
            for snapshot in (self.statements or {}).values()
        )


class ResponseDecision(models.TextChoices):
    PENDING = "pending", _("Waiting for an answer")
    ACCEPTED = "accepted", _("Accepted")
    REFUSED = "refused", _("Refused")


class ProposalResponse(models.Model):
    """One answer per party to a proposal (D25–D26). Silence past the deadline is a refusal."""

    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="responses")
    side = models.CharField(_("party"), max_length=16, choices=PartySide.choices)
    decision = models.CharField(
        _("decision"),
        max_length=16,
        choices=ResponseDecision.choices,
        default=ResponseDecision.PENDING,
    )
    deemed = models.BooleanField(
        _("deemed refusal"), default=False, help_text=_("No answer before the deadline (D25).")
    )
    responded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    responded_at = models.DateTimeField(_("answered"), null=True, blank=True)

    class Meta:
        ordering = ["proposal", "side"]
        verbose_name = _("answer to a proposal")
        verbose_name_plural = _("answers to proposals")
        constraints = [
            models.UniqueConstraint(fields=["proposal", "side"], name="one_response_per_party"),
            models.CheckConstraint(
                condition=~Q(deemed=True) | Q(decision=ResponseDecision.REFUSED),
                name="silence_is_never_acceptance",
            ),
        ]

    def __str__(self):
        return f"{self.proposal} {self.get_side_display()}: {self.get_decision_display()}"


class Audience(models.TextChoices):
    """D20: who reads a message. The private channels join one party and the mediator only."""

    EVERYONE = "everyone", _("Both parties and the mediator")
    CONSUMER_PRIVATE = "consumer", _("The consumer and the mediator only")
    MERCHANT_PRIVATE = "merchant", _("The merchant and the mediator only")


PRIVATE_AUDIENCE_OF = {
    PartySide.CONSUMER: Audience.CONSUMER_PRIVATE,
    PartySide.MERCHANT: Audience.MERCHANT_PRIVATE,
}


class CaseMessage(models.Model):
    """A message in a mediation. Private messages never reach the other party (filtered in queries)."""

    case = models.ForeignKey(MediationCase, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    author_role = models.CharField(_("written by"), max_length=16)
    audience = models.CharField(_("audience"), max_length=16, choices=Audience.choices)
    body = models.TextField(_("message"))
    sent_at = models.DateTimeField(_("sent"))
    # D20: a comment on a document of the case (either stage's files); None for an ordinary message.
    about = models.ForeignKey(
        "complaints.Evidence",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="comments",
        verbose_name=_("about the document"),
    )

    class Meta:
        ordering = ["sent_at", "pk"]
        verbose_name = _("mediation message")
        verbose_name_plural = _("mediation messages")
        indexes = [
            models.Index(fields=["case", "audience"], name="case_message_audience"),
            # The case pages read the conversation a page at a time, the latest first (keyset).
            models.Index(fields=["case", "sent_at", "id"], name="case_message_thread"),
        ]

    def __str__(self):
        return f"{self.case} {self.get_audience_display()} {self.sent_at:%Y-%m-%d %H:%M}"


# --- The compliance dashboard's aggregate (issue 14; mediation/case_figures.py) --------------------


class CaseFiguresChange(models.Model):
    """A case whose figures may have changed: written by every audited case service, in its own
    transaction (`services._audit`); consumed, and its buckets recounted, by `case_figures_refresh`.
    Appended, never updated: concurrent services never wait on each other for it."""

    id = models.BigAutoField(primary_key=True)
    case_pk = models.BigIntegerField()
    mediation_body = models.ForeignKey(MediationBody, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["mediation_body", "created_at"], name="figures_change_body")]

    def __str__(self):
        return f"case {self.case_pk} changed at {self.created_at:%Y-%m-%d %H:%M:%S}"


class CaseFiguresDay(models.Model):
    """Per mediation body and local day (D38), what the dashboard counts: the cases referred that day
    (`reports.case_count_aggregates`, as ints) and the recorded breaches due that day, by deadline kind,
    with those still open. Written only by `case_figures.case_figures_refresh` / `case_figures_rebuild`."""

    mediation_body = models.ForeignKey(MediationBody, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    cases = models.JSONField(default=dict)
    breached = models.JSONField(default=dict)  # {deadline kind: breaches due that day}
    open_breaches = models.JSONField(default=dict)  # {deadline kind: those whose duty has not ended}
    open_total = models.PositiveIntegerField(default=0)
    refreshed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["mediation_body", "day"], name="figures_day_unique")]
        indexes = [
            # Today's open breaches, whatever the period: only the days that still have some.
            models.Index(
                fields=["mediation_body"], condition=Q(open_total__gt=0), name="figures_day_open_breaches"
            ),
        ]

    def __str__(self):
        return f"{self.mediation_body_id} {self.day:%Y-%m-%d}"
