from celery import shared_task

from .sweep import sweep_deadlines


@shared_task(name="odr.deadlines.sweep")
def sweep() -> dict:
    """Beat, every minute. Safe to run twice at once: see odr/deadlines/sweep.py."""
    report = sweep_deadlines()
    return {"due": len(report.due), "reminders": len(report.reminders), "failed": len(report.failed)}
