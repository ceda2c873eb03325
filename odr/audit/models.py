"""The append-only audit trail (D34): one hash chain per case.

Each event stores the SHA-256 of the previous event of the same stream, and its own hash over the
canonical JSON of its content and that previous hash. Editing, inserting or deleting an event in the
middle of a chain breaks every hash after it, which `verify_audit` finds. On PostgreSQL a trigger
(migration 0002) refuses UPDATE and DELETE outright; the ORM refuses them on every back-end.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

GENESIS_HASH = "0" * 64


class AppendOnlyError(Exception):
    pass


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Audit events are append-only")

    def delete(self):
        raise AppendOnlyError("Audit events are append-only")


class AuditStreamHead(models.Model):
    """The end of one chain: its last sequence number and hash. Locked by every writer of that chain,
    so appends to one chain are serialised whoever writes (a case's service, a consent withdrawal).

    `checkpointed_seq`/`checkpointed_hash` are the head as the last signed checkpoint recorded it
    (0 and the genesis hash before any). A head differs from them exactly when its chain changed since:
    the partial index below lists those, so a checkpoint and `verify_audit --since-checkpoint` cost
    the chains that changed, not all of them."""

    stream = models.CharField(max_length=32, primary_key=True)
    last_seq = models.PositiveIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default=GENESIS_HASH)
    checkpointed_seq = models.PositiveIntegerField(default=0)
    checkpointed_hash = models.CharField(max_length=64, default=GENESIS_HASH)

    class Meta:
        indexes = [
            models.Index(
                fields=["stream"],
                condition=~models.Q(last_seq=models.F("checkpointed_seq")),
                name="audit_head_changed",
            )
        ]

    def __str__(self):
        return f"{self.stream} @{self.last_seq}"


class AuditEvent(models.Model):
    stream = models.CharField(
        _("case"), max_length=32, help_text=_("Reference of the case this chain belongs to.")
    )
    seq = models.PositiveIntegerField(_("sequence"))
    kind = models.CharField(_("event"), max_length=64)
    occurred_at = models.DateTimeField(_("time"))
    # PROTECT: a user who appears in a trail cannot be deleted (that would rewrite the chain);
    # retention (D35) anonymises people instead.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    actor_role = models.CharField(_("actor's role"), max_length=32, blank=True)
    payload = models.JSONField(_("details"), default=dict)
    prev_hash = models.CharField(_("previous hash"), max_length=64)
    hash = models.CharField(_("hash"), max_length=64, unique=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["stream", "seq"]
        constraints = [
            # Two writers appending to one chain at once cannot both take the same place.
            models.UniqueConstraint(fields=["stream", "seq"], name="audit_one_event_per_place"),
        ]

    def __str__(self):
        return f"{self.stream} #{self.seq} {self.kind}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("Audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Audit events are append-only")


class AuditCheckpoint(models.Model):
    """One signed checkpoint (D34): the heads of the chains that changed since the one before.

    The published part, `compact`, is a JWS signed with the receipts' Ed25519 key that carries only
    the SHA-256 of the head list, its length, the number, the date and the SHA-256 of the previous
    checkpoint's JWS (the checkpoints form a chain of their own). The head list itself — stream names
    are case references and user ids (D30) — stays here, in `head_list` (the canonical JSON the digest
    is taken over), never published. Append-only (triggers of migration 0006).

    `txid`: the PostgreSQL transaction that wrote the row. Only that transaction may move the heads'
    `checkpointed_seq`/`checkpointed_hash` (trigger of migration 0007)."""

    number = models.PositiveIntegerField(primary_key=True)
    created_at = models.DateTimeField()
    heads = models.PositiveIntegerField()
    kid = models.CharField(max_length=64)
    compact = models.TextField()
    sha256 = models.CharField(max_length=64, unique=True)
    head_list = models.TextField(default="", editable=False)
    txid = models.BigIntegerField(null=True, editable=False, db_index=True)

    class Meta:
        ordering = ["number"]

    def __str__(self):
        return f"checkpoint #{self.number}"
