"""The mediator's workspace: queues and the mediator's case page, one URL per action (issue 6)."""

from django.urls import path

from .views import mediator

app_name = "mediator"

CASE = "mediator/cases/<str:reference>/"

urlpatterns = [
    path("mediator/", mediator.workspace, name="workspace"),
    path(CASE, mediator.case_page, name="case"),
    path(CASE + "files/<int:pk>/", mediator.evidence_download, name="evidence_download"),
    path(CASE + "take/", mediator.take, name="take"),
    path(CASE + "assign/", mediator.assign, name="assign"),
    path(CASE + "request-documents/", mediator.request_documents, name="request_documents"),
    path(CASE + "file-complete/", mediator.complete_file, name="complete_file"),
    path(CASE + "admit/", mediator.admit, name="admit"),
    path(CASE + "reject/", mediator.reject, name="reject"),
    path(CASE + "messages/", mediator.message, name="message"),
    path(CASE + "disclosures/", mediator.disclose, name="disclose"),
    path(CASE + "extend/", mediator.extend, name="extend"),
    path(CASE + "proposal/", mediator.propose, name="propose"),
    path(CASE + "agreement/", mediator.record_agreement, name="record_agreement"),
    path(CASE + "close/", mediator.close, name="close"),
]
