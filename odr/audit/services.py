"""Writing to and checking the audit trail (D34)."""

from dataclasses import dataclass

from django.db import transaction

from odr import clock

from .chain import HASHED_FIELDS, event_hash, normalise_payload
from .models import GENESIS_HASH, AuditEvent


def audit_record(*, stream: str, kind: str, actor=None, actor_role: str = "", payload=None) -> AuditEvent:
    """Append one event to the chain of `stream` (a case reference).

    Call it inside the use case's transaction, after locking the case row: the lock is what orders
    the writers of one chain; the unique (stream, seq) constraint is the safety net if anyone forgets.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_record() must run inside the use case's transaction")
    payload = normalise_payload(payload or {})
    last = AuditEvent.objects.filter(stream=stream).order_by("-seq").values("seq", "hash").first()
    seq = last["seq"] + 1 if last else 1
    prev_hash = last["hash"] if last else GENESIS_HASH
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
    return AuditEvent.objects.create(**fields, hash=event_hash(**fields))


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
    for event in events.iterator(chunk_size=2000):
        if event.stream != current_stream:
            current_stream = event.stream
            streams += 1
            expected_prev = GENESIS_HASH
            expected_seq = 1
        problem = ""
        if event.seq != expected_seq:
            problem = (
                f"sequence number {event.seq} where {expected_seq} was expected (event missing or inserted)"
            )
        elif event.prev_hash != expected_prev:
            problem = "its previous-hash does not match the event before it"
        elif event.hash != event_hash(**_hashed_fields(event)):
            problem = "its content does not match its hash (edited after it was written)"
        if problem:
            return ChainVerification(checked, streams, event, problem)
        checked += 1
        expected_prev = event.hash
        expected_seq += 1
    return ChainVerification(checked, streams)
