"""The merchant portal's API-key pages (issue 7), included at the site root, namespace "apikeys"."""

from django.urls import path

from . import portal_views

app_name = "apikeys"

urlpatterns = [
    path("merchant/<int:merchant_id>/api-keys/", portal_views.key_list, name="list"),
    path("merchant/<int:merchant_id>/api-keys/create/", portal_views.key_create, name="create"),
    path("merchant/<int:merchant_id>/api-keys/<int:key_id>/revoke/", portal_views.key_revoke, name="revoke"),
]
