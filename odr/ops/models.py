"""The heartbeat of periodic jobs, kept in the database so that every web process on every host
reads the same truth: when the job last finished, and what it did in total."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class JobHeartbeat(models.Model):
    """One row per periodic job ("deadline_sweep"), updated by every run of it.

    `finished_at` answers "is beat and a worker still running the job?" even when nothing is due;
    the counters are cumulative (Prometheus counters: rates are taken by the monitoring side).
    """

    job = models.CharField(_("job"), max_length=64, primary_key=True)
    finished_at = models.DateTimeField(_("last run finished"))
    runs = models.PositiveBigIntegerField(_("runs"), default=0)
    capped_runs = models.PositiveBigIntegerField(_("runs stopped at their cap"), default=0)
    fired = models.PositiveBigIntegerField(_("due effects fired"), default=0)
    reminded = models.PositiveBigIntegerField(_("reminders sent"), default=0)
    failed = models.PositiveBigIntegerField(_("items failed"), default=0)
    skipped = models.PositiveBigIntegerField(_("reminders skipped"), default=0)
    last_lag_seconds = models.FloatField(_("lag of the last run (s)"), null=True, blank=True)
    last_elapsed_ms = models.FloatField(_("duration of the last run (ms)"), default=0)

    class Meta:
        verbose_name = _("job heartbeat")
        verbose_name_plural = _("job heartbeats")

    def __str__(self):
        return f"{self.job} {self.finished_at:%Y-%m-%d %H:%M:%S}"
