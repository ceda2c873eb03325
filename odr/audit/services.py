"""Writing to and checking the audit trail (D34)."""

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from odr import clock

from .chain import HASHED_FIELDS, event_hash, normalise_payload
from .models import GENESIS_HASH, AuditEvent, AuditStreamHead


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


def _tail_problem(last: AuditEvent) -> str:
    """The chain's head row remembers its last event: a chain that ends earlier lost its tail."""
    head = AuditStreamHead.objects.filter(stream=last.stream).first()
    if head is not None and (head.last_seq, head.last_hash) != (last.seq, last.hash):
        return _("the chain ends at #%(last)s but its head records #%(head)s: later events were removed") % {
            "last": last.seq,
            "head": head.last_seq,
        }
    return ""


def _hashed_fields(event: AuditEvent) -> dict:
    """What the hash covers, read back from a stored event."""
    return {name: getattr(event, name) for name in HASHED_FIELDS}


@dataclass(frozen=True)
class ChainVerification:
    checked: int
    streams: int
    broken_event: AuditEvent | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_event is None


def audit_verify(*, stream: str | None = None) -> ChainVerification:
    """Recompute every hash, in order, and stop at the first event that does not match.

    Detects an edited event (its hash no longer matches its content), an edited hash (the next
    event's previous-hash no longer matches), and an event removed or inserted in the middle (a gap
    or a repeat in the sequence numbers). Streams are read in chunks, so memory stays flat.
    """
    events = AuditEvent.objects.order_by("stream", "seq")
    if stream is not None:
        events = events.filter(stream=stream)
    checked = 0
    streams = 0
    current_stream = None
    expected_prev = GENESIS_HASH
    expected_seq = 1
    last_event = None
    for event in events.iterator(chunk_size=2000):
        if event.stream != current_stream:
            if last_event is not None and (tail := _tail_problem(last_event)):
                return ChainVerification(checked, streams, last_event, tail)
            current_stream = event.stream
            streams += 1
            expected_prev = GENESIS_HASH
            expected_seq = 1
        problem = ""
        if event.seq != expected_seq:
            problem = _(
                "sequence number %(seq)s where %(expected)s was expected (event missing or inserted)"
            ) % {"seq": event.seq, "expected": expected_seq}
        elif event.prev_hash != expected_prev:
            problem = _("its previous-hash does not match the event before it")
        elif event.hash != event_hash(**_hashed_fields(event)):
            problem = _("its content does not match its hash (edited after it was written)")
        if problem:
            return ChainVerification(checked, streams, event, problem)
        checked += 1
        expected_prev = event.hash
        expected_seq += 1
        last_event = event
    if last_event is not None and (tail := _tail_problem(last_event)):
        return ChainVerification(checked, streams, last_event, tail)
    return ChainVerification(checked, streams)
