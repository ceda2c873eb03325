from celery import shared_task

from .sweep import sweep_deadlines


@shared_task(name="odr.deadlines.sweep")
def sweep() -> dict:
    """Beat, every minute. Safe to run twice at once: see odr/deadlines/sweep.py.

    Returns the run's report (counts and lag, as logged): a run stops at its cap and the next one
    continues, so `capped` true several runs in a row means a backlog is draining.
    """
    return sweep_deadlines().as_dict()
