"""/api/v1/complaints/…: included by odr/api/urls.py under the namespace "api"."""

from django.urls import path

from . import views

urlpatterns = [
    path("complaints/", views.ComplaintListView.as_view(), name="complaint-list"),
    path("complaints/<str:reference>/", views.ComplaintDetailView.as_view(), name="complaint-detail"),
    path("complaints/<str:reference>/answer/", views.ComplaintAnswerView.as_view(), name="complaint-answer"),
    path("complaints/<str:reference>/offers/", views.OfferListView.as_view(), name="complaint-offers"),
    path(
        "complaints/<str:reference>/offers/<int:pk>/respond/",
        views.OfferRespondView.as_view(),
        name="complaint-offer-respond",
    ),
    path(
        "complaints/<str:reference>/offers/<int:pk>/withdraw/",
        views.OfferWithdrawView.as_view(),
        name="complaint-offer-withdraw",
    ),
    path("complaints/<str:reference>/messages/", views.MessageListView.as_view(), name="complaint-messages"),
    path(
        "complaints/<str:reference>/documents/", views.DocumentListView.as_view(), name="complaint-documents"
    ),
    path(
        "complaints/<str:reference>/documents/<int:pk>/download/",
        views.DocumentDownloadView.as_view(),
        name="complaint-document-download",
    ),
]
