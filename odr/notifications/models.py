"""The outbox: every e-mail and webhook a use case wants sent is a row written in its transaction.

Nothing leaves the platform before the change that caused it is committed, and nothing is lost if
the broker is down at that moment: the relay (next to come) reads pending rows and delivers them.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    EMAIL = "email", _("E-mail")
    WEBHOOK = "webhook", _("Webhook")


class OutboxStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    DEAD = "dead", _("Failed (dead letter)")


class OutboxMessage(models.Model):
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    template = models.CharField(_("template"), max_length=100)
    # A stable key (use case + case + recipient): delivering the same message twice is impossible.
    idempotency_key = models.CharField(_("idempotency key"), max_length=200, unique=True)
    case_reference = models.CharField(_("case"), max_length=32, blank=True, db_index=True)
    to_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    to_address = models.CharField(_("recipient"), max_length=500)
    language = models.CharField(_("language"), max_length=8, default="fr")
    context = models.JSONField(_("context"), default=dict)
    status = models.CharField(
        _("status"), max_length=16, choices=OutboxStatus.choices, default=OutboxStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # When the relay may try again after a failure (exponential backoff); None: at once.
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"))
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    # A dead letter someone has dealt with (the notice given another way, the address known dead, the
    # webhook endpoint deleted): kept as the record of the notice, no longer counted by readiness or
    # metrics. Cleared when the row is sent again.
    dead_acknowledged_at = models.DateTimeField(_("dead letter acknowledged"), null=True, blank=True)
    # Who silenced it (D34: an undelivered notice silenced by staff must be provable). PROTECT, like
    # AuditEvent.actor: accounts are anonymised, never deleted, and deleting one must not erase this.
    dead_acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("dead letter acknowledged by"),
    )

    class Meta:
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox messages")
        ordering = ["created_at"]
        indexes = [
            models.Index(fields=["created_at"], condition=models.Q(status="pending"), name="outbox_pending"),
            # Dead letters nobody has acknowledged, by channel, for readiness and metrics (odr.ops):
            # neither sent rows nor the dead letters of years past are read.
            models.Index(
                fields=["channel"],
                condition=models.Q(status="dead", dead_acknowledged_at__isnull=True),
                name="outbox_dead_unacknowledged",
            ),
        ]

    def __str__(self):
        return f"{self.template} → {self.to_address}"


class DevMailboxEmail(models.Model):
    """An e-mail the embedded default "sent": kept so that /dev/mailbox/ can show it (DEBUG only)."""

    to = models.CharField(max_length=500)
    subject = models.CharField(max_length=500)
    text = models.TextField()
    html = models.TextField(blank=True)
    raw = models.BinaryField(help_text="The whole MIME message, attachments included.")
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-sent_at", "-pk"]
        verbose_name = "dev mailbox e-mail"
        verbose_name_plural = "dev mailbox e-mails"

    def __str__(self):
        return f"{self.to}: {self.subject}"
