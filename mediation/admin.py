from django.contrib import admin

from .models import (
    ConflictDisclosure,
    DeadlineExtension,
    DocumentRequest,
    MediationCase,
    Proposal,
    ProposalResponse,
    Representative,
)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]


class DocumentRequestInline(ReadOnlyInline):
    model = DocumentRequest


class ExtensionInline(ReadOnlyInline):
    model = DeadlineExtension


class DisclosureInline(ReadOnlyInline):
    model = ConflictDisclosure


class RepresentativeInline(ReadOnlyInline):
    model = Representative


class ProposalInline(ReadOnlyInline):
    model = Proposal


@admin.register(MediationCase)
class MediationCaseAdmin(admin.ModelAdmin):
    """Read-only for staff: cases change only through their services (audit, deadlines, notices)."""

    list_display = [
        "reference",
        "mediation_body",
        "mediator",
        "state",
        "referred_at",
        "outcome_due_at",
    ]
    list_filter = ["state", "mediation_body", "rejection_reason"]
    search_fields = ["reference", "complaint__reference"]
    inlines = [
        DocumentRequestInline,
        ExtensionInline,
        DisclosureInline,
        RepresentativeInline,
        ProposalInline,
    ]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in MediationCase._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ProposalResponse)
class ProposalResponseAdmin(admin.ModelAdmin):
    list_display = ["proposal", "side", "decision", "deemed", "responded_at"]
    list_filter = ["decision", "deemed"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in ProposalResponse._meta.fields]

    def has_add_permission(self, request):
        return False
