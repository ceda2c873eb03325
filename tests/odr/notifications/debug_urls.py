"""The site's URLs as they are with DEBUG on (odr/urls.py adds the dev routes only then)."""

from django.urls import include, path

from odr.urls import urlpatterns as site_urlpatterns

urlpatterns = [*site_urlpatterns, path("dev/", include("odr.notifications.dev_urls"))]
