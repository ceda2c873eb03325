"""Uploads and generated documents on S3-compatible storage (issue 15): against a real S3 API server
(moto's server mode, started by the tests, tests/s3.py), through the real views. Nothing may land
under MEDIA_ROOT; every file is private and downloaded only through the permission-checked views,
streamed from the bucket.
"""

import contextlib
import hashlib
import io
import tracemalloc
import zipfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import environ
import pytest
from botocore.response import StreamingBody
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import reverse

from complaints.evidence import evidence_add
from complaints.models import Evidence
from odr.accounts.models import Role
from odr.documents.models import DocumentKind, DocumentStatus, GeneratedDocument
from odr.documents.services import document_render, document_request
from odr.documents.storage import open_for_download, storage_from_env
from tests.factories import MembershipFactory
from tests.helpers import file_complaint, open_case, pdf_bytes, travel
from tests.s3 import download, local_files, portal

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture(autouse=True)
def _keys(settings, tmp_path):
    settings.ODR_SIGNING_KEYS_DIR = tmp_path / "keys"
    settings.ODR_WORK_DIR = str(tmp_path / "work")


# --- Settings ------------------------------------------------------------------------------------------


def test_without_a_bucket_files_stay_on_the_local_disk(monkeypatch):
    monkeypatch.delenv("ODR_S3_BUCKET", raising=False)
    assert storage_from_env(environ.Env()) == {"BACKEND": "django.core.files.storage.FileSystemStorage"}


def test_a_bucket_is_private_never_overwritten_and_path_style_on_request(monkeypatch):
    monkeypatch.setenv("ODR_S3_BUCKET", "odr-files")
    monkeypatch.setenv("ODR_S3_ENDPOINT_URL", "http://minio.internal:9000")
    monkeypatch.setenv("ODR_S3_PATH_STYLE", "true")
    monkeypatch.setenv("ODR_S3_PREFIX", "/prod/")
    monkeypatch.delenv("ODR_S3_REGION", raising=False)
    setting = storage_from_env(environ.Env())
    assert setting["BACKEND"] == "odr.documents.s3.PrivateS3Storage"
    assert setting["OPTIONS"] == {
        "bucket_name": "odr-files",
        "location": "prod",
        "endpoint_url": "http://minio.internal:9000",
        "region_name": None,
        "addressing_style": "path",
        "default_acl": None,
        "file_overwrite": False,
        "max_memory_size": 2 * 1024 * 1024,
    }
    monkeypatch.delenv("ODR_S3_PATH_STYLE")
    assert storage_from_env(environ.Env())["OPTIONS"]["addressing_style"] is None  # AWS: virtual hosts


def test_stored_files_have_no_url_to_hand_out(s3_bucket, consumer, merchant):
    complaint = file_complaint(consumer, merchant)
    evidence = evidence_add(complaint=complaint, by=consumer, file=ContentFile(b"Note", name="note.txt"))
    with pytest.raises(NotImplementedError):
        evidence.file.url  # noqa: B018 - a presigned URL would bypass the views' checks


# --- Evidence ------------------------------------------------------------------------------------------


def test_evidence_uploaded_through_the_view_is_in_the_bucket_and_only_the_parties_download_it(
    s3_bucket, settings, consumer, merchant, agent, other_consumer, other_agent
):
    complaint = file_complaint(consumer, merchant)
    content = pdf_bytes("Bon de livraison Colis Express 2026-0220")

    added = portal(agent).post(
        reverse("complaints:evidence_add", args=[complaint.reference]),
        {"file": SimpleUploadedFile("bon-de-livraison.pdf", content)},
    )

    assert added.status_code == 302
    [evidence] = Evidence.objects.filter(complaint=complaint)
    [key] = s3_bucket.keys()
    assert key == f"media/{evidence.file.name}" and key.startswith("media/evidence/")
    assert s3_bucket.read(key) == content
    assert local_files(settings) == []
    # Private: no grant beyond the owner's (no public-read ACL was sent).
    grants = s3_bucket.client.get_object_acl(Bucket=s3_bucket.name, Key=key)["Grants"]
    assert [g["Permission"] for g in grants] == ["FULL_CONTROL"]
    assert all(g["Grantee"]["Type"] == "CanonicalUser" for g in grants)

    url = reverse("complaints:evidence_download", args=[complaint.reference, evidence.pk])
    for party in (consumer, agent):
        response = portal(party).get(url)
        assert response.status_code == 200
        assert response["Content-Length"] == str(len(content))
        assert response["Content-Disposition"].startswith("attachment")
        assert download(response) == content
    for stranger in (other_consumer, other_agent):
        assert portal(stranger).get(url).status_code == 404
    with contextlib.closing(open_for_download(evidence.file)) as stream:
        assert isinstance(stream, StreamingBody)  # read from the bucket as it arrives, not downloaded first


def test_removing_a_draft_file_deletes_its_object_after_commit(
    s3_bucket, settings, consumer, merchant, django_capture_on_commit_callbacks
):
    client = portal(consumer)
    step = lambda name: reverse("complaints:file_step", args=[name])  # noqa: E731
    client.post(step("merchant"), {"merchant": merchant.pk})
    content = pdf_bytes("Facture")
    client.post(step("evidence"), {"file": SimpleUploadedFile("facture.pdf", content)})
    [evidence] = Evidence.objects.filter(draft__consumer=consumer)
    [key] = s3_bucket.keys()
    assert s3_bucket.read(key) == content

    remove = reverse("complaints:draft_evidence_remove", args=[evidence.pk])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert client.post(remove).status_code == 302
    assert not Evidence.objects.filter(pk=evidence.pk).exists()
    assert s3_bucket.keys() == [key]  # the row's deletion has not committed yet: the object stays
    for callback in callbacks:
        callback()
    assert s3_bucket.keys() == []
    assert local_files(settings) == []


def test_a_large_file_is_streamed_from_the_bucket_not_read_into_memory(s3_bucket, consumer, merchant):
    complaint = file_complaint(consumer, merchant)
    content = "Relevé des appels au service client.\n".encode() * (8 * 1024 * 1024 // 38)  # ~8 MB
    evidence = evidence_add(complaint=complaint, by=consumer, file=ContentFile(content, name="appels.txt"))
    client = portal(consumer)
    url = reverse("complaints:evidence_download", args=[complaint.reference, evidence.pk])
    download(client.get(url))  # warm up: boto3's client and service model, the session
    digest = hashlib.sha256()

    tracemalloc.start()
    try:
        response = client.get(url)
        for chunk in response.streaming_content:
            digest.update(chunk)
        response.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert digest.hexdigest() == evidence.sha256 == hashlib.sha256(content).hexdigest()
    assert peak < 1024 * 1024, f"peak {peak} bytes for a {len(content)}-byte file"


# --- Generated documents -------------------------------------------------------------------------------


def test_a_generated_pdf_is_stored_in_the_bucket_and_downloaded_by_the_party(
    s3_bucket, settings, consumer, merchant, other_consumer
):
    complaint = file_complaint(consumer, merchant)
    client = portal(consumer)
    client.post(
        reverse("complaints:document_generate", args=[complaint.reference]),
        {"kind": DocumentKind.COMPLAINT_ACKNOWLEDGEMENT},
    )
    document = GeneratedDocument.objects.get(subject_reference=complaint.reference)

    document = document_render(document.pk)  # what the `pdf` worker does

    assert document.status == DocumentStatus.READY
    [key] = s3_bucket.keys()
    assert key == f"media/{document.file.name}" and key.endswith(".pdf")
    stored = s3_bucket.read(key)
    assert stored.startswith(b"%PDF-") and hashlib.sha256(stored).hexdigest() == document.sha256
    assert document.size == len(stored)
    url = reverse("complaints:document_download", args=[complaint.reference, document.pk])
    response = client.get(url)
    assert response.status_code == 200 and download(response) == stored
    assert portal(other_consumer).get(url).status_code == 404
    assert local_files(settings) == []


@pytest.fixture
def cases(consumer, merchant, agent, mediator):
    made = []
    for day in (3, 10):
        with travel(datetime(2026, 3, day, 10, 0, tzinfo=PARIS)):
            made.append(open_case(consumer, merchant, agent, mediator))
    return made


def _export(body, officer) -> GeneratedDocument:
    with transaction.atomic():
        return document_request(
            kind=DocumentKind.CASE_EXPORT,
            subject_reference=f"B-{body.slug}",
            by=officer,
            parameters={"body": body.slug, "from": "2026-03-01", "to": "2026-03-31"},
        )


def test_the_case_export_is_produced_into_the_bucket_and_its_scratch_file_removed(
    s3_bucket, settings, cases, body, other_body, compliance_officer
):
    document = document_render(_export(body, compliance_officer).pk)

    assert document.status == DocumentStatus.READY
    [key] = s3_bucket.keys()
    assert key.endswith(".zip")
    stored = s3_bucket.read(key)
    assert hashlib.sha256(stored).hexdigest() == document.sha256 and document.size == len(stored)
    with zipfile.ZipFile(io.BytesIO(stored)) as archive:
        assert {f"{case.reference}/mediation-record.pdf" for case in cases} <= set(archive.namelist())
    assert list(Path(settings.ODR_WORK_DIR).iterdir()) == []  # the scratch ZIP is gone
    assert local_files(settings) == []

    url = reverse("mediation:document_download", args=[document.pk])
    response = portal(compliance_officer).get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip" and download(response) == stored
    elsewhere = MembershipFactory(role=Role.COMPLIANCE_OFFICER, mediation_body=other_body, merchant=None).user
    assert portal(elsewhere).get(url).status_code == 404


def test_an_export_the_bucket_refuses_fails_visibly_and_leaves_no_scratch_file(
    s3_bucket, settings, cases, body, compliance_officer
):
    document = _export(body, compliance_officer)
    s3_bucket.client.delete_bucket(Bucket=s3_bucket.name)  # the upload will answer NoSuchBucket

    with pytest.raises(Exception, match="NoSuchBucket"):
        document_render(document.pk)

    document.refresh_from_db()
    assert document.status == DocumentStatus.FAILED and "NoSuchBucket" in document.error
    assert list(Path(settings.ODR_WORK_DIR).iterdir()) == []
    assert local_files(settings) == []


@pytest.mark.parametrize("kind", [DocumentKind.COMPLAINT_ACKNOWLEDGEMENT, DocumentKind.CASE_EXPORT])
def test_a_document_whose_recording_fails_leaves_no_object_behind(
    s3_bucket, settings, monkeypatch, kind, cases, body, compliance_officer
):
    from odr.documents import services

    def fail(document, stream):
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(services, "_audit_fingerprint", fail)  # after the file is in the bucket
    if kind == DocumentKind.CASE_EXPORT:
        document = _export(body, compliance_officer)
    else:
        with transaction.atomic():
            document = document_request(kind=kind, subject_reference=cases[0].complaint.reference)

    with pytest.raises(RuntimeError, match="audit store unavailable"):
        document_render(document.pk)

    document.refresh_from_db()
    assert (document.status, document.file.name) == (DocumentStatus.FAILED, "")
    assert s3_bucket.keys() == []
    assert list(Path(settings.ODR_WORK_DIR).glob("*")) == []
