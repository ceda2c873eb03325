"""Consents and their signed receipts (D31–D33).

A `ConsentRecord` is one consent a person gave for one purpose, with the exact notice they were shown;
its state moves given → withdrawn or given → expired. Every such event issues a `ConsentReceipt`: the
signed claims (Kantara Consent Receipt v1.1 + ISO/IEC TS 27560 event), which are never changed.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_fsm import FSMField, FSMModelMixin, transition

from odr import clock
from odr.audit.models import AppendOnlyError
from odr.fsm import refusal


class ConsentPurpose(models.TextChoices):
    COMPLAINT_PROCESSING = "complaint_processing", _("Processing my data to handle my complaint")
    SHARE_WITH_MERCHANT_AND_MEDIATOR = (
        "share_with_merchant_and_mediator",
        _("Sharing my file with the merchant and the mediator"),
    )
    ENTER_MEDIATION = "enter_mediation", _("Entering mediation")
    PROPOSAL_RESPONSE = "proposal_response", _("Accepting or refusing the mediator's proposal")


class ConsentState(models.TextChoices):
    """A record's state, and the event a receipt records (the state the event leads to)."""

    # A context of their own: in French a consent is masculine, a complaint (also "withdrawn") is not.
    GIVEN = "given", pgettext_lazy("consent state", "Given")
    WITHDRAWN = "withdrawn", pgettext_lazy("consent state", "Withdrawn")
    EXPIRED = "expired", pgettext_lazy("consent state", "Expired")


@refusal(_("This consent has no end of validity, or it has not been reached yet."))
def validity_ended(record) -> bool:
    return record.valid_until is not None and record.valid_until <= clock.now()


class ConsentRecord(FSMModelMixin, models.Model):
    # A public identifier, printed on every receipt of this consent: it ties a withdrawn receipt to
    # the given one without revealing how many consents the platform holds.
    uid = models.UUIDField(_("consent identifier"), default=uuid.uuid4, unique=True, editable=False)
    # PROTECT: receipts and audit events name this person; retention (D35) anonymises instead.
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="consents",
        verbose_name=_("person"),
    )
    purpose = models.CharField(_("purpose"), max_length=64, choices=ConsentPurpose.choices)
    case_reference = models.CharField(_("case"), max_length=32, blank=True, db_index=True)
    notice_version = models.CharField(_("notice version"), max_length=64)
    notice_text = models.TextField(_("notice shown"))
    notice_sha256 = models.CharField(_("SHA-256 of the notice"), max_length=64)
    state = FSMField(_("state"), default=ConsentState.GIVEN, choices=ConsentState.choices, protected=True)
    given_at = models.DateTimeField(_("given"))
    withdrawn_at = models.DateTimeField(_("withdrawn"), null=True, blank=True)
    expired_at = models.DateTimeField(_("expired"), null=True, blank=True)
    collection_method = models.CharField(_("collection method"), max_length=64)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)

    class Meta:
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        ordering = ["-given_at"]
        indexes = [models.Index(fields=["person", "purpose"], name="consent_person_purpose")]
        constraints = [
            models.CheckConstraint(
                condition=Q(state=ConsentState.WITHDRAWN, withdrawn_at__isnull=False)
                | (~Q(state=ConsentState.WITHDRAWN) & Q(withdrawn_at__isnull=True)),
                name="consent_withdrawn_at_iff_withdrawn",
            ),
        ]

    def __str__(self):
        return f"{self.get_purpose_display()} ({self.get_state_display()})"

    @property
    def is_in_force(self) -> bool:
        """What a stage checks before relying on the consent: given, and not past its validity."""
        return self.state == ConsentState.GIVEN and (
            self.valid_until is None or self.valid_until > clock.now()
        )

    # --- transitions: state and facts only ------------------------------------------------------

    @transition(field=state, source=ConsentState.GIVEN, target=ConsentState.WITHDRAWN)
    def withdraw(self):
        self.withdrawn_at = clock.now()

    @transition(
        field=state, source=ConsentState.GIVEN, target=ConsentState.EXPIRED, conditions=[validity_ended]
    )
    def expire(self):
        self.expired_at = clock.now()


class ConsentReceiptQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Consent receipts are immutable")

    def delete(self):
        raise AppendOnlyError("Consent receipts are immutable")


class ConsentReceipt(models.Model):
    """One signed event of a consent. `jws` is the receipt; `payload` is its claims, for queries."""

    record = models.ForeignKey(
        ConsentRecord, on_delete=models.PROTECT, related_name="receipts", verbose_name=_("consent")
    )
    receipt_id = models.UUIDField(_("receipt identifier"), unique=True, editable=False)
    event_type = models.CharField(_("event"), max_length=16, choices=ConsentState.choices)
    issued_at = models.DateTimeField(_("issued"))
    payload = models.JSONField(_("claims"))
    jws = models.TextField(_("signed receipt (compact JWS)"))
    kid = models.CharField(_("signing key"), max_length=64)

    objects = ConsentReceiptQuerySet.as_manager()

    class Meta:
        verbose_name = _("consent receipt")
        verbose_name_plural = _("consent receipts")
        ordering = ["issued_at"]

    def __str__(self):
        return str(self.receipt_id)

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("Consent receipts are immutable")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Consent receipts are immutable")
