from django.contrib import admin

from .models import Deadline


@admin.register(Deadline)
class DeadlineAdmin(admin.ModelAdmin):
    list_display = ["case_reference", "kind", "due_at", "status", "legal_basis", "closed_at"]
    list_filter = ["kind", "status"]
    search_fields = ["case_reference"]
    readonly_fields = [
        "content_type",
        "object_id",
        "opened_at",
        "closed_at",
        "legal_basis",
        "next_reminder_at",
    ]
