"""The deadline sweep: every minute, fire what is due and send what reminders are due.

The stages register, per deadline kind, the service to call when a deadline is due and, for duties,
the one that reminds the person who must act (`register_deadline_handler`, in their AppConfig.ready):
this package never imports a stage. Rows are claimed with `select_for_update(skip_locked=True)`, so
concurrent sweeps share the work instead of waiting, and each effect is recorded in DeadlineEffect,
whose unique constraint makes a second attempt at the same effect roll back (exactly once).
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import IntegrityError, transaction

from odr import clock

from .calendar import days_left, end_of_local_day, local_date, zone
from .models import Deadline, DeadlineEffect, DeadlineStatus
from .services import deadline_close

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeadlineHandler:
    on_due: Callable[[object], object]
    on_remind: Callable[[object, int], object] | None = None
    remind_days: Callable[[], list[int]] | None = None  # read at sweep time: settings may change


_handlers: dict[str, DeadlineHandler] = {}


def register_deadline_handler(kind: str, handler: DeadlineHandler) -> None:
    _handlers[kind] = handler


@dataclass
class SweepReport:
    due: list[str] = field(default_factory=list)
    reminders: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def _claim(queryset, *, batch_size: int, exclude: set[int]) -> list[int]:
    """Ids of the next batch, claimed with SKIP LOCKED in a short transaction of their own.

    The claim only spreads the work between concurrent sweeps; it is released before any handler runs,
    because a handler locks the case and then updates deadline rows, and holding deadline locks here
    while waiting for the case would deadlock with a service doing the same in the usual order. What
    makes each effect happen once is the DeadlineEffect unique constraint, not the claim.
    """
    with transaction.atomic():
        return list(
            queryset.select_for_update(skip_locked=True)
            .exclude(pk__in=exclude)
            .order_by("due_at", "pk")
            .values_list("pk", flat=True)[:batch_size]
        )


def _fire(deadline: Deadline, effect: str, action: Callable[[], object]) -> bool:
    """Record the effect and run it, all or nothing. False if it had already been done."""
    try:
        with transaction.atomic():
            DeadlineEffect.objects.create(deadline=deadline, effect=effect, fired_at=clock.now())
            action()
    except IntegrityError:
        return False
    return True


def _due_action(deadline: Deadline, handler: DeadlineHandler) -> Callable[[], None]:
    def act():
        handler.on_due(deadline.subject)
        # The service closes its own deadline; if it had nothing left to do (the case moved on),
        # the sweep closes it so that it is not picked up again.
        if Deadline.objects.filter(pk=deadline.pk, status=DeadlineStatus.PENDING).exists():
            deadline_close(subject=deadline.subject, kind=deadline.kind)

    return act


def sweep_deadlines(*, batch_size: int = 200) -> SweepReport:
    report = SweepReport()
    now = clock.now()
    seen: set[int] = set()
    pending = Deadline.objects.filter(status=DeadlineStatus.PENDING)

    # Due effects (D3, D8, D12, D18, D25, D29): through the partial index on pending due dates.
    while batch := _claim(pending.filter(due_at__lt=now), batch_size=batch_size, exclude=seen):
        for deadline in Deadline.objects.filter(pk__in=batch, status=DeadlineStatus.PENDING).order_by(
            "due_at", "pk"
        ):
            seen.add(deadline.pk)
            handler = _handlers.get(deadline.kind)
            if handler is None:
                log.error("no handler registered for deadline kind %s", deadline.kind)
                report.failed.append(f"{deadline.case_reference} {deadline.kind}: no handler")
                continue
            try:
                if _fire(deadline, "due", _due_action(deadline, handler)):
                    report.due.append(f"{deadline.case_reference} {deadline.kind}")
            except Exception as exc:  # one broken case must not stop the sweep for everyone else
                log.exception("deadline %s failed", deadline.pk)
                report.failed.append(f"{deadline.case_reference} {deadline.kind}: {exc}")
        seen.update(batch)

    # Reminders before a duty's due date (D3, D12, D18), by whole local days left (in the platform's
    # default time zone: a reminder is a courtesy, not a legal period): the closest one only, once per
    # due date (an extension moves the date, and the reminders start again).
    reminding = {kind: h for kind, h in _handlers.items() if h.on_remind and h.remind_days}
    if reminding:
        horizon = max(max(h.remind_days(), default=0) for h in reminding.values())
        tz = zone(None)
        last_day = end_of_local_day(local_date(now, tz) + timedelta(days=horizon), tz)
        upcoming = pending.filter(kind__in=list(reminding), due_at__gte=now, due_at__lte=last_day)
        seen.clear()
        while batch := _claim(upcoming, batch_size=batch_size, exclude=seen):
            seen.update(batch)
            for deadline in Deadline.objects.filter(pk__in=batch, status=DeadlineStatus.PENDING):
                handler = reminding[deadline.kind]
                left = days_left(deadline.due_at, now)
                days = [d for d in handler.remind_days() if left <= d]
                if not days:
                    continue
                closest = min(days)
                due = f"{deadline.due_at:%Y%m%d}"
                # Mark the farther reminders as passed, so a sweep that was down does not send them late.
                for skipped in days:
                    if skipped != closest:
                        _fire(deadline, f"remind:{skipped}:{due}", lambda: None)
                try:
                    fired = _fire(
                        deadline,
                        f"remind:{closest}:{due}",
                        lambda d=deadline, c=closest, h=handler: h.on_remind(d.subject, c),
                    )
                except Exception as exc:
                    log.exception("reminder for deadline %s failed", deadline.pk)
                    report.failed.append(f"{deadline.case_reference} {deadline.kind} reminder: {exc}")
                    continue
                if fired:
                    report.reminders.append(f"{deadline.case_reference} {deadline.kind} ({closest} d)")
    return report
