"""Opening, moving and closing deadline rows. Called by the stages' services, inside their transaction."""

from datetime import datetime

from django.contrib.contenttypes.models import ContentType

from odr import clock

from .models import DUTY_KINDS, LEGAL_BASIS, Deadline, DeadlineKind, DeadlineStatus


def _pending(subject, kind: str):
    return Deadline.objects.filter(
        content_type=ContentType.objects.get_for_model(subject),
        object_id=subject.pk,
        kind=kind,
        status=DeadlineStatus.PENDING,
    )


def deadline_open(*, subject, kind: DeadlineKind, due_at: datetime, case_reference: str) -> Deadline:
    return Deadline.objects.create(
        content_type=ContentType.objects.get_for_model(subject),
        object_id=subject.pk,
        case_reference=case_reference,
        kind=kind,
        due_at=due_at,
        legal_basis=LEGAL_BASIS[kind],
        opened_at=clock.now(),
    )


def deadline_close(*, subject, kind: DeadlineKind, cancelled: bool = False) -> Deadline | None:
    """Close the pending deadline of `kind`: met, or cancelled; a duty closed late is breached.

    Returns None when there was no pending deadline (already closed by the sweep, say).
    """
    deadline = _pending(subject, kind).first()
    if deadline is None:
        return None
    now = clock.now()
    if now > deadline.due_at and kind in DUTY_KINDS:
        # Late is late, however the duty ends (even cancelled by a withdrawal): the breach is kept.
        deadline.status = DeadlineStatus.BREACHED
    elif cancelled:
        deadline.status = DeadlineStatus.CANCELLED
    else:
        deadline.status = DeadlineStatus.MET
    deadline.closed_at = now
    deadline.save(update_fields=["status", "closed_at"])
    return deadline


def deadline_move(*, subject, kind: DeadlineKind, due_at: datetime) -> Deadline:
    """Give a pending deadline a new due date (an extension, D17)."""
    deadline = _pending(subject, kind).get()
    deadline.due_at = due_at
    deadline.save(update_fields=["due_at"])
    return deadline


def deadline_pending(*, subject, kind: DeadlineKind) -> Deadline | None:
    return _pending(subject, kind).first()
