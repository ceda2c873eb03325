from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from odr import views
from odr.ops import health, metrics

urlpatterns = [
    path("", views.home, name="home"),
    # Operations (odr/ops): liveness, readiness, Prometheus metrics. Outside the i18n prefix, no login.
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("portal/", views.portal, name="portal"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("odr.consent.urls")),
    path("", include("odr.audit.urls")),
    path("", include("odr.accounts.urls")),
    path("", include("complaints.urls")),
    path("", include("complaints.merchant_urls")),
    path("", include("mediation.urls")),
    path("", include("mediation.mediator_urls")),
    path("", include("mediation.party_urls")),
    path("", include("mediation.compliance_urls")),
    path("api/v1/", include("odr.api.urls")),
    path("", include("odr.api.portal_urls")),
    path("", include("odr.webhooks.urls")),
]

if settings.DEBUG:
    urlpatterns.append(path("dev/", include("odr.notifications.dev_urls")))
