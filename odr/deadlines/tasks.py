from celery import shared_task

from odr.ops.heartbeat import SWEEP_JOB, heartbeat_record

from .sweep import sweep_deadlines


@shared_task(name="odr.deadlines.sweep")
def sweep() -> dict:
    """Beat, every minute. Safe to run twice at once: see odr/deadlines/sweep.py.

    Returns the run's report (counts and lag, as logged): a run stops at its cap and the next one
    continues, so `capped` true several runs in a row means a backlog is draining. Each run that
    finishes updates the sweep's heartbeat row (odr.ops): readiness and metrics read it to tell a
    stopped beat or worker from a quiet day.
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
    return summary
