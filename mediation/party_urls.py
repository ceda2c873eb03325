"""The parties' side of a mediation, in the consumer and merchant portals (issue 6).

One case page for both parties; each action is a POST under it (one view, one service). The case's
documents (the record PDFs) stay at "mediation:case_documents": "cases/<ref>/documents/" is theirs,
so the parties' files live under "files/".
"""

from django.urls import path

from .views import parties

app_name = "parties"

urlpatterns = [
    path("cases/<str:reference>/", parties.case_page, name="case"),
    path("cases/<str:reference>/proposals/<int:pk>/answer/", parties.proposal_answer, name="proposal_answer"),
    path("cases/<str:reference>/withdraw/", parties.withdraw, name="withdraw"),
    path("cases/<str:reference>/decline/", parties.decline, name="decline"),
    path("cases/<str:reference>/representatives/", parties.representative_add, name="representative_add"),
    path("cases/<str:reference>/messages/", parties.message_post, name="message_post"),
    path("cases/<str:reference>/files/", parties.file_add, name="file_add"),
    path("cases/<str:reference>/files/<int:pk>/", parties.file_download, name="file_download"),
    path("cases/<str:reference>/files/<int:pk>/comments/", parties.file_comment, name="file_comment"),
    path(
        "cases/<str:reference>/consents/<uuid:uid>/withdraw/",
        parties.consent_withdraw,
        name="consent_withdraw",
    ),
    path(
        "cases/<str:reference>/receipts/<uuid:receipt_id>/",
        parties.receipt_download,
        name="receipt_download",
    ),
    path("cases/<str:reference>/follow-up/", parties.compliance_answer, name="compliance_answer"),
]
