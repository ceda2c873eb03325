"""Scopes: every key reads; only a read-and-write key writes. A browser session is its person's."""

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import SAFE_METHODS, BasePermission

from .access import api_key_of


class KeyScope(BasePermission):
    message = _("This API key is read-only: create a read-and-write key to do this.")
    code = "insufficient_scope"

    def has_permission(self, request, view):
        key = api_key_of(request)
        if key is None or request.method in SAFE_METHODS:
            return True
        return key.can_write or getattr(view, "read_only_post", False)
