"""Two hosts that share only PostgreSQL, Redis and an S3 bucket (issue 15): the web side (this test
process) asks for documents; a Celery worker started as a separate program, with its own MEDIA_ROOT,
scratch directory, working directory and temp directory, renders them into the bucket; the web side
serves them from there. PostgreSQL run of .ci/run only (the worker reads the test database).
"""

import hashlib
import io
import os
import shutil
import zipfile
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from odr.documents.models import DocumentKind, DocumentStatus, GeneratedDocument
from odr.tasks_enqueue import breaker_reset
from tests.helpers import file_complaint, open_case
from tests.processes import Celery, database_url
from tests.s3 import Bucket, download, local_files, portal
from tests.test_celery_worker import broker, redis_server, wait_until  # noqa: F401 - redis_server: a fixture

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server"),
]


class OtherHost:
    """`celery -A odr worker` for the `pdf` queue, in an environment built from nothing but what a
    second machine would be given: the database, the broker, the bucket and its own local paths."""

    def __init__(self, root: Path, *, broker_url: str, bucket: Bucket):
        self.root = root
        for folder in ("cwd", "tmp", "media", "work", "keys", "home"):
            (root / folder).mkdir(parents=True)
        environment = {
            "PATH": os.environ["PATH"],
            "HOME": str(root / "home"),
            "LANG": "C.UTF-8",
            "TMPDIR": str(root / "tmp"),
            "ODR_ENV_FILE": str(root / "no-such.env"),
            "SECRET_KEY": "other-host-test-key",
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            "DATABASE_URL": database_url(),
            "REDIS_URL": broker_url,
            "MEDIA_ROOT": str(root / "media"),
            "ODR_WORK_DIR": str(root / "work"),
            "ODR_SIGNING_KEYS_DIR": str(root / "keys"),
            **bucket.environment,
        }
        self.celery = Celery(root, env=environment, cwd=root / "cwd")

    def start(self) -> None:
        self.celery.worker("worker", queues="pdf")

    def stop(self) -> None:
        self.celery.stop("worker")  # warm shutdown

    def log(self) -> str:
        return self.celery.log("worker")

    def files(self, folder: str) -> list[Path]:
        return sorted(p for p in (self.root / folder).rglob("*") if p.is_file())


@pytest.fixture
def bucket(moto_s3):
    return Bucket(moto_s3, prefix="media")


@pytest.fixture
def other_host(tmp_path, redis_server, bucket):  # noqa: F811 - the fixture imported above
    host = OtherHost(tmp_path / "worker-host", broker_url=redis_server.url, bucket=bucket)
    host.start()
    yield host
    host.celery.stop_all()


@pytest.fixture
def web_side(settings, tmp_path, redis_server, bucket):  # noqa: F811
    """This process as the web host: its own MEDIA_ROOT, scratch and keys; the same bucket and broker."""
    settings.MEDIA_ROOT = tmp_path / "web-host" / "media"
    settings.ODR_WORK_DIR = str(tmp_path / "web-host" / "work")
    settings.ODR_SIGNING_KEYS_DIR = tmp_path / "web-host" / "keys"
    settings.STORAGES = {**settings.STORAGES, "default": bucket.storage_setting()}
    breaker_reset()  # an earlier test may have left this process's publishing paused
    with broker(redis_server.url):
        yield


def _rendered(other_host, document_id: int) -> GeneratedDocument:
    finished = wait_until(
        lambda: GeneratedDocument.objects.filter(
            pk=document_id, status__in=[DocumentStatus.READY, DocumentStatus.FAILED]
        ).exists(),
        timeout=120,
    )
    assert finished, other_host.log()[-4000:]
    document = GeneratedDocument.objects.get(pk=document_id)
    assert document.status == DocumentStatus.READY, (document.error, other_host.log()[-4000:])
    return document


def test_a_worker_on_another_host_renders_what_the_web_asked_and_the_web_serves_it(
    web_side, other_host, bucket, settings, consumer, merchant, agent, mediator, compliance_officer, body
):
    # A party asks for the acknowledgement of their complaint on the web host.
    complaint = file_complaint(consumer, merchant)
    client = portal(consumer)
    client.post(
        reverse("complaints:document_generate", args=[complaint.reference]),
        {"kind": DocumentKind.COMPLAINT_ACKNOWLEDGEMENT},
    )
    requested = GeneratedDocument.objects.get(subject_reference=complaint.reference)
    # The compliance officer asks for an export of today's cases.
    case = open_case(consumer, merchant, agent, mediator)
    today = timezone.localdate().isoformat()
    portal(compliance_officer).post(
        reverse("mediation:body_document_generate", args=[body.slug]),
        {"kind": DocumentKind.CASE_EXPORT, "from": today, "to": today},
    )
    export = GeneratedDocument.objects.get(kind=DocumentKind.CASE_EXPORT)

    # The other host renders both into the bucket...
    acknowledgement = _rendered(other_host, requested.pk)
    export = _rendered(other_host, export.pk)
    stored = bucket.read(f"media/{acknowledgement.file.name}")
    assert stored.startswith(b"%PDF-") and hashlib.sha256(stored).hexdigest() == acknowledgement.sha256
    archive_bytes = bucket.read(f"media/{export.file.name}")
    assert hashlib.sha256(archive_bytes).hexdigest() == export.sha256
    with zipfile.ZipFile(io.BytesIO(archive_bytes)) as archive:
        assert f"{case.reference}/mediation-record.pdf" in archive.namelist()

    # ... and this host serves them from there, having never had them on its disk.
    response = client.get(
        reverse("complaints:document_download", args=[complaint.reference, acknowledgement.pk])
    )
    assert response.status_code == 200 and download(response) == stored
    response = portal(compliance_officer).get(reverse("mediation:document_download", args=[export.pk]))
    assert response.status_code == 200 and download(response) == archive_bytes

    # Neither host kept a file of its own: not in MEDIA_ROOT, not in the scratch directories.
    assert local_files(settings) == [] and not Path(settings.ODR_WORK_DIR).exists()
    assert other_host.files("media") == [] and other_host.files("work") == []
    other_host.stop()
    assert "succeeded" in other_host.log()  # the worker, not this process, did the work
