"""Routes that exist only with DEBUG on (odr/urls.py includes this module only then)."""

from django.urls import path

from . import dev_views

app_name = "dev"

urlpatterns = [
    path("mailbox/", dev_views.mailbox, name="mailbox"),
    path("mailbox/<int:pk>/", dev_views.mailbox_email, name="mailbox_email"),
    path("mailbox/<int:pk>/html/", dev_views.mailbox_html, name="mailbox_html"),
    path(
        "mailbox/<int:pk>/attachments/<int:index>/", dev_views.mailbox_attachment, name="mailbox_attachment"
    ),
]
