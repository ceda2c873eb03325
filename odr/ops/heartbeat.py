"""Recording a periodic job's run: one row per job, counters added in one UPDATE (no read-modify-write,
so two runs finishing at once on two hosts both count)."""

from django.db import IntegrityError, transaction
from django.db.models import F

from odr import clock

from .models import JobHeartbeat

SWEEP_JOB = "deadline_sweep"
COUNTERS = ("fired", "reminded", "failed", "skipped")


def heartbeat_record(
    *,
    job: str,
    lag_seconds: float | None = None,
    capped: bool = False,
    elapsed_ms: float = 0.0,
    **counts: int,
) -> None:
    """Add one run of `job` and its counts (keyword names from COUNTERS) to its heartbeat row."""
    unknown = set(counts) - set(COUNTERS)
    if unknown:
        raise ValueError(f"unknown heartbeat counters: {sorted(unknown)}")
    values = {
        "finished_at": clock.now(),
        "runs": F("runs") + 1,
        "capped_runs": F("capped_runs") + int(capped),
        "last_lag_seconds": lag_seconds,
        "last_elapsed_ms": elapsed_ms,
        **{name: F(name) + counts.get(name, 0) for name in COUNTERS},
    }
    if JobHeartbeat.objects.filter(job=job).update(**values):
        return
    try:
        # The job's first run: create the row (a concurrent first run may win; then update it).
        with transaction.atomic():
            JobHeartbeat.objects.create(job=job, finished_at=values["finished_at"])
    except IntegrityError:
        pass
    JobHeartbeat.objects.filter(job=job).update(**values)
