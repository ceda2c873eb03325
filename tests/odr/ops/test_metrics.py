"""/metrics (issue 15, Done when): a due deadline, a dead letter and a failed document, driven through the
real code paths (the sweep task, the relay with an SMTP server that refuses, a document whose builder
raises), read back from a scrape parsed with prometheus_client's parser."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import OperationalError
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

from odr.deadlines.tasks import sweep
from odr.documents import services as documents
from odr.documents.models import DocumentKind, DocumentStatus
from odr.notifications.models import Channel, OutboxMessage, OutboxStatus
from odr.notifications.relay import outbox_acknowledge_dead, outbox_deliver
from tests.helpers import file_complaint, query_plans, travel
from tests.processes import free_port

TOKEN = "scrape-token-for-tests"
FILED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # the merchant's answer is due on 1 April
AFTER = datetime(2026, 4, 2, 0, 5, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _token(settings):
    settings.ODR_METRICS_TOKEN = TOKEN
    settings.DEBUG = False


def scrape(client) -> dict[tuple[str, tuple], float]:
    response = client.get(reverse("metrics"), HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def test_metrics_read_back_a_due_deadline_a_dead_letter_and_a_failed_document(
    client, db, consumer, merchant, agent, settings, monkeypatch
):
    with travel(FILED):
        complaint = file_complaint(consumer, merchant)

    # The e-mails of the filing: the SMTP server refuses (nothing listens), one attempt allowed.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 1
    settings.ODR_OUTBOX_MAX_ATTEMPTS = 1
    emails = list(OutboxMessage.objects.filter(channel=Channel.EMAIL).values_list("pk", flat=True))
    assert emails
    with travel(FILED + timedelta(minutes=1)):
        assert {outbox_deliver(pk).status for pk in emails} == {"dead"}

    # A document whose builder raises: the render fails and says so.
    def broken_builder(document):
        raise RuntimeError("template missing")

    monkeypatch.setitem(documents._builders, DocumentKind.MEDIATOR_NOTICE, broken_builder)
    with travel(FILED + timedelta(minutes=2)):
        document = documents.document_request(
            kind=DocumentKind.MEDIATOR_NOTICE, subject_reference=complaint.reference
        )
        with pytest.raises(RuntimeError):
            documents.document_render(document.pk)
    document.refresh_from_db()
    assert document.status == DocumentStatus.FAILED

    # A webhook delivery in retry.
    OutboxMessage.objects.create(
        channel=Channel.WEBHOOK,
        template="complaint.filed",
        idempotency_key="hook-1",
        to_address="https://merchant.example/hooks",
        created_at=FILED,
        attempts=2,
        next_attempt_at=AFTER + timedelta(minutes=5),
    )

    with travel(AFTER):
        before = scrape(client)
        sweep.apply()  # the beat's task: fires the lapsed answer period (D3/D4)
        after = scrape(client)

    # Before the sweep: the answer period is due and overdue (a duty), no sweep ever ran.
    assert value(before, "odr_deadlines_due", kind="merchant_response") == 1
    assert value(before, "odr_deadlines_overdue") == 1
    assert value(before, "odr_sweep_lag_seconds") == float("inf")
    assert value(before, "odr_sweep_last_run_timestamp_seconds") == 0
    # After it: fired once, the duty breached, the lag is the time since the run (0: the clock is still).
    assert value(after, "odr_deadlines_due", kind="merchant_response") == 0
    assert value(after, "odr_deadlines_overdue") == 0
    assert value(after, "odr_deadlines_breached", kind="merchant_response") == 1
    assert value(after, "odr_sweep_fired_total") == 1
    assert value(after, "odr_sweep_runs_total") == 1
    assert value(after, "odr_sweep_failed_total") == 0
    assert value(after, "odr_sweep_lag_seconds") == 0
    assert value(after, "odr_sweep_last_run_timestamp_seconds") == AFTER.timestamp()

    # The dead letters, by channel (the sweep's D4 e-mails are pending, not dead).
    assert value(after, "odr_outbox_dead", channel="email") == len(emails)
    assert value(after, "odr_outbox_dead", channel="webhook") == 0
    assert (
        value(after, "odr_outbox_pending", channel="email")
        == OutboxMessage.objects.filter(channel=Channel.EMAIL, status=OutboxStatus.PENDING).count()
    )
    assert value(after, "odr_outbox_pending", channel="webhook") == 1
    assert value(after, "odr_outbox_retrying", channel="webhook") == 1
    assert value(after, "odr_webhooks_failing", state="retry") == 1
    assert value(after, "odr_webhooks_failing", state="dead") == 0
    assert value(after, "odr_documents_failed") == 1

    # Dead letters someone has dealt with stay on record and leave the gauge.
    with travel(AFTER):
        assert outbox_acknowledge_dead(OutboxMessage.objects.filter(pk__in=emails)) == len(emails)
        assert value(scrape(client), "odr_outbox_dead", channel="email") == 0


def test_request_latency_is_exported(client, db):
    client.get(reverse("healthz"))
    samples = scrape(client)
    names = {name for name, _ in samples}
    assert "django_http_requests_latency_seconds_by_view_method_count" in names
    assert (
        value(
            samples,
            "django_http_requests_total_by_view_transport_method_total",
            view="healthz",
            transport="http",
            method="GET",
        )
        >= 1
    )


@pytest.mark.parametrize("rows", [1, 50])
def test_a_scrape_costs_the_same_queries_whatever_the_volume(
    client, db, consumer, rows, django_assert_max_num_queries
):
    for n in range(rows):
        for status in (OutboxStatus.PENDING, OutboxStatus.DEAD, OutboxStatus.SENT):
            OutboxMessage.objects.create(
                channel=Channel.EMAIL,
                template="complaint_filed_d1",
                idempotency_key=f"{status}-{n}",
                to_address="someone@example.org",
                created_at=FILED,
                status=status,
            )
    # heartbeat, due deadlines, due reminders, breaches, pending outbox, dead letters, failed documents
    with django_assert_max_num_queries(7):
        samples = scrape(client)
    assert value(samples, "odr_outbox_dead", channel="email") == rows


def test_metrics_are_not_public(client, db, settings):
    url = reverse("metrics")
    assert client.get(url).status_code == 404
    assert client.get(url, HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    settings.ODR_METRICS_TOKEN = ""
    assert client.get(url).status_code == 404  # no token configured: not served in production
    settings.DEBUG = True
    assert client.get(url).status_code == 200  # the demo


def test_a_database_failure_gives_up_0_not_an_error(client, db, monkeypatch):
    from odr.ops import metrics

    assert value(scrape(client), "odr_domain_metrics_up") == 1

    def unreachable(now):
        raise OperationalError("connection refused")

    monkeypatch.setattr(metrics, "sweep_status", unreachable)
    samples = scrape(client)
    assert value(samples, "odr_domain_metrics_up") == 0
    assert not any(name.startswith("odr_sweep") for name, _ in samples)


@pytest.mark.postgres
def test_every_query_of_a_scrape_and_a_probe_has_an_index(client, db, consumer):
    """No sequential scan, even where the planner would pick one on small tables: with seq scans
    disabled, a query that still plans one has no index to serve it (at 200,000 open cases, 30 events
    each, it would read the whole table on every scrape)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from odr.ops.health import run_checks

    with CaptureQueriesContext(connection) as captured:
        scrape(client)
        run_checks(["sweep", "outbox"])
    statements = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("SELECT")]
    assert len(statements) >= 10
    for sql, plan in query_plans(statements):
        assert "Seq Scan" not in plan, f"{sql}\n{plan}"
