"""The admin of records nobody edits by hand: the audit trail, consent records, the jobs' heartbeats.

They change only through the services (with their audit event) or the jobs themselves; staff may read
them in the admin, never add, change or delete one.
"""

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
