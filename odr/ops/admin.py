from django.contrib import admin

from odr.readonly_admin import ReadOnlyAdmin

from .models import JobHeartbeat


@admin.register(JobHeartbeat)
class JobHeartbeatAdmin(ReadOnlyAdmin):
    """Read only: the rows are the jobs' own record of their runs."""

    list_display = ["job", "finished_at", "runs", "fired", "reminded", "failed", "last_lag_seconds"]
