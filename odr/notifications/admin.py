from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .models import OutboxMessage, OutboxStatus
from .relay import outbox_acknowledge_dead, outbox_resend


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = [
        "template",
        "to_address",
        "case_reference",
        "status",
        "attempts",
        "created_at",
        "sent_at",
        "dead_acknowledged_at",
    ]
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
        "dead_acknowledged_at",
        "dead_acknowledged_by",
    ]
    actions = ["resend", "acknowledge_dead"]

    @admin.action(description=_("Send again"))
    def resend(self, request, queryset):
        count = 0
        for message in queryset.exclude(status=OutboxStatus.PENDING):
            outbox_resend(message=message, by=request.user)
            count += 1
        self.message_user(
            request,
            ngettext("%(count)d message queued again.", "%(count)d messages queued again.", count)
            % {"count": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("Acknowledge the dead letters"))
    def acknowledge_dead(self, request, queryset):
        """The notice was given another way, or the address is known dead: the row stays as the record,
        and stops counting against readiness (/readyz) and odr_outbox_dead. Who and when are kept on the
        row and in the case's audit trail (D34)."""
        count = outbox_acknowledge_dead(queryset, by=request.user)
        self.message_user(
            request,
            ngettext("%(count)d dead letter acknowledged.", "%(count)d dead letters acknowledged.", count)
            % {"count": count},
            messages.SUCCESS,
        )
