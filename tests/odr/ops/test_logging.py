"""JSON logs (issue 15): a real flow (a consumer files a complaint through the views, a case page that
does not exist, the worker's tasks deliver the e-mails and sweep) logged with LOG_FORMAT=json: every
line is JSON, carries its request id or task id, the case reference where there is one, and never the
consumer's e-mail address or name."""

import io
import json
import logging
import logging.config
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pikepdf  # noqa: F401  (its import logs a start-up notice that belongs to no request or task)
import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from complaints.models import Complaint
from odr.deadlines.models import DeadlineKind
from odr.deadlines.services import deadline_open
from odr.deadlines.sweep import sweep_deadlines
from odr.deadlines.tasks import sweep
from odr.notifications.models import Channel, OutboxMessage, OutboxStatus
from odr.notifications.relay import outbox_deliver
from odr.notifications.tasks import deliver_outbox_message
from odr.ops.logcontext import case_reference_var, request_id_from
from odr.ops.logformat import logging_config
from tests.helpers import travel
from tests.processes import free_port
from tests.test_broker_outage import DETAILS


@pytest.fixture
def json_log(settings):
    """The production configuration (LOG_FORMAT=json) at DEBUG level, its handler writing to a buffer."""
    buffer = io.StringIO()
    config = logging_config(log_format="json", level="DEBUG")
    config["handlers"]["console"]["stream"] = buffer
    logging.config.dictConfig(config)
    yield buffer
    logging.config.dictConfig(settings.LOGGING)


def lines(buffer) -> list[dict]:
    text = buffer.getvalue()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]  # every line parses, or the test fails


def step(name: str) -> str:
    return reverse("complaints:file_step", args=[name])


def test_a_filing_flow_logs_json_with_ids_and_no_personal_data(consumer, merchant, agent, settings, json_log):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    client = Client()
    client.force_login(consumer)
    assert client.post(step("merchant"), {"merchant": merchant.pk}).status_code == 302
    assert client.post(step("details"), DETAILS).status_code == 302
    response = client.post(step("review"), {"consent_processing": "on", "consent_sharing": "on"})
    assert response.status_code == 302
    complaint = Complaint.objects.get(consumer=consumer)
    # A case page that does not exist: Django logs the 404, with this request's id and the reference.
    missing = client.get(
        reverse("complaints:detail", args=["C-2026-999999"]), HTTP_X_REQUEST_ID="proxy-id-12345"
    )
    assert missing.status_code == 404
    assert missing["X-Request-ID"] == "proxy-id-12345"
    # The worker's side: deliver the e-mails (addressed to the consumer by name), then a sweep.
    for pk in OutboxMessage.objects.filter(case_reference=complaint.reference).values_list("pk", flat=True):
        deliver_outbox_message.apply(args=[pk])
    assert OutboxMessage.objects.filter(status=OutboxStatus.SENT).exists()
    assert any(consumer.email in message.to for message in mail.outbox)
    sweep.apply()

    records = lines(json_log)
    assert records
    for record in records:
        assert {"time", "level", "logger", "message"} <= set(record)
        assert record["request_id"] or record["task_id"], record
    not_found = [r for r in records if r["logger"] == "django.request" and r.get("status_code") == 404]
    assert len(not_found) == 1
    assert not_found[0]["request_id"] == "proxy-id-12345"
    assert not_found[0]["case_reference"] == "C-2026-999999"
    tasks = {r["task_name"] for r in records if r["task_id"]}
    assert "odr.deadlines.sweep" in tasks
    text = json_log.getvalue()
    for personal in (consumer.email, consumer.first_name, consumer.last_name, agent.email, agent.last_name):
        assert personal and personal not in text


def test_the_response_carries_a_request_id(client, db):
    first = client.get(reverse("healthz"))["X-Request-ID"]
    second = client.get(reverse("healthz"))["X-Request-ID"]
    assert len(first) == 32 and first != second
    # An incoming id is kept only if it looks like one: no log injection, no data in it.
    assert (
        client.get(reverse("healthz"), HTTP_X_REQUEST_ID="abc-123_XYZ.9")["X-Request-ID"] == "abc-123_XYZ.9"
    )
    assert request_id_from('x"\n{"level": "ERROR"}') != 'x"\n{"level": "ERROR"}'
    assert request_id_from("jean.dupont@example.org") != "jean.dupont@example.org"


def test_anything_email_shaped_is_masked(json_log):
    log = logging.getLogger("tests.ops")
    log.warning("delivery to %s failed", "jean.dupont@example.org")
    log.info("user jean.dupont+odr@mail.example.fr", extra={"recipient": "marie@example.com"})
    try:
        raise ValueError("bounced: marie@example.com")
    except ValueError:
        log.exception("send failed")
    text = json_log.getvalue()
    assert "@example" not in text
    records = lines(json_log)
    assert records[0]["message"] == "delivery to [email] failed"
    assert records[1]["recipient"] == "[email]"
    assert "ValueError: bounced: [email]" in records[2]["exc_info"]


def test_a_worker_names_the_case_of_each_item_it_handles(db, consumer, merchant, settings, json_log):
    """The sweep and the relay handle many cases in one task: each line names the case it is about."""
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    with travel(now - timedelta(minutes=10)):
        for reference, subject in (("M-2026-000001", consumer), ("M-2026-000002", merchant)):
            deadline_open(
                subject=subject,  # not a proposal: its due effect fails, and the sweep logs that
                kind=DeadlineKind.PROPOSAL_RESPONSE,
                due_at=now - timedelta(minutes=5),
                case_reference=reference,
            )
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nobody listens: a retry
    message = OutboxMessage.objects.create(
        channel=Channel.EMAIL,
        template="complaint_filed_d1",
        idempotency_key="case-context",
        case_reference="C-2026-000007",
        to_address="someone@example.org",
        created_at=now,
    )
    with travel(now):
        sweep_deadlines()
        assert outbox_deliver(message.pk).status == "retry"
    records = lines(json_log)
    failed = {r["message"]: r["case_reference"] for r in records if r["message"].startswith("deadline ")}
    assert sorted(failed.values()) == ["M-2026-000001", "M-2026-000002"], records
    retry = [r for r in records if r["message"].startswith(f"outbox message {message.pk} failed")]
    assert [r["case_reference"] for r in retry] == ["C-2026-000007"]
    assert case_reference_var.get() is None  # the context does not leak past the item


def test_masking_keeps_a_record_whose_arguments_are_not_strings(json_log, capsys):
    log = logging.getLogger("tests.ops")
    log.info("took %.1f s for %s", Decimal("2.50"), "marie@example.com")
    log.info("count %d", 3)
    assert "Logging error" not in capsys.readouterr().err
    assert [r["message"] for r in lines(json_log)] == ["took 2.5 s for [email]", "count 3"]


def test_a_failed_render_names_the_case_of_its_document(db, monkeypatch, json_log):
    """The pdf worker renders documents of many cases: the failure's lines name the document's case."""
    from odr.documents import services as documents
    from odr.documents.models import DocumentKind, DocumentStatus

    def broken_builder(document):
        raise RuntimeError("template missing")

    monkeypatch.setitem(documents._builders, DocumentKind.MEDIATOR_NOTICE, broken_builder)
    document = documents.document_request(
        kind=DocumentKind.MEDIATOR_NOTICE, subject_reference="C-2026-000042"
    )
    with pytest.raises(RuntimeError):
        documents.document_render(document.pk)
    document.refresh_from_db()
    assert document.status == DocumentStatus.FAILED
    failed = [r for r in lines(json_log) if r["message"] == f"document {document.pk} failed"]
    assert [r["case_reference"] for r in failed] == ["C-2026-000042"]
    assert "RuntimeError: template missing" in failed[0]["exc_info"]
    assert case_reference_var.get() is None
