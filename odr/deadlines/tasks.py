from celery import shared_task
from django.conf import settings

from odr.ops.heartbeat import SWEEP_JOB, heartbeat_record
from odr.tasks_enqueue import enqueue_task

from .sweep import SweepReport, sweep_deadlines


@shared_task(name="odr.deadlines.sweep")
def sweep() -> dict:
    """Beat, every minute. Safe to run twice at once: see odr/deadlines/sweep.py.

    Returns the run's report (counts and lag, as logged): a run stops at its cap and the next one
    continues, so `capped` true several runs in a row means a backlog is draining. Each run that
    finishes updates the sweep's heartbeat row (odr.ops): readiness and metrics read it to tell a
    stopped beat or worker from a quiet day. `continued` says whether this run sent the next one at
    once (see _continue).
    """
    report = sweep_deadlines()
    summary = report.as_dict()
    heartbeat_record(
        job=SWEEP_JOB,
        fired=summary["due"],
        reminded=summary["reminders"],
        failed=summary["failed"],
        skipped=summary["skipped"],
        lag_seconds=report.lag_seconds,
        capped=report.capped,
        elapsed_ms=report.elapsed_ms,
    )
    summary["continued"] = _continue(report)
    return summary


def _continue(report: SweepReport) -> bool:
    """A run that stopped at its cap sends the next run at once instead of leaving the rest to beat.

    Every legal due date ends at 23:59:59 local and every reminder is due at local midnight, so a
    day's work arrives in one burst; with one capped run per beat minute, the burst's tail waited
    minutes (docs/performance.md, "Deadline sweep: the midnight burst"). Not when the run did nothing
    but fail (no effect fired, no reminder sent or passed over): the same failures would come straight
    back, and beat's next minute is soon enough. Best effort, never waiting on the broker
    (odr/tasks_enqueue.py): if it is down, beat's next run continues as before.
    """
    if not (report.capped and settings.ODR_SWEEP_CONTINUE):
        return False
    if not (report.due or report.reminders or report.skipped):
        return False
    return enqueue_task(sweep, what="the deadline sweep's continuation")
