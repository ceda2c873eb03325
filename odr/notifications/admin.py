from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .models import OutboxMessage, OutboxStatus
from .relay import outbox_resend


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = ["template", "to_address", "case_reference", "status", "attempts", "created_at", "sent_at"]
    list_filter = ["status", "channel", "template"]
    search_fields = ["case_reference", "idempotency_key"]
    readonly_fields = [
        "idempotency_key",
        "created_at",
        "sent_at",
        "attempts",
        "next_attempt_at",
        "last_error",
        "status",
    ]
    actions = ["resend"]

    @admin.action(description=_("Send again"))
    def resend(self, request, queryset):
        count = 0
        for message in queryset.exclude(status=OutboxStatus.PENDING):
            outbox_resend(message=message)
            count += 1
        self.message_user(
            request,
            ngettext("%(count)d message queued again.", "%(count)d messages queued again.", count)
            % {"count": count},
            messages.SUCCESS,
        )
