from django.urls import path

from .views import compliance, documents, parties

app_name = "mediation"

urlpatterns = [
    path("complaints/<str:reference>/refer/", parties.refer, name="refer"),
    path("cases/<str:reference>/documents/", documents.case_documents, name="case_documents"),
    path(
        "cases/<str:reference>/documents/generate/",
        documents.case_document_generate,
        name="case_document_generate",
    ),
    path("documents/<int:pk>/download/", documents.document_download, name="document_download"),
    path("compliance/<slug:slug>/documents/", compliance.body_documents, name="body_documents"),
    path(
        "compliance/<slug:slug>/documents/generate/",
        compliance.body_document_generate,
        name="body_document_generate",
    ),
]
