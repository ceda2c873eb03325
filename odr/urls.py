from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from odr import views

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
    path("", include("odr.consent.urls")),
]

if settings.DEBUG:
    urlpatterns.append(path("dev/", include("odr.notifications.dev_urls")))
