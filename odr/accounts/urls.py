"""The merchant's team (owner invites and removes agents), its settings page (D5), and the page where
an invited person accepts. Included at the site root under the namespace "team"."""

from django.urls import path

from . import views

app_name = "team"

urlpatterns = [
    path("merchant/<int:merchant_id>/team/", views.members, name="members"),
    path("merchant/<int:merchant_id>/team/invite/", views.invite, name="invite"),
    path("merchant/<int:merchant_id>/team/<int:membership_id>/remove/", views.remove, name="remove"),
    path(
        "merchant/<int:merchant_id>/team/invitations/<int:invitation_id>/revoke/",
        views.revoke,
        name="revoke",
    ),
    path("merchant/<int:merchant_id>/settings/", views.merchant_settings, name="settings"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
]
