"""Stage 1: the written complaint to the merchant (réclamation écrite préalable).

State machine (DESIGN.md): filed → answered → resolved; filed|answered → referred (mediation);
filed|answered → withdrawn; filed|answered → expired (the one-year referral window closed, D8).
Transitions only change state and facts on the row; services do the locking, audit, deadlines and
outbox around them.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, FSMModelMixin, transition

from odr import clock
from odr.accounts.models import Merchant
from odr.fsm import refusal


class ComplaintState(models.TextChoices):
    FILED = "filed", _("Waiting for the merchant's answer")
    ANSWERED = "answered", _("Answered by the merchant")
    RESOLVED = "resolved", _("Resolved")
    REFERRED = "referred", _("Referred to mediation")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    EXPIRED = "expired", _("Closed: referral period over")


OPEN_COMPLAINT_STATES = (ComplaintState.FILED, ComplaintState.ANSWERED)
CLOSED_COMPLAINT_STATES = (
    ComplaintState.RESOLVED,
    ComplaintState.REFERRED,
    ComplaintState.WITHDRAWN,
    ComplaintState.EXPIRED,
)


class Category(models.TextChoices):
    DELIVERY_DELAY = "delivery_delay", _("Late delivery")
    NON_DELIVERY = "non_delivery", _("Not delivered")
    NON_CONFORMITY = "non_conformity", _("Not as described or faulty")
    WITHDRAWAL_REFUND = "withdrawal_refund", _("Withdrawal or refund")
    GUARANTEE = "guarantee", _("Legal guarantee")
    BILLING = "billing", _("Billing")
    OTHER = "other", _("Other")


class AnswerDecision(models.TextChoices):
    ACCEPT = "accept", _("Accepts the request")
    OFFER = "offer", _("Makes an offer")
    REJECT = "reject", _("Rejects the complaint")


class PartySide(models.TextChoices):
    CONSUMER = "consumer", _("Consumer")
    MERCHANT = "merchant", _("Merchant")


@refusal(_("The referral period is over: more than a year has passed since the written complaint."))
def referral_window_open(complaint) -> bool:
    return clock.now() <= complaint.referral_window_ends_at


@refusal(
    _(
        "The merchant still has time to answer. You can refer the dispute to mediation once it has "
        "answered or when its response period has ended."
    )
)
def answered_or_response_period_lapsed(complaint) -> bool:
    """D3: from `filed`, referral waits for the merchant's response period to lapse."""
    return complaint.state == ComplaintState.ANSWERED or clock.now() > complaint.response_due_at


class Complaint(FSMModelMixin, models.Model):
    reference = models.CharField(_("reference"), max_length=20, unique=True)
    consumer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="complaints",
        verbose_name=_("consumer"),
    )
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="complaints", verbose_name=_("merchant")
    )
    state = FSMField(
        _("status"), default=ComplaintState.FILED, choices=ComplaintState.choices, protected=True
    )
    category = models.CharField(_("category"), max_length=32, choices=Category.choices)
    order_reference = models.CharField(_("order reference"), max_length=100, blank=True)
    order_date = models.DateField(_("order date"), null=True, blank=True)
    amount_cents = models.PositiveBigIntegerField(_("amount in dispute (cents)"), null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    description = models.TextField(_("what happened"))
    desired_outcome = models.TextField(_("what you want"))
    consumer_country = models.CharField(_("consumer's country"), max_length=2, default="FR")

    filed_at = models.DateTimeField(_("filed"))
    # D7/D8: the written complaint the referral window runs from. Filing on the platform is such a
    # complaint; a complaint written elsewhere earlier may be declared instead.
    written_complaint_at = models.DateTimeField(_("written complaint sent"))
    response_due_at = models.DateTimeField(_("merchant's answer due"))
    referral_window_ends_at = models.DateTimeField(_("referral to mediation possible until"))

    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    answer_decision = models.CharField(
        _("merchant's decision"), max_length=16, choices=AnswerDecision.choices, blank=True
    )
    answer_text = models.TextField(_("merchant's answer"), blank=True)
    response_lapsed_at = models.DateTimeField(_("response period lapsed"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    withdrawal_reason = models.TextField(_("reason for withdrawal"), blank=True)

    class Meta:
        verbose_name = _("complaint")
        verbose_name_plural = _("complaints")
        ordering = ["-filed_at"]
        indexes = [
            models.Index(fields=["merchant", "state"], name="complaint_merchant_state"),
            # The lists' orders (merchant dashboard, My cases), each an index scan (issue 14).
            models.Index(
                fields=["merchant", "state", "response_due_at", "id"], name="complaint_merchant_due"
            ),
            models.Index(fields=["merchant", "state", "filed_at", "id"], name="complaint_merchant_filed"),
            models.Index(fields=["consumer", "filed_at", "id"], name="complaint_consumer_filed"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(written_complaint_at__lte=models.F("filed_at")),
                name="complaint_written_not_after_filing",
            ),
        ]

    def __str__(self):
        return self.reference

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_COMPLAINT_STATES

    # --- transitions: state and facts only ------------------------------------------------------

    @transition(field=state, source=ComplaintState.FILED, target=ComplaintState.ANSWERED)
    def answer(self, *, by, decision: str, text: str):
        self.answered_at = clock.now()
        self.answered_by = by
        self.answer_decision = decision
        self.answer_text = text

    @transition(field=state, source=ComplaintState.ANSWERED, target=ComplaintState.RESOLVED)
    def resolve(self):
        self.closed_at = clock.now()

    @transition(
        field=state,
        source=OPEN_COMPLAINT_STATES,
        target=ComplaintState.REFERRED,
        conditions=[referral_window_open, answered_or_response_period_lapsed],
    )
    def refer(self):
        self.closed_at = clock.now()

    @transition(field=state, source=OPEN_COMPLAINT_STATES, target=ComplaintState.WITHDRAWN)
    def withdraw(self, *, reason: str):
        self.withdrawal_reason = reason
        self.closed_at = clock.now()

    @transition(field=state, source=OPEN_COMPLAINT_STATES, target=ComplaintState.EXPIRED)
    def expire(self):
        self.closed_at = clock.now()


class OfferKind(models.TextChoices):
    OFFER = "offer", _("Offer")
    COUNTER_OFFER = "counter_offer", _("Counter-offer")


class OfferStatus(models.TextChoices):
    OPEN = "open", _("Waiting for an answer")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class Offer(models.Model):
    """One entry of the offer ledger: an offer by the merchant or a counter-offer by the consumer."""

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="offers")
    kind = models.CharField(_("kind"), max_length=16, choices=OfferKind.choices)
    side = models.CharField(_("made by"), max_length=16, choices=PartySide.choices)
    made_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    amount_cents = models.PositiveBigIntegerField(_("amount (cents)"), null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    terms = models.TextField(_("terms"))
    responds_to = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="counter_offers"
    )
    status = models.CharField(
        _("status"), max_length=16, choices=OfferStatus.choices, default=OfferStatus.OPEN
    )
    made_at = models.DateTimeField(_("made"))
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("offer")
        verbose_name_plural = _("offers")
        ordering = ["made_at", "pk"]

    def __str__(self):
        return f"{self.complaint} {self.get_kind_display()} {self.get_status_display()}"


class Message(models.Model):
    """A message between the consumer and the merchant about a complaint."""

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    side = models.CharField(_("side"), max_length=16, choices=PartySide.choices)
    body = models.TextField(_("message"))
    sent_at = models.DateTimeField(_("sent"))

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["sent_at", "pk"]
        # The complaint page reads the thread a page at a time, the latest first (keyset).
        indexes = [models.Index(fields=["complaint", "sent_at", "id"], name="complaint_message_thread")]

    def __str__(self):
        return f"{self.complaint} {self.sent_at:%Y-%m-%d %H:%M}"


class Evidence(models.Model):
    """A file a party added to a complaint: a receipt, photos, the earlier written complaint (D7).

    Files are checked by their bytes (odr.documents.uploads), stored under random names and served
    only through a permission-checked view. While the consumer is still writing the complaint, the
    file belongs to the draft; filing moves it to the complaint.
    """

    complaint = models.ForeignKey(
        Complaint, on_delete=models.CASCADE, null=True, blank=True, related_name="evidence"
    )
    draft = models.ForeignKey(
        "ComplaintDraft", on_delete=models.CASCADE, null=True, blank=True, related_name="evidence"
    )
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    side = models.CharField(_("added by"), max_length=16, choices=PartySide.choices)
    file = models.FileField(_("file"), max_length=200)
    original_name = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(_("type"), max_length=64)
    size = models.PositiveBigIntegerField(_("size"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    uploaded_at = models.DateTimeField(_("added"))

    class Meta:
        verbose_name = _("evidence file")
        verbose_name_plural = _("evidence files")
        ordering = ["uploaded_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(complaint__isnull=False, draft__isnull=True)
                | Q(complaint__isnull=True, draft__isnull=False),
                name="evidence_on_complaint_xor_draft",
            ),
        ]

    def __str__(self):
        return self.original_name


class ComplaintDraft(models.Model):
    """A complaint the consumer is still writing: it survives a reload, a closed tab, a lost phone
    signal. One per consumer; filing it deletes it."""

    consumer = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="complaint_draft"
    )
    merchant = models.ForeignKey(Merchant, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    invitation = models.ForeignKey(
        "MerchantInvitation", on_delete=models.SET_NULL, null=True, blank=True, related_name="drafts"
    )
    data = models.JSONField(_("answers so far"), default=dict, blank=True)
    updated_at = models.DateTimeField(_("last saved"))

    class Meta:
        verbose_name = _("complaint draft")
        verbose_name_plural = _("complaint drafts")

    def __str__(self):
        return f"draft of {self.consumer_id}"


class MerchantInvitation(models.Model):
    """A consumer's merchant is not on the platform yet: it is invited by e-mail to join and
    designate its consumer mediator (D5); the consumer's draft is kept until it does."""

    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("merchant's name"), max_length=200)
    website = models.URLField(_("website"), blank=True)
    email = models.EmailField(_("merchant's e-mail address"))
    invited_at = models.DateTimeField(_("invited"))

    class Meta:
        verbose_name = _("merchant invitation")
        verbose_name_plural = _("merchant invitations")
        ordering = ["-invited_at"]

    def __str__(self):
        return self.name
