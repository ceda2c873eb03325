"""/metrics in Prometheus' text format: request metrics of this host's web processes (django-prometheus,
multiprocess mode under gunicorn), and the legal machinery's figures, computed at scrape time from the
database by DomainCollector, so that every web process on every host reports the same truth.

Not public: a scrape needs `Authorization: Bearer <ODR_METRICS_TOKEN>`. Without a token configured the
endpoint answers only when DEBUG is on (the demo), and 404 otherwise, as if it did not exist.
"""

import hmac
import logging
import os

import prometheus_client
from django.conf import settings
from django.http import HttpResponse, HttpResponseNotFound
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from odr import clock
from odr.deadlines.models import DeadlineKind
from odr.notifications.models import Channel

from .status import breached_by_kind, documents_failed, outbox_status, sweep_status

log = logging.getLogger(__name__)


class DomainCollector:
    """The platform's state from the database: seven queries per scrape, whatever the volume (each
    through a partial index: what is due, pending, dead, failed or breached; never all rows)."""

    def collect(self):
        # All figures first, then yielded: a database that fails mid-scrape gives `up 0` and the
        # process's request metrics, not a 500 and not half the figures.
        try:
            families = list(self._families())
        except Exception as exc:
            log.warning("domain metrics failed: %s", type(exc).__name__)
            families = []
        yield GaugeMetricFamily(
            "odr_domain_metrics_up",
            "1 when the platform's figures below were read from the database, 0 when that failed.",
            value=1 if families else 0,
        )
        yield from families

    def _families(self):
        now = clock.now()
        sweep = sweep_status(now)
        heartbeat = sweep.heartbeat
        lag = sweep.lag_seconds(now)

        # Never ran: the lag is "as old as can be" rather than absent, so that an alert on it fires.
        yield GaugeMetricFamily(
            "odr_sweep_lag_seconds",
            "How far behind the deadline sweep is: the oldest due item's wait or the time since the "
            "last run finished, whichever is larger (+Inf when no run ever finished).",
            value=float("inf") if lag is None else lag,
        )
        yield GaugeMetricFamily(
            "odr_sweep_last_run_timestamp_seconds",
            "When the last sweep run finished (Unix time; 0 when none did).",
            value=heartbeat.finished_at.timestamp() if heartbeat else 0.0,
        )
        for name, attribute, documentation in (
            ("odr_sweep_runs", "runs", "Sweep runs finished."),
            ("odr_sweep_capped_runs", "capped_runs", "Sweep runs that stopped at their cap (a backlog)."),
            ("odr_sweep_fired", "fired", "Due effects of deadlines fired by the sweep."),
            ("odr_sweep_reminded", "reminded", "Reminders sent by the sweep."),
            ("odr_sweep_failed", "failed", "Sweep items that failed (retried on the next run)."),
            ("odr_sweep_skipped", "skipped", "Reminders passed over unsent (late or moved deadlines)."),
        ):
            yield CounterMetricFamily(
                name, documentation, value=getattr(heartbeat, attribute) if heartbeat else 0
            )

        due = GaugeMetricFamily(
            "odr_deadlines_due",
            "Pending deadlines whose due instant has passed (waiting for the sweep), by kind.",
            labels=["kind"],
        )
        breached_counts = breached_by_kind()
        breached = GaugeMetricFamily(
            "odr_deadlines_breached",
            "Deadlines closed after their due instant while a duty was open (a breach), by kind.",
            labels=["kind"],
        )
        for kind in DeadlineKind.values:
            due.add_metric([kind], sweep.due_by_kind.get(kind, 0))
            breached.add_metric([kind], breached_counts.get(kind, 0))
        yield due
        yield GaugeMetricFamily(
            "odr_deadlines_overdue",
            "Pending duty deadlines (merchant's answer, admissibility, outcome) past their due instant.",
            value=sweep.overdue,
        )
        yield breached
        yield GaugeMetricFamily(
            "odr_reminders_due",
            "Reminders whose instant has passed, not yet sent.",
            value=sweep.reminders_due,
        )

        outbox = outbox_status(now)
        pending = GaugeMetricFamily(
            "odr_outbox_pending", "Outbox rows waiting to be sent.", labels=["channel"]
        )
        retrying = GaugeMetricFamily(
            "odr_outbox_retrying", "Pending outbox rows that failed at least once.", labels=["channel"]
        )
        dead = GaugeMetricFamily(
            "odr_outbox_dead",
            "Outbox rows given up after every attempt (dead letters), not yet acknowledged.",
            labels=["channel"],
        )
        for channel in Channel.values:
            status = outbox.channel(channel)
            pending.add_metric([channel], status.pending)
            retrying.add_metric([channel], status.retrying)
            dead.add_metric([channel], status.dead)
        yield pending
        yield retrying
        yield dead
        webhooks = outbox.channel(Channel.WEBHOOK)
        failing = GaugeMetricFamily(
            "odr_webhooks_failing",
            "Webhook deliveries failing: in retry (pending after a failure) or dead (not acknowledged; "
            "a deleted endpoint's are).",
            labels=["state"],
        )
        failing.add_metric(["retry"], webhooks.retrying)
        failing.add_metric(["dead"], webhooks.dead)
        yield failing
        yield GaugeMetricFamily(
            "odr_documents_failed", "Generated documents whose rendering failed.", value=documents_failed()
        )


def _process_registry():
    """This host's request metrics: every gunicorn worker's, merged from PROMETHEUS_MULTIPROC_DIR
    when it is set (gunicorn.conf.py sets it), else this process's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return prometheus_client.REGISTRY


def scrape_authorized(request) -> bool:
    """May this request read the platform's figures (here, and in /readyz's details)?"""
    token = settings.ODR_METRICS_TOKEN
    if not token:
        return settings.DEBUG
    given = request.headers.get("Authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


def scrape() -> bytes:
    domain = CollectorRegistry(auto_describe=False)
    domain.register(DomainCollector())
    return prometheus_client.generate_latest(_process_registry()) + prometheus_client.generate_latest(domain)


@never_cache
@require_GET
def metrics(request):
    if not scrape_authorized(request):
        # Unknown rather than forbidden: the endpoint's existence is nobody else's business. A bare
        # answer, not the site's 404 page: a scraper is not a person.
        return HttpResponseNotFound(b"Not Found\n", content_type="text/plain")
    return HttpResponse(scrape(), content_type=prometheus_client.CONTENT_TYPE_LATEST)
