"""D37: a date range of a body's cases as one ZIP with a SHA-256 manifest, with visible progress."""

import hashlib
import zipfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import transaction

from odr.audit.models import AuditEvent
from odr.documents.models import DocumentKind, DocumentStatus
from odr.documents.services import document_render, document_request
from tests.helpers import open_case, referred_case, travel

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ODR_WORK_DIR = str(tmp_path / "work")
    settings.ODR_SIGNING_KEYS_DIR = tmp_path / "keys"


@pytest.fixture
def cases(consumer, merchant, agent, mediator):
    made = []
    for day in (3, 10, 20):
        with travel(datetime(2026, 3, day, 10, 0, tzinfo=PARIS)):
            made.append(open_case(consumer, merchant, agent, mediator))
    with travel(datetime(2026, 5, 2, 10, 0, tzinfo=PARIS)):  # outside the range
        referred_case(consumer, merchant, agent)
    return made


def work_dir(settings) -> Path:
    return Path(settings.ODR_WORK_DIR)


def media_files(settings) -> list[Path]:
    return sorted(p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file())


def test_an_export_failing_halfway_fails_visibly_and_leaves_no_scratch_file(
    cases, body, compliance_officer, settings, monkeypatch
):
    from mediation import export

    rendered = []

    def render_then_break(spec, *, language):
        if len(rendered) == 3:  # the second case's record
            raise RuntimeError("renderer crashed")
        rendered.append(spec)
        return original(spec, language=language)

    original = export.render_spec
    monkeypatch.setattr(export, "render_spec", render_then_break)
    with transaction.atomic():
        document = document_request(
            kind=DocumentKind.CASE_EXPORT,
            subject_reference=f"B-{body.slug}",
            by=compliance_officer,
            parameters={"body": body.slug, "from": "2026-03-01", "to": "2026-03-31"},
        )

    with pytest.raises(RuntimeError, match="renderer crashed"):
        document_render(document.pk)

    document.refresh_from_db()
    assert (document.status, document.error) == (DocumentStatus.FAILED, "renderer crashed")
    assert list(work_dir(settings).iterdir()) == []  # the half-written ZIP is gone
    assert media_files(settings) == []


def check_archive(path, expected_cases):
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        for case in expected_cases:
            for part in ("mediation-record.pdf", "audit-trail.pdf", "events.json"):
                assert f"{case.reference}/{part}" in names
        manifest = archive.read("MANIFEST.sha256").decode().splitlines()
        assert len(manifest) == 3 * len(expected_cases) + 1  # + export.json
        for line in manifest:
            digest, name = line.split("  ", 1)
            assert hashlib.sha256(archive.read(name)).hexdigest() == digest, name
        assert archive.read(f"{expected_cases[0].reference}/mediation-record.pdf").startswith(b"%PDF-")


def test_d37_export_contains_each_case_with_a_verified_manifest(cases, body, compliance_officer, settings):
    progress = []
    with transaction.atomic():
        document = document_request(
            kind=DocumentKind.CASE_EXPORT,
            subject_reference=f"B-{body.slug}",
            by=compliance_officer,
            parameters={"body": body.slug, "from": "2026-03-01", "to": "2026-03-31"},
        )
    from odr.documents import services

    original = services._producers[DocumentKind.CASE_EXPORT]

    def watching(doc, report):
        return original(doc, lambda percent: (progress.append(percent), report(percent)))

    services._producers[DocumentKind.CASE_EXPORT] = watching
    try:
        document = document_render(document.pk)
    finally:
        services._producers[DocumentKind.CASE_EXPORT] = original
    assert document.status == DocumentStatus.READY
    assert progress == [33, 66, 100]
    check_archive(document.file.path, cases)
    with open(document.file.path, "rb") as stream:
        assert document.sha256 == hashlib.sha256(stream.read()).hexdigest()
    # The ZIP was written in the scratch directory, then moved into storage: nothing else is left.
    assert list(work_dir(settings).iterdir()) == []
    assert media_files(settings) == [Path(document.file.path)]
    # D34: the export is in each exported case's trail, and only theirs.
    exported = AuditEvent.objects.filter(kind="case.exported")
    assert sorted(exported.values_list("stream", flat=True)) == sorted(c.reference for c in cases)
    assert {e.actor for e in exported} == {compliance_officer}


def test_d37_export_command_writes_the_same_archive(cases, body, tmp_path, capsys, settings):
    out = tmp_path / "export.zip"
    call_command(
        "export_cases", "--body", body.slug, "--from", "2026-03-01", "--to", "2026-03-31", "--out", str(out)
    )
    printed = capsys.readouterr().out
    assert "3 case(s)" in printed and hashlib.sha256(out.read_bytes()).hexdigest() in printed
    check_archive(out, cases)
    assert list(work_dir(settings).iterdir()) == []


def test_export_command_refuses_an_unknown_body(db, tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No mediation body"):
        call_command(
            "export_cases",
            "--body",
            "nope",
            "--from",
            "2026-01-01",
            "--to",
            "2026-12-31",
            "--out",
            str(tmp_path / "x.zip"),
        )
