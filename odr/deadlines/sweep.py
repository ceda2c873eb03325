"""The deadline sweep: every minute, fire what is due and send the reminders that are due.

Both passes read only what is due, through partial indexes: pending deadlines by `due_at`, and pending
deadlines by `next_reminder_at` (the instant of their next reminder, see reminders.py). A run's work is
therefore proportional to what is due, never to what is pending. Rows are claimed in batches with
`select_for_update(skip_locked=True)`, so concurrent sweeps share the work instead of waiting, walking
the index by keyset so that a row that failed is not retried in the same run. A run stops at its cap
(items or seconds): a backlog after an outage drains over the following runs, each ending in its minute.

Each effect is recorded in DeadlineEffect in the transaction that performs it; its unique constraint
makes a second attempt at the same effect (two sweeps racing on one row, a task delivered twice) roll
back: exactly once. A sent reminder moves `next_reminder_at` on in that same transaction, so it is
never read again.
"""

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q

from odr import clock
from odr.ops.logcontext import case

from .models import Deadline, DeadlineEffect, DeadlineStatus
from .registry import DeadlineHandler, handler_for, register_deadline_handler, remind_days_for
from .reminders import next_reminder, remind_effect, reminder_instant
from .services import deadline_close

__all__ = ["DeadlineHandler", "SweepReport", "register_deadline_handler", "sweep_deadlines"]

log = logging.getLogger(__name__)


@dataclass
class SweepReport:
    due: list[str] = field(default_factory=list)
    reminders: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    # Reminders passed over unsent: the farther ones after an outage, or the deadline moved meanwhile.
    skipped: int = 0
    # How late the oldest due item (deadline or reminder) was when this run reached it.
    lag_seconds: float | None = None
    # The run stopped at its cap with work possibly left: the next run continues.
    capped: bool = False
    elapsed_ms: float = 0.0

    def as_dict(self) -> dict:
        """Counts only (JSON-friendly, no case references): for the log and the Celery result."""
        return {
            "due": len(self.due),
            "reminders": len(self.reminders),
            "failed": len(self.failed),
            "skipped": self.skipped,
            "lag_seconds": None if self.lag_seconds is None else round(self.lag_seconds, 3),
            "capped": self.capped,
            "elapsed_ms": round(self.elapsed_ms, 1),
        }

    def _lag(self, now: datetime, instant: datetime) -> None:
        lag = max((now - instant).total_seconds(), 0.0)
        self.lag_seconds = lag if self.lag_seconds is None else max(self.lag_seconds, lag)


class _Budget:
    """A run's cap: so many items, so many seconds (whichever comes first)."""

    def __init__(self, *, items: int, seconds: float):
        self.items, self.deadline = items, time.monotonic() + seconds

    def take(self) -> bool:
        if self.items <= 0 or time.monotonic() >= self.deadline:
            return False
        self.items -= 1
        return True


class _Moved(Exception):
    """The deadline changed (moved, closed) between the claim and the reminder: roll the reminder back."""


def _claim(queryset, *, order: str, after: tuple | None, batch_size: int) -> list[tuple[int, datetime]]:
    """(id, instant) of the next batch after `after`, claimed with SKIP LOCKED in a short transaction.

    The claim only spreads the work between concurrent sweeps; it is released before any handler runs,
    because a handler locks the case and then updates deadline rows, and holding deadline locks here
    while waiting for the case would deadlock with a service doing the same in the usual order. What
    makes each effect happen once is the DeadlineEffect unique constraint, not the claim. The keyset
    (`after`) walks the index once per run: rows that failed are left for the next run.
    """
    if after is not None:
        instant, pk = after
        # The plain bound lets the index scan start at the keyset; the OR breaks ties on the id.
        queryset = queryset.filter(**{f"{order}__gte": instant}).filter(
            Q(**{f"{order}__gt": instant}) | Q(**{order: instant, "pk__gt": pk})
        )
    with transaction.atomic():
        return list(
            queryset.select_for_update(skip_locked=True)
            .order_by(order, "pk")
            .values_list("pk", order)[:batch_size]
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


def _reschedule(deadline: Deadline, at: datetime | None) -> int:
    """Move the deadline's next reminder to `at`, if the row is still the one that was read.

    Conditional on the due date and the reminder instant read at claim time: an extension or a close
    that happened meanwhile has already set the right schedule, which must not be overwritten.
    """
    return Deadline.objects.filter(
        pk=deadline.pk,
        status=DeadlineStatus.PENDING,
        due_at=deadline.due_at,
        next_reminder_at=deadline.next_reminder_at,
    ).update(next_reminder_at=at)


def _claimed(due, *, order: str, report: SweepReport, budget: _Budget, now: datetime, batch_size: int):
    """The deadlines of `due` in `order`, claimed batch by batch (see _claim), still due when read,
    until the run's budget is spent (then the report says `capped`). Both passes walk through it."""
    after = None
    while batch := _claim(due, order=order, after=after, batch_size=batch_size):
        if after is None:
            report._lag(now, batch[0][1])
        after = batch[-1][1], batch[-1][0]
        for deadline in due.filter(pk__in=[pk for pk, _ in batch]).order_by(order, "pk"):
            if not budget.take():
                report.capped = True
                return
            yield deadline


def _sweep_due(report: SweepReport, budget: _Budget, *, now: datetime, batch_size: int) -> None:
    """Due effects (D3, D8, D12, D18, D25, D29): through the partial index on pending due dates."""
    due = Deadline.objects.filter(status=DeadlineStatus.PENDING, due_at__lt=now)
    for deadline in _claimed(
        due, order="due_at", report=report, budget=budget, now=now, batch_size=batch_size
    ):
        with case(deadline.case_reference):  # every line about this deadline names its case
            _due_one(report, deadline)


def _due_one(report: SweepReport, deadline: Deadline) -> None:
    handler = handler_for(deadline.kind)
    if handler is None:
        log.error("no handler registered for deadline kind %s", deadline.kind)
        report.failed.append(f"{deadline.case_reference} {deadline.kind}: no handler")
        return
    try:
        if _fire(deadline, "due", _due_action(deadline, handler)):
            report.due.append(f"{deadline.case_reference} {deadline.kind}")
    except Exception as exc:  # one broken case must not stop the sweep for everyone else
        log.exception("deadline %s failed", deadline.pk)
        report.failed.append(f"{deadline.case_reference} {deadline.kind}: {exc}")


def _remind(report: SweepReport, deadline: Deadline, *, now: datetime) -> None:
    """Send the closest reminder that is due, skip the farther ones, schedule the next one."""
    days = remind_days_for(deadline.kind)
    # The reminders not yet passed, by schedule: from the instant the deadline was claimed at.
    remaining = [d for d in days if deadline.next_reminder_at <= reminder_instant(deadline.due_at, d)]
    if deadline.due_at < now:
        # Due meanwhile (its due effect failed, say): reminders are over, the due pass owns it.
        if _reschedule(deadline, None):
            report.skipped += len(remaining)
        return
    passed = [d for d in remaining if reminder_instant(deadline.due_at, d) <= now]
    later = next_reminder(due_at=deadline.due_at, remind_days=days, after=now)
    if not passed:
        # Nothing due at this instant (the reminder days setting changed since it was scheduled).
        _reschedule(deadline, later)
        return
    closest = min(passed)
    handler = handler_for(deadline.kind)

    def act():
        handler.on_remind(deadline.subject, closest)
        # After the handler, which locks the case first (the services' lock order): see _claim.
        if not _reschedule(deadline, later):
            raise _Moved

    try:
        fired = _fire(deadline, remind_effect(deadline.due_at, closest), act)
    except _Moved:
        report.skipped += len(passed)
        return
    if fired:
        report.reminders.append(f"{deadline.case_reference} {deadline.kind} ({closest} d)")
        report.skipped += len(passed) - 1
    elif _reschedule(deadline, later):
        # Already sent for this due date (a deadline moved away and back again): once per due date,
        # so move on rather than meet the same refusal on every run. (A concurrent sweep that sent it
        # has moved the schedule already: then this updates nothing.)
        report.skipped += len(passed)


def _sweep_reminders(report: SweepReport, budget: _Budget, *, now: datetime, batch_size: int) -> None:
    """Reminders before a duty's due date (D3, D12, D18): through the partial index on next reminders."""
    due = Deadline.objects.filter(status=DeadlineStatus.PENDING, next_reminder_at__lte=now)
    for deadline in _claimed(
        due, order="next_reminder_at", report=report, budget=budget, now=now, batch_size=batch_size
    ):
        with case(deadline.case_reference):
            try:
                _remind(report, deadline, now=now)
            except Exception as exc:
                log.exception("reminder for deadline %s failed", deadline.pk)
                report.failed.append(f"{deadline.case_reference} {deadline.kind} reminder: {exc}")


def sweep_deadlines(
    *, batch_size: int | None = None, max_items: int | None = None, max_seconds: float | None = None
) -> SweepReport:
    """One run: due deadlines first (legal effects), then reminders, within the run's cap.

    The cap (ODR_SWEEP_MAX_ITEMS items, ODR_SWEEP_MAX_SECONDS seconds) is shared by both passes: after
    an outage the legal effects drain first; reminders whose turn comes late send only the closest one.
    """
    started = time.monotonic()
    report = SweepReport()
    now = clock.now()
    batch_size = batch_size or settings.ODR_SWEEP_BATCH_SIZE
    budget = _Budget(
        items=max_items or settings.ODR_SWEEP_MAX_ITEMS,
        seconds=max_seconds or settings.ODR_SWEEP_MAX_SECONDS,
    )
    _sweep_due(report, budget, now=now, batch_size=batch_size)
    if not report.capped:
        _sweep_reminders(report, budget, now=now, batch_size=batch_size)
    report.elapsed_ms = (time.monotonic() - started) * 1000
    summary = report.as_dict()
    log.info(json.dumps({"event": "deadline_sweep", **summary}), extra=summary)
    return report
