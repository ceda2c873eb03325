"""Swagger UI and ReDoc, served from our static files (drf-spectacular-sidecar), under the site's
strict Content-Security-Policy: no inline script, no inline <style>, nothing from a third party.

- Swagger UI: `SpectacularSwaggerSplitView` serves its init script from a URL (`?script`) instead of an
  inline block; our template drops the inline <style> for a static stylesheet; `validatorUrl: null`
  keeps Swagger UI from calling validator.swagger.io.
- ReDoc: our template has no web fonts (drf-spectacular's loads Google Fonts) and no inline script.
  ReDoc styles itself with injected <style> elements (styled-components), so this one page allows
  inline styles (`style-src 'self' 'unsafe-inline'`) and a blob: web worker (its search); scripts stay
  'self' only.
"""

from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_update
from django.utils.decorators import method_decorator
from drf_spectacular.settings import spectacular_settings
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.response import Response

SWAGGER_SETTINGS = {**spectacular_settings.SWAGGER_UI_SETTINGS, "validatorUrl": None}


class SwaggerView(SpectacularSwaggerSplitView):
    template_name = "api/swagger_ui.html"

    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        if request.GET.get("script") is not None and isinstance(response, Response):
            response.data["settings"] = self._dump(SWAGGER_SETTINGS)
        return response


@method_decorator(csp_update({"style-src": [UNSAFE_INLINE], "worker-src": [SELF, "blob:"]}), name="dispatch")
class RedocView(SpectacularRedocView):
    template_name = "api/redoc.html"
