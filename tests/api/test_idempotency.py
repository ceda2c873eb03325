"""Idempotency-Key: same key and body → the same answer, no second effect; other body → 422."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from complaints.models import Evidence, Message
from odr import clock
from odr.api.models import IdempotencyRecord
from odr.audit.models import AuditEvent
from tests.helpers import file_complaint, pdf_bytes

from .conftest import client_for
from .test_auth import assert_problem


@pytest.fixture
def complaint(consumer, merchant):
    return file_complaint(consumer, merchant)


def answer(api, complaint, key, text="Nous refusons."):
    return api.post(
        reverse("api:complaint-answer", args=[complaint.reference]),
        {"decision": "reject", "text": text},
        format="json",
        headers={"Idempotency-Key": key},
    )


@pytest.mark.django_db
def test_same_key_and_body_replays_the_answer_without_a_second_effect(api, complaint):
    first = answer(api, complaint, "k-1")
    events = AuditEvent.objects.filter(stream=complaint.reference).count()
    second = answer(api, complaint, "k-1")
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
    assert AuditEvent.objects.filter(stream=complaint.reference).count() == events


@pytest.mark.django_db
def test_same_key_other_body_is_422(api, complaint):
    answer(api, complaint, "k-2")
    assert_problem(answer(api, complaint, "k-2", text="Autre texte"), 422, "idempotency_key_reused")


@pytest.mark.django_db
def test_same_key_other_path_is_422(api, complaint, consumer, merchant):
    other = file_complaint(consumer, merchant)
    answer(api, complaint, "k-3")
    assert_problem(answer(api, other, "k-3"), 422, "idempotency_key_reused")


@pytest.mark.django_db
def test_without_key_a_retry_is_a_new_request(api, complaint):
    url = reverse("api:complaint-messages", args=[complaint.reference])
    api.post(url, {"body": "Bonjour"}, format="json")
    api.post(url, {"body": "Bonjour"}, format="json")
    assert Message.objects.count() == 2


@pytest.mark.django_db
def test_message_posted_once_for_a_retried_key(api, complaint):
    url = reverse("api:complaint-messages", args=[complaint.reference])
    for _ in range(3):
        response = api.post(url, {"body": "Bonjour"}, format="json", headers={"Idempotency-Key": "m-1"})
        assert response.status_code == 201
    assert Message.objects.count() == 1


@pytest.mark.django_db
def test_refusals_are_replayed_too(api, complaint, agent):
    from complaints.services import complaint_answer

    complaint_answer(complaint=complaint, by=agent, decision="reject", text="Déjà.")
    first = answer(api, complaint, "k-4")
    assert_problem(first, 409, "transition_refused")
    replay = answer(api, complaint, "k-4")
    assert_problem(replay, 409, "transition_refused")
    assert replay["Idempotent-Replayed"] == "true"


@pytest.mark.django_db
def test_multipart_upload_is_idempotent(api, complaint):
    url = reverse("api:complaint-documents", args=[complaint.reference])
    content = pdf_bytes()  # the same bytes twice (a PDF's ID may change with the second)

    def upload(data=content):
        return SimpleUploadedFile("facture.pdf", data, content_type="application/pdf")

    first = api.post(url, {"file": upload()}, format="multipart", headers={"Idempotency-Key": "u-1"})
    second = api.post(url, {"file": upload()}, format="multipart", headers={"Idempotency-Key": "u-1"})
    assert second.status_code == 201, second.content
    assert first.status_code == second.status_code == 201 and first.json() == second.json()
    assert Evidence.objects.count() == 1
    other = api.post(
        url, {"file": upload(pdf_bytes("Autre"))}, format="multipart", headers={"Idempotency-Key": "u-1"}
    )
    assert_problem(other, 422, "idempotency_key_reused")


@pytest.mark.django_db
def test_keys_are_per_api_key(api, complaint, merchant, owner, make_key):
    answer(api, complaint, "shared")
    second_key = client_for(make_key(merchant, owner, name="Other")[1])
    assert_problem(answer(second_key, complaint, "shared"), 409, "transition_refused")  # ran, not replayed


@pytest.mark.django_db
def test_in_progress_same_request_is_409_and_expired_keys_are_forgotten(api, complaint, write_key):
    from rest_framework.parsers import JSONParser
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from odr.api.idempotency import _fingerprint

    path = reverse("api:complaint-answer", args=[complaint.reference])
    raw = APIRequestFactory().post(path, {"decision": "reject", "text": "Non."}, format="json")
    fingerprint = _fingerprint(Request(raw, parsers=[JSONParser()]))
    record = IdempotencyRecord.objects.create(
        api_key=write_key[0],
        key="busy",
        method="POST",
        path=path,
        request_sha256=fingerprint,
        created_at=clock.now(),
    )
    busy = api.post(
        path, {"decision": "reject", "text": "Non."}, format="json", headers={"Idempotency-Key": "busy"}
    )
    assert_problem(busy, 409, "idempotency_in_progress")
    IdempotencyRecord.objects.filter(pk=record.pk).update(created_at=clock.now() - timedelta(days=2))
    fresh = api.post(
        path, {"decision": "reject", "text": "Non."}, format="json", headers={"Idempotency-Key": "busy"}
    )
    assert fresh.status_code == 200
