from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import MediationBody, Membership, Merchant, StaffInvitation, User


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["merchant", "mediation_body"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_staff", "is_active"]
    search_fields = ["email", "first_name", "last_name"]
    inlines = [MembershipInline]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Personal info"), {"fields": ("first_name", "last_name", "preferred_language")}),
        (
            _("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


@admin.register(MediationBody)
class MediationBodyAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "website", "time_zone", "listing_number"]
    search_fields = ["name", "slug", "listing_number"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Merchant)
class MerchantAdmin(admin.ModelAdmin):
    list_display = ["legal_name", "registration_number", "vat_number", "mediation_body"]
    list_filter = ["mediation_body", "takes_part_in_mediation"]
    search_fields = ["legal_name", "trading_name", "registration_number", "vat_number", "website"]
    autocomplete_fields = ["mediation_body"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "role", "merchant", "mediation_body", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "merchant__legal_name", "mediation_body__name"]
    autocomplete_fields = ["user", "merchant", "mediation_body"]


@admin.register(StaffInvitation)
class StaffInvitationAdmin(admin.ModelAdmin):
    """Read-only: invitations are sent, revoked and accepted through the merchant portal, which audits
    and e-mails; the token (the link's secret) is never shown."""

    list_display = ["email", "merchant", "invited_by", "invited_at", "accepted_at", "revoked_at"]
    list_filter = ["accepted_at", "revoked_at"]
    search_fields = ["email", "merchant__legal_name", "merchant__trading_name"]
    fields = ["merchant", "email", "invited_by", "invited_at", "accepted_at", "accepted_by", "revoked_at"]
    readonly_fields = fields
    list_select_related = ["merchant", "invited_by"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
