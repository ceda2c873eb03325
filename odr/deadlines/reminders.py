"""When reminders before a duty's due date are due (D3, D12, D18): pure schedule arithmetic.

A reminder "d days before" is due from the start of the local day d days before the due day (in the
platform's default time zone: a reminder is a courtesy, not a legal period), i.e. once there are d
whole local days left or fewer. A deadline carries the instant of its next reminder
(`Deadline.next_reminder_at`); the sweep claims deadlines whose instant has passed, sends the closest
reminder that is due — the farther ones, passed while the sweep was down, are skipped rather than sent
late — and moves the instant on to the next reminder, or clears it when none is left.
"""

from datetime import UTC, datetime, time, timedelta

from .calendar import local_date, zone


def reminder_instant(due_at: datetime, days: int) -> datetime:
    """The first instant at which the reminder `days` before `due_at` is due (local midnight)."""
    tz = zone(None)
    return datetime.combine(local_date(due_at, tz) - timedelta(days=days), time.min, tzinfo=tz)


def next_reminder(
    *, due_at: datetime, remind_days: list[int], after: datetime | None = None
) -> datetime | None:
    """The instant of the farthest reminder that is due strictly after `after` (any, when None).

    Opening or moving a deadline schedules the farthest reminder even if its instant has passed: the
    next sweep then sends the closest one that is due, as a sweep that was down would.
    """
    instants = [reminder_instant(due_at, d) for d in remind_days]
    instants = [i for i in instants if i <= due_at and (after is None or i > after)]
    return min(instants, default=None)


def reminder_due(*, due_at: datetime, remind_days: list[int], now: datetime) -> int | None:
    """The closest reminder (in days) whose instant has passed at `now`, or None."""
    days = [d for d in remind_days if reminder_instant(due_at, d) <= now]
    return min(days, default=None)


def remind_effect(due_at: datetime, days: int) -> str:
    """The DeadlineEffect key of a reminder: once per reminder and due date (an extension starts again).

    The due date is written in UTC, as the sweep has always written it, so that keys recorded before
    and after a change of time zone setting still match.
    """
    return f"remind:{days}:{due_at.astimezone(UTC):%Y%m%d}"


def next_reminder_from_effects(
    *, due_at: datetime, remind_days: list[int], effects: set[str], now: datetime
) -> datetime | None:
    """The next reminder of a pending deadline given the reminder effects recorded for it.

    Used to fill `next_reminder_at` for deadlines opened before it existed: the reminders recorded for
    the current due date are done (the closest one recorded was the last sent, the farther ones were
    sent or skipped before it); the next is the farthest one closer than that.
    """
    if due_at < now:
        return None  # due: the due effect is next, not a reminder
    done = [d for d in remind_days if remind_effect(due_at, d) in effects]
    after = reminder_instant(due_at, min(done)) if done else None
    return next_reminder(due_at=due_at, remind_days=remind_days, after=after)
