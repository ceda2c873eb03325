"""Throttling per API key (its public prefix), not per IP: one shop's integration cannot starve another."""

from rest_framework.throttling import SimpleRateThrottle


class ApiKeyRateThrottle(SimpleRateThrottle):
    scope = "api_key"

    def get_cache_key(self, request, view):
        key = getattr(request, "auth", None)
        prefix = getattr(key, "prefix", None)
        if prefix is None:  # a browser session: the site's own limits apply
            return None
        return self.cache_format % {"scope": self.scope, "ident": prefix}
