"""Opening, moving and closing deadline rows. Called by the stages' services, inside their transaction."""

from datetime import datetime

from django.contrib.contenttypes.models import ContentType

from odr import clock

from .calendar import local_date, zone
from .models import DUTY_KINDS, LEGAL_BASIS, Deadline, DeadlineKind, DeadlineStatus
from .registry import remind_days_for
from .reminders import next_reminder


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
        next_reminder_at=next_reminder(due_at=due_at, remind_days=remind_days_for(kind)),
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
    deadline.next_reminder_at = None
    deadline.save(update_fields=["status", "closed_at", "next_reminder_at"])
    return deadline


def deadline_move(*, subject, kind: DeadlineKind, due_at: datetime) -> Deadline:
    """Give a pending deadline a new due date (an extension, D17); its reminders start again.

    The reminders are keyed by due date (one of each per due date): a new local due day schedules the
    farthest reminder again, and the next sweep sends the closest one that is due. A move within the
    same day keeps the schedule, as the reminders already sent for that day count.
    """
    deadline = _pending(subject, kind).get()
    tz = zone(None)
    if local_date(due_at, tz) != local_date(deadline.due_at, tz):
        deadline.next_reminder_at = next_reminder(due_at=due_at, remind_days=remind_days_for(kind))
    deadline.due_at = due_at
    deadline.save(update_fields=["due_at", "next_reminder_at"])
    return deadline


def deadline_pending(*, subject, kind: DeadlineKind) -> Deadline | None:
    return _pending(subject, kind).first()


RESCHEDULE_BATCH = 2000


def deadline_reminders_reschedule(
    *, now: datetime | None = None, deadline_model=None, effect_model=None
) -> int:
    """Recompute `next_reminder_at` of every pending deadline from the reminder days now set.

    For a change of a reminder days setting to apply to deadlines already pending (otherwise it
    applies from each deadline's next scheduled reminder on), and for the data migration that
    introduced the field (which passes its historical models). The reminders recorded in
    DeadlineEffect for a deadline's current due date count as done (reminders.next_reminder_from_
    effects). Walks the pending deadlines by primary key in batches: memory stays flat. Returns how
    many rows changed.
    """
    from .models import DeadlineEffect
    from .reminders import next_reminder_from_effects

    deadline_model = deadline_model or Deadline
    effect_model = effect_model or DeadlineEffect
    now = now or clock.now()
    days_by_kind: dict[str, list[int]] = {}
    changed, last_pk = 0, 0
    while rows := list(
        deadline_model.objects.filter(status=DeadlineStatus.PENDING, pk__gt=last_pk)
        .order_by("pk")
        .values_list("pk", "kind", "due_at", "next_reminder_at")[:RESCHEDULE_BATCH]
    ):
        last_pk = rows[-1][0]
        for kind in {row[1] for row in rows} - days_by_kind.keys():
            days_by_kind[kind] = remind_days_for(kind)
        effects: dict[int, set[str]] = {}
        for deadline_id, effect in effect_model.objects.filter(
            deadline_id__in=[row[0] for row in rows if days_by_kind[row[1]]], effect__startswith="remind:"
        ).values_list("deadline_id", "effect"):
            effects.setdefault(deadline_id, set()).add(effect)
        updates = []
        for pk, kind, due_at, current in rows:
            at = None
            if days_by_kind[kind]:
                at = next_reminder_from_effects(
                    due_at=due_at, remind_days=days_by_kind[kind], effects=effects.get(pk, set()), now=now
                )
            if at != current:
                updates.append(deadline_model(pk=pk, next_reminder_at=at))
        deadline_model.objects.bulk_update(updates, ["next_reminder_at"], batch_size=500)
        changed += len(updates)
    return changed
