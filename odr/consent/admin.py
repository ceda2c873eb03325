from django.contrib import admin

from odr.readonly_admin import ReadOnlyAdmin

from .models import ConsentReceipt, ConsentRecord


class ConsentReceiptInline(admin.TabularInline):
    model = ConsentReceipt
    fields = ["receipt_id", "event_type", "issued_at", "kid"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ConsentRecord)
class ConsentRecordAdmin(ReadOnlyAdmin):
    list_display = ["uid", "person", "purpose", "state", "case_reference", "given_at", "withdrawn_at"]
    list_filter = ["purpose", "state"]
    search_fields = ["uid", "case_reference", "person__email"]
    readonly_fields = [field.name for field in ConsentRecord._meta.fields]
    inlines = [ConsentReceiptInline]


@admin.register(ConsentReceipt)
class ConsentReceiptAdmin(ReadOnlyAdmin):
    list_display = ["receipt_id", "event_type", "issued_at", "record", "kid"]
    list_filter = ["event_type"]
    search_fields = ["receipt_id", "record__uid", "record__case_reference"]
    readonly_fields = [field.name for field in ConsentReceipt._meta.fields]
