"""Bearer API keys: ``Authorization: Bearer odr_<prefix>_<secret>``.

Who acts: the services need a person (`by`) with a role on the merchant. A key acts as the owner who
created it, within its merchant only (views narrow every selector to `request.auth.merchant_id`, see
`odr.api.access`). The key stops working the moment that person is no longer on the merchant's staff
or their account is deactivated: the owner then creates a new key. This keeps one rule for who may
do what (the services' and rules' own), and the audit trail names a real person.
"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from .keys import api_key_creator_left, api_key_find, api_key_touch

KEYWORD = "Bearer"


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != KEYWORD.lower().encode():
            return None  # not ours: the session may authenticate the browser
        if len(header) != 2:
            raise AuthenticationFailed(_("Malformed Authorization header: use 'Bearer <API key>'."))
        try:
            raw = header[1].decode()
        except UnicodeError:
            raise AuthenticationFailed(_("Invalid API key.")) from None
        key = api_key_find(raw)
        if key is None:
            if api_key_creator_left(raw):
                raise AuthenticationFailed(
                    _("The person who created this API key is no longer on the merchant's staff.")
                )
            raise AuthenticationFailed(_("Invalid or revoked API key."))
        api_key_touch(key)
        return key.created_by, key

    def authenticate_header(self, request):
        return f'{KEYWORD} realm="api"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "odr.api.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "odr_<prefix>_<secret>",
            "description": "A merchant's API key, created by an owner in the merchant portal.",
        }
