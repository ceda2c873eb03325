from celery import shared_task

from .case_figures import case_figures_refresh


@shared_task(name="mediation.refresh_case_figures")
def refresh_case_figures() -> dict:
    """Beat, every minute: recount the dashboard's day buckets of the cases changed since the last run
    (mediation/case_figures.py). Safe to run twice at once: the second finds the first running."""
    report = case_figures_refresh()
    return {"changes": report.changes, "days": report.days, "busy": report.busy, "left": report.left}
