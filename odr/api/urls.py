"""/api/v1/: the REST API (issue 7), its OpenAPI schema and its documentation pages."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView

from . import docs, views

app_name = "api"

urlpatterns = [
    path("", include("complaints.api.urls")),
    path("", include("mediation.api.urls")),
    path("consent-receipts/verify/", views.ReceiptVerifyView.as_view(), name="receipt-verify"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", docs.SwaggerView.as_view(url_name="api:schema"), name="swagger-ui"),
    path("redoc/", docs.RedocView.as_view(url_name="api:schema"), name="redoc"),
    re_path(r"^(?P<path>.*)$", views.not_found, name="not-found"),  # last: what nothing else matched
]
