"""The merchant portal's webhook pages (issue 7), at the site root under the namespace "webhooks"."""

from django.urls import path

from . import views

app_name = "webhooks"

urlpatterns = [
    path("merchant/<int:merchant_id>/webhooks/", views.endpoint_list, name="list"),
    path("merchant/<int:merchant_id>/webhooks/<int:endpoint_id>/", views.endpoint_detail, name="detail"),
    path("merchant/<int:merchant_id>/webhooks/<int:endpoint_id>/rotate/", views.rotate, name="rotate"),
    path("merchant/<int:merchant_id>/webhooks/<int:endpoint_id>/delete/", views.delete, name="delete"),
    path(
        "merchant/<int:merchant_id>/webhooks/<int:endpoint_id>/deliveries/<int:message_id>/resend/",
        views.resend,
        name="resend",
    ),
]
