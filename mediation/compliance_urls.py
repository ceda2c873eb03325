"""The compliance area of a mediation body (issue 6). The annual report and the bulk export stay in
the "mediation" namespace (`mediation:body_documents`), linked from every page here."""

from django.urls import path

from .views import compliance

app_name = "compliance"

urlpatterns = [
    path("compliance/<slug:slug>/", compliance.dashboard, name="dashboard"),
    path("compliance/<slug:slug>/breaches/", compliance.breaches, name="breaches"),
    path("compliance/<slug:slug>/cases/", compliance.cases, name="cases"),
    path("compliance/<slug:slug>/cases/<str:reference>/audit/", compliance.case_audit, name="audit"),
    path(
        "compliance/<slug:slug>/cases/<str:reference>/audit/export/",
        compliance.audit_export,
        name="audit_export",
    ),
]
