"""The complaint stage in the browser: the consumer's filing and cases, and the complaint page both
parties share (each sees the actions that are theirs)."""

from django.urls import path

from .views import consumer, filing, merchant, shared

app_name = "complaints"

urlpatterns = [
    path("complaints/", consumer.my_cases, name="list"),
    path("complaints/new/", filing.start, name="file"),
    path("complaints/new/merchants/", filing.merchant_search, name="merchant_search"),
    path("complaints/new/invite/", filing.merchant_invite, name="merchant_invite"),
    path("complaints/new/autosave/", filing.draft_autosave, name="draft_autosave"),
    path(
        "complaints/new/evidence/<int:pk>/remove/", filing.draft_evidence_remove, name="draft_evidence_remove"
    ),
    path("complaints/new/<slug:step>/", filing.step, name="file_step"),
    path("complaints/<str:reference>/", shared.complaint_detail, name="detail"),
    path("complaints/<str:reference>/answer/", merchant.answer, name="answer"),
    path("complaints/<str:reference>/messages/", shared.message_post, name="message_post"),
    path("complaints/<str:reference>/offers/", shared.offer_make, name="offer_make"),
    path("complaints/<str:reference>/offers/<int:pk>/respond/", shared.offer_respond, name="offer_respond"),
    path(
        "complaints/<str:reference>/offers/<int:pk>/withdraw/", shared.offer_withdraw, name="offer_withdraw"
    ),
    path("complaints/<str:reference>/evidence/", shared.evidence_add, name="evidence_add"),
    path("complaints/<str:reference>/evidence/<int:pk>/", shared.evidence_download, name="evidence_download"),
    path("complaints/<str:reference>/documents/", shared.document_generate, name="document_generate"),
    path(
        "complaints/<str:reference>/documents/<int:pk>/", shared.document_download, name="document_download"
    ),
    path("complaints/<str:reference>/withdraw/", consumer.withdraw, name="withdraw"),
    path(
        "complaints/<str:reference>/consents/<uuid:uid>/withdraw/",
        consumer.consent_withdraw,
        name="consent_withdraw",
    ),
    path(
        "complaints/<str:reference>/receipts/<uuid:receipt_id>/",
        consumer.receipt_download,
        name="receipt_download",
    ),
]
