"""The complaint endpoints call the portal's services and read through its selectors."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from complaints.models import Complaint, ComplaintState, Message, Offer, OfferStatus
from complaints.services import complaint_answer, offer_make
from odr.audit.models import AuditEvent
from tests.helpers import file_complaint, pdf_upload, travel

from .test_auth import assert_problem

PARIS = ZoneInfo("Europe/Paris")


def url(name, *args):
    return reverse(f"api:{name}", args=args)


@pytest.fixture
def complaint(consumer, merchant):
    return file_complaint(consumer, merchant)


@pytest.mark.django_db
def test_list_shows_the_merchants_complaints_newest_first_with_money_in_cents(api, consumer, merchant):
    first = file_complaint(consumer, merchant, amount_cents=8990)
    second = file_complaint(consumer, merchant, amount_cents=1250)
    body = api.get(url("complaint-list")).json()
    assert [c["reference"] for c in body["results"]] == [second.reference, first.reference]
    item = body["results"][1]
    assert item["amount_cents"] == 8990 and item["currency"] == "EUR"
    assert item["state"] == "filed" and item["answer_decision"] is None
    assert datetime.fromisoformat(item["filed_at"]).tzinfo is not None
    assert item["consumer"]["email"] == consumer.email
    assert set(body) == {"next", "previous", "results"}


@pytest.mark.django_db
def test_list_paginates_with_a_cursor(api, consumer, merchant):
    made = [file_complaint(consumer, merchant) for _ in range(3)]
    page = api.get(url("complaint-list"), {"page_size": 2}).json()
    assert len(page["results"]) == 2 and page["next"]
    rest = api.get(page["next"]).json()
    seen = [c["reference"] for c in page["results"] + rest["results"]]
    assert sorted(seen) == sorted(c.reference for c in made)


@pytest.mark.django_db
def test_filters_state_created_range_and_due_before(api, consumer, merchant, agent):
    with travel(datetime(2026, 1, 10, 10, tzinfo=PARIS)):
        january = file_complaint(consumer, merchant)
    with travel(datetime(2026, 3, 10, 10, tzinfo=PARIS)):
        march = file_complaint(consumer, merchant)
        complaint_answer(complaint=march, by=agent, decision="reject", text="Non.")
        april = file_complaint(consumer, merchant)

    def refs(**params):
        return {c["reference"] for c in api.get(url("complaint-list"), params).json()["results"]}

    assert refs(state="filed") == {january.reference, april.reference}
    assert refs(state=["filed", "answered"]) == {january.reference, march.reference, april.reference}
    assert refs(created_after="2026-03-01T00:00:00+01:00") == {march.reference, april.reference}
    assert refs(created_before="2026-02-01T00:00:00+01:00") == {january.reference}
    assert refs(due_before="2026-03-01T00:00:00+01:00") == {january.reference}


@pytest.mark.django_db
def test_invalid_filter_is_a_400_with_per_field_errors(api):
    response = api.get(url("complaint-list"), {"state": "lost", "created_after": "yesterday"})
    body = assert_problem(response, 400, "validation_error")
    assert {error["field"] for error in body["errors"]} == {"state", "created_after"}


@pytest.mark.django_db
def test_detail(api, complaint):
    body = api.get(url("complaint-detail", complaint.reference)).json()
    assert body["reference"] == complaint.reference
    assert body["description"] == complaint.description
    assert body["mediation_case_reference"] is None


@pytest.mark.django_db
def test_answer_calls_the_service_and_a_second_answer_is_409(api, complaint, owner):
    response = api.post(
        url("complaint-answer", complaint.reference),
        {"decision": "offer", "text": "Nous proposons un avoir.", "amount_cents": 4500, "terms": "Avoir"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "answered" and response.json()["answer_decision"] == "offer"
    complaint.refresh_from_db()
    assert complaint.answered_by == owner
    assert Offer.objects.get(complaint=complaint).amount_cents == 4500
    assert AuditEvent.objects.filter(stream=complaint.reference, kind="complaint.answered").count() == 1
    again = api.post(
        url("complaint-answer", complaint.reference), {"decision": "reject", "text": "Non."}, format="json"
    )
    assert_problem(again, 409, "transition_refused")


@pytest.mark.django_db
def test_answer_validation_400_and_domain_refusal_422(api, complaint):
    missing = api.post(url("complaint-answer", complaint.reference), {"decision": "maybe"}, format="json")
    body = assert_problem(missing, 400, "validation_error")
    assert {e["field"] for e in body["errors"]} == {"decision", "text"}
    refused = api.post(
        url("complaint-answer", complaint.reference), {"decision": "offer", "text": "Voilà"}, format="json"
    )
    assert_problem(refused, 422, "invalid")  # an offer needs an amount or terms (the service says so)
    assert Complaint.objects.get(pk=complaint.pk).state == ComplaintState.FILED


@pytest.mark.django_db
def test_offers_make_list_respond_withdraw(api, complaint, agent, consumer):
    complaint_answer(complaint=complaint, by=agent, decision="reject", text="Non.")
    made = api.post(
        url("complaint-offers", complaint.reference),
        {"terms": "Avoir de 20 €", "amount_cents": 2000},
        format="json",
    )
    assert made.status_code == 201, made.content
    offer_id = made.json()["id"]
    assert made.json()["side"] == "merchant" and made.json()["status"] == "open"
    listed = api.get(url("complaint-offers", complaint.reference)).json()["results"]
    assert [o["id"] for o in listed] == [offer_id]

    withdrawn = api.post(url("complaint-offer-withdraw", complaint.reference, offer_id))
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"

    counter = offer_make(complaint=complaint, by=consumer, terms="Remboursement intégral", amount_cents=8990)
    own = api.post(
        url("complaint-offer-respond", complaint.reference, offer_id), {"decision": "accept"}, format="json"
    )
    assert_problem(own, 403, "forbidden")  # the merchant's own offer: the service refuses
    accepted = api.post(
        url("complaint-offer-respond", complaint.reference, counter.pk), {"decision": "accept"}, format="json"
    )
    assert accepted.status_code == 200 and accepted.json()["status"] == OfferStatus.ACCEPTED
    assert Complaint.objects.get(pk=complaint.pk).state == ComplaintState.RESOLVED


@pytest.mark.django_db
def test_offer_before_the_answer_is_409(api, complaint):
    response = api.post(url("complaint-offers", complaint.reference), {"terms": "Avoir"}, format="json")
    assert_problem(response, 409, "transition_refused")


@pytest.mark.django_db
def test_messages_post_and_list(api, complaint, owner):
    posted = api.post(
        url("complaint-messages", complaint.reference), {"body": "Bonjour Camille"}, format="json"
    )
    assert posted.status_code == 201, posted.content
    assert posted.json()["side"] == "merchant" and posted.json()["author_name"] == owner.display_name
    listed = api.get(url("complaint-messages", complaint.reference)).json()["results"]
    assert [m["body"] for m in listed] == ["Bonjour Camille"]
    assert Message.objects.get().author == owner


@pytest.mark.django_db
def test_documents_upload_list_and_download(api, complaint):
    uploaded = api.post(
        url("complaint-documents", complaint.reference), {"file": pdf_upload()}, format="multipart"
    )
    assert uploaded.status_code == 201, uploaded.content
    document = uploaded.json()
    assert document["content_type"] == "application/pdf" and len(document["sha256"]) == 64
    listed = api.get(url("complaint-documents", complaint.reference)).json()["results"]
    assert [d["id"] for d in listed] == [document["id"]]
    download = api.get(document["download_url"])
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment")
    assert download["X-Content-Type-Options"] == "nosniff"
    assert b"".join(download.streaming_content).startswith(b"%PDF-")


@pytest.mark.django_db
def test_upload_goes_through_the_same_gate(api, complaint):
    fake = SimpleUploadedFile("facture.pdf", b"MZ\x90\x00 not a pdf at all", content_type="application/pdf")
    response = api.post(url("complaint-documents", complaint.reference), {"file": fake}, format="multipart")
    body = assert_problem(response, 422, "upload_disguised")  # the upload gate's own code
    assert body["title"] == "The request was refused"


@pytest.mark.django_db
def test_upload_as_json_is_415(api, complaint):
    response = api.post(url("complaint-documents", complaint.reference), {"file": "x"}, format="json")
    assert_problem(response, 415, "unsupported_media_type")


@pytest.mark.django_db
def test_closed_complaint_refuses_messages_with_409(api, complaint, consumer):
    from complaints.services import complaint_withdraw

    complaint_withdraw(complaint=complaint, by=consumer)
    response = api.post(
        url("complaint-messages", complaint.reference), {"body": "Encore là ?"}, format="json"
    )
    assert_problem(response, 409, "transition_refused")


@pytest.mark.django_db
def test_detail_shows_the_mediation_case_once_referred(api, consumer, merchant, agent):
    from tests.helpers import referred_case

    case = referred_case(consumer, merchant, agent)
    body = api.get(url("complaint-detail", case.complaint.reference)).json()
    assert body["mediation_case_reference"] == case.reference
    assert datetime.fromisoformat(body["closed_at"]) == case.complaint.closed_at
