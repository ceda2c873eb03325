from django.contrib import admin

from .models import Complaint, Message, Offer


class OfferInline(admin.TabularInline):
    model = Offer
    fk_name = "complaint"
    extra = 0
    can_delete = False
    readonly_fields = [
        "kind",
        "side",
        "made_by",
        "amount_cents",
        "currency",
        "terms",
        "status",
        "made_at",
    ]
    fields = readonly_fields


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    can_delete = False
    readonly_fields = ["side", "author", "body", "sent_at"]
    fields = readonly_fields


@admin.register(Complaint)
class ComplaintAdmin(admin.ModelAdmin):
    """Read-only for staff: complaints change only through their services (audit, deadlines)."""

    list_display = ["reference", "merchant", "state", "category", "filed_at", "response_due_at"]
    list_filter = ["state", "category", "merchant__mediation_body"]
    search_fields = ["reference", "order_reference", "merchant__legal_name"]
    inlines = [OfferInline, MessageInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Complaint._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
