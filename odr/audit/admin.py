from django.contrib import admin

from odr.readonly_admin import ReadOnlyAdmin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Read-only: the trail is append-only, even for platform staff."""

    list_display = ["stream", "seq", "kind", "occurred_at", "actor", "actor_role"]
    list_filter = ["kind"]
    search_fields = ["stream", "kind"]
    readonly_fields = [f.name for f in AuditEvent._meta.fields]
