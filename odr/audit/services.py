"""Writing to and checking the audit trail (D34)."""

from django.db import IntegrityError, transaction

from odr import clock

from .chain import event_hash, normalise_payload
from .models import AuditEvent, AuditStreamHead
from .verification import ChainVerification, audit_snapshot, verify_chains

__all__ = ["ChainVerification", "audit_record", "audit_snapshot", "audit_verify"]


def audit_record(*, stream: str, kind: str, actor=None, actor_role: str = "", payload=None) -> AuditEvent:
    """Append one event to the chain of `stream` (a case reference).

    Call it inside the use case's transaction, after locking the case row: the lock is what orders
    the writers of one chain; the unique (stream, seq) constraint is the safety net if anyone forgets.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_record() must run inside the use case's transaction")
    payload = normalise_payload(payload or {})
    head = _lock_head(stream)
    seq = head.last_seq + 1
    prev_hash = head.last_hash
    fields = {
        "stream": stream,
        "seq": seq,
        "kind": kind,
        "occurred_at": clock.now(),
        "actor_id": actor.pk if actor is not None else None,
        "actor_role": actor_role,
        "payload": payload,
        "prev_hash": prev_hash,
    }
    event = AuditEvent.objects.create(**fields, hash=event_hash(**fields))
    head.last_seq, head.last_hash = seq, event.hash
    head.save(update_fields=["last_seq", "last_hash"])
    return event


def _lock_head(stream: str) -> AuditStreamHead:
    """Lock the chain's head row (created on first use; a concurrent creator is waited for)."""
    head = AuditStreamHead.objects.select_for_update().filter(stream=stream).first()
    if head is None:
        try:
            with transaction.atomic():
                AuditStreamHead.objects.create(stream=stream)
        except IntegrityError:
            pass
        head = AuditStreamHead.objects.select_for_update().get(stream=stream)
    return head


def audit_verify(
    *, stream: str | None = None, jobs: int = 1, since_checkpoint: bool = False
) -> ChainVerification:
    """Recompute every hash, in order, and check every chain against its head; the first problem wins.

    Detects an edited event (its hash no longer matches its content), an edited hash (the next
    event's previous-hash no longer matches), an event removed or inserted in the middle (a gap or a
    repeat in the sequence numbers), a chain that ends before its head, a stream or a whole table
    emptied (heads without events) and events without a head. Raw rows are streamed in batches, so
    memory stays flat; a constant number of queries whatever the number of chains. See verification.py.
    """
    return verify_chains(stream=stream, jobs=jobs, since_checkpoint=since_checkpoint)
