from django.contrib import admin

from .models import JobHeartbeat


@admin.register(JobHeartbeat)
class JobHeartbeatAdmin(admin.ModelAdmin):
    """Read only: the rows are the jobs' own record of their runs."""

    list_display = ["job", "finished_at", "runs", "fired", "reminded", "failed", "last_lag_seconds"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
