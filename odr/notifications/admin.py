from django.contrib import admin

from .models import OutboxMessage


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = ["template", "to_address", "case_reference", "status", "attempts", "created_at"]
    list_filter = ["status", "channel", "template"]
    search_fields = ["case_reference", "idempotency_key"]
    readonly_fields = ["idempotency_key", "created_at", "sent_at", "attempts", "last_error"]
