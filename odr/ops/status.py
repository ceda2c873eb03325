"""What readiness and metrics read from the database: a few aggregate queries, each through a partial
index, so that a probe or a scrape costs what is due or failing, never what exists.

Every web process on every host computes the same figures from PostgreSQL: nothing here is kept in
process memory.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Min, Q
from django.db.models.functions import Coalesce

from odr.deadlines.models import DUTY_KINDS, Deadline, DeadlineStatus
from odr.documents.models import DocumentStatus, GeneratedDocument
from odr.notifications.models import OutboxMessage, OutboxStatus

from .heartbeat import SWEEP_JOB
from .models import JobHeartbeat


@dataclass
class SweepStatus:
    heartbeat: JobHeartbeat | None
    due_by_kind: dict[str, int]
    overdue: int  # pending duty deadlines (DUTY_KINDS) past their due instant: not yet handled
    oldest_due_at: datetime | None
    reminders_due: int
    oldest_reminder_at: datetime | None

    @property
    def due(self) -> int:
        return sum(self.due_by_kind.values())

    def lag_seconds(self, now: datetime) -> float | None:
        """How far behind the sweep is: the larger of the oldest due item's wait (a backlog) and the
        time since the last run finished (beat or worker stopped while nothing is due). None when no
        sweep ever finished."""
        if self.heartbeat is None:
            return None
        waits = [now - self.heartbeat.finished_at]
        waits += [now - at for at in (self.oldest_due_at, self.oldest_reminder_at) if at is not None]
        return max(max(waits).total_seconds(), 0.0)


def sweep_status(now: datetime) -> SweepStatus:
    """Three queries: the heartbeat row, due deadlines (index deadline_pending_due), due reminders
    (index deadline_pending_reminder)."""
    heartbeat = JobHeartbeat.objects.filter(job=SWEEP_JOB).first()
    due = (
        Deadline.objects.filter(status=DeadlineStatus.PENDING, due_at__lt=now)
        .values("kind")
        .annotate(n=Count("pk"), oldest=Min("due_at"))
        .order_by()
    )
    due_by_kind, oldest = {}, []
    for row in due:
        due_by_kind[row["kind"]] = row["n"]
        oldest.append(row["oldest"])
    reminders = Deadline.objects.filter(
        status=DeadlineStatus.PENDING, next_reminder_at__isnull=False, next_reminder_at__lte=now
    ).aggregate(n=Count("pk"), oldest=Min("next_reminder_at"))
    return SweepStatus(
        heartbeat=heartbeat,
        due_by_kind=due_by_kind,
        overdue=sum(n for kind, n in due_by_kind.items() if kind in DUTY_KINDS),
        oldest_due_at=min(oldest, default=None),
        reminders_due=reminders["n"],
        oldest_reminder_at=reminders["oldest"],
    )


def breached_by_kind() -> dict[str, int]:
    """Deadlines closed late (duties missed), by kind: index deadline_breached (breaches are rare)."""
    rows = (
        Deadline.objects.filter(status=DeadlineStatus.BREACHED)
        .values("kind")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {row["kind"]: row["n"] for row in rows}


@dataclass
class ChannelStatus:
    pending: int = 0
    retrying: int = 0  # pending after at least one failed attempt
    stale: int = 0  # due (first try or retry) for longer than the readiness window
    dead: int = 0  # not acknowledged


@dataclass
class OutboxStatusReport:
    channels: dict[str, ChannelStatus] = field(default_factory=dict)

    def channel(self, name: str) -> ChannelStatus:
        return self.channels.setdefault(name, ChannelStatus())


def outbox_status(now: datetime) -> OutboxStatusReport:
    """Two queries: pending rows (index outbox_pending) and dead letters not acknowledged (index
    outbox_dead_unacknowledged), by channel.

    A pending row is due at its next attempt, or at its creation when never tried; "stale" rows have been
    due for longer than ODR_READY_OUTBOX_BACKLOG_MINUTES: the relay (every minute) should have taken
    them by then.
    """
    stale_after = timedelta(minutes=settings.ODR_READY_OUTBOX_BACKLOG_MINUTES)
    report = OutboxStatusReport()
    due_since = Coalesce("next_attempt_at", "created_at")
    pending = (
        OutboxMessage.objects.filter(status=OutboxStatus.PENDING)
        .annotate(due_since=due_since)
        .values("channel")
        .annotate(
            n=Count("pk"),
            retrying=Count("pk", filter=Q(attempts__gt=0)),
            stale=Count("pk", filter=Q(due_since__lte=now - stale_after)),
        )
        .order_by()
    )
    for row in pending:
        channel = report.channel(row["channel"])
        channel.pending, channel.retrying, channel.stale = row["n"], row["retrying"], row["stale"]
    dead = (
        OutboxMessage.objects.filter(status=OutboxStatus.DEAD, dead_acknowledged_at__isnull=True)
        .values("channel")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in dead:
        report.channel(row["channel"]).dead = row["n"]
    return report


def documents_failed() -> int:
    """Generated documents whose rendering failed: index document_failed."""
    return GeneratedDocument.objects.filter(status=DocumentStatus.FAILED).count()
