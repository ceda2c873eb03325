"""/api/v1/cases/…: included by odr/api/urls.py under the namespace "api"."""

from django.urls import path

from . import views

urlpatterns = [
    path("cases/", views.CaseListView.as_view(), name="case-list"),
    path("cases/<str:reference>/", views.CaseDetailView.as_view(), name="case-detail"),
    path(
        "cases/<str:reference>/proposals/<int:pk>/respond/",
        views.ProposalRespondView.as_view(),
        name="case-proposal-respond",
    ),
    path("cases/<str:reference>/decline/", views.CaseDeclineView.as_view(), name="case-decline"),
    path("cases/<str:reference>/withdraw/", views.CaseWithdrawView.as_view(), name="case-withdraw"),
    path("cases/<str:reference>/messages/", views.CaseMessageListView.as_view(), name="case-messages"),
]
