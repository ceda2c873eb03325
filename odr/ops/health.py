"""Liveness (/healthz) and readiness (/readyz).

/healthz answers as long as the process serves requests: no database, no broker. It is what a load
balancer or an orchestrator's liveness probe should call.

/readyz runs the checks below (each bounded: a trivial query, a PING with a 1 s timeout, a few
aggregate queries through partial indexes) and answers 200 only when all pass, else 503, with one
entry per check. It includes the legal machinery (sweep lag, outbox backlog, dead letters), which is
the platform's state, not this web process's: pointing a load balancer at the whole of it would take
every web process out of rotation for one dead letter. A probe can ask for a subset,
`/readyz?check=database&check=broker`, the part that is about this process's reach.

Anyone may probe; only a caller allowed to scrape /metrics (its token, or DEBUG) sees the figures
(backlog, dead letters, what is due): others get each check's verdict.
"""

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import redis
from django.conf import settings
from django.db import connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from odr import clock

from .metrics import scrape_authorized
from .status import outbox_status, sweep_status

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 1.0


def _database():
    """The connection the database check uses (a seam for the test that points it at a closed port)."""
    return connections["default"]


def check_database() -> dict:
    with _database().cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True}


def check_broker() -> dict:
    """Redis: PING with a short timeout. The embedded filesystem transport: its folders are there and
    writable. Any other transport: not checked here (its consumers' health shows in the sweep's lag)."""
    url = settings.CELERY_BROKER_URL or ""
    if url.startswith(("redis://", "rediss://")):
        client = redis.Redis.from_url(
            url, socket_connect_timeout=TIMEOUT_SECONDS, socket_timeout=TIMEOUT_SECONDS, retry=None
        )
        try:
            client.ping()
        finally:
            client.close()
        return {"ok": True, "transport": "redis"}
    if url.startswith(("odr-filesystem://", "filesystem://")):
        options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}) or {}
        folder = Path(options.get("data_folder_in", "."))
        writable = folder.is_dir() and os.access(folder, os.W_OK)
        return {"ok": writable, "transport": "filesystem"}
    return {"ok": True, "transport": url.split("://", 1)[0] or "unknown", "checked": False}


def check_sweep() -> dict:
    """The sweep's lag (see SweepStatus.lag_seconds) under ODR_READY_SWEEP_LAG_SECONDS."""
    now = clock.now()
    status = sweep_status(now)
    lag = status.lag_seconds(now)
    limit = settings.ODR_READY_SWEEP_LAG_SECONDS
    result = {
        "ok": lag is not None and lag < limit,
        "lag_seconds": None if lag is None else round(lag, 1),
        "limit_seconds": limit,
        "due": status.due,
        "reminders_due": status.reminders_due,
    }
    if status.heartbeat is None:
        result["error"] = "no sweep has finished yet"
    return result


def check_outbox() -> dict:
    """Rows due for longer than ODR_READY_OUTBOX_BACKLOG_MINUTES, and dead letters not yet acknowledged
    of the channels in ODR_READY_DEAD_LETTER_CHANNELS, each under its maximum."""
    now = clock.now()
    report = outbox_status(now)
    backlog = sum(c.stale for c in report.channels.values())
    dead = sum(
        c.dead for name, c in report.channels.items() if name in settings.ODR_READY_DEAD_LETTER_CHANNELS
    )
    return {
        "ok": backlog <= settings.ODR_READY_OUTBOX_BACKLOG_MAX
        and dead <= settings.ODR_READY_DEAD_LETTERS_MAX,
        "backlog": backlog,
        "backlog_max": settings.ODR_READY_OUTBOX_BACKLOG_MAX,
        "dead_letters": dead,
        "dead_letters_max": settings.ODR_READY_DEAD_LETTERS_MAX,
    }


CHECKS: dict[str, Callable[[], dict]] = {
    "database": check_database,
    "broker": check_broker,
    "sweep": check_sweep,
    "outbox": check_outbox,
}


def run_checks(names: list[str] | None = None) -> dict[str, dict]:
    """Each check on its own: one that raises fails alone (its error's type, never its message, which
    may carry a host name or a password in a URL)."""
    results = {}
    for name in names or CHECKS:
        started = time.monotonic()
        try:
            result = CHECKS[name]()
        except Exception as exc:
            log.warning("readiness check %s failed: %s", name, type(exc).__name__)
            result = {"ok": False, "error": type(exc).__name__}
        result["ms"] = round((time.monotonic() - started) * 1000, 1)
        results[name] = result
    return results


@never_cache
@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


def _verdicts(results: dict[str, dict]) -> dict[str, dict]:
    """What an anonymous probe sees: pass or fail, and why when the reason is not a figure."""
    return {
        name: {key: value for key, value in result.items() if key in ("ok", "error")}
        for name, result in results.items()
    }


@never_cache
@require_GET
def readyz(request):
    # Each check once, however often it is named: a probe's cost does not grow with its query string.
    names = list(dict.fromkeys(request.GET.getlist("check")))
    unknown = [name for name in names if name not in CHECKS]
    if unknown:
        return JsonResponse(
            {"status": "error", "error": "unknown check", "unknown": unknown[:10], "known": list(CHECKS)},
            status=400,
        )
    results = run_checks(names or None)
    ready = all(result["ok"] for result in results.values())
    response = JsonResponse(
        {
            "status": "ok" if ready else "fail",
            "checks": results if scrape_authorized(request) else _verdicts(results),
        },
        status=200 if ready else 503,
    )
    # A 503 here is an answer, not a server error: django.request would log each one at ERROR (and
    # Sentry's logging integration make an event of it), a flood at every probe while a check fails.
    # The failing check is logged once per probe at WARNING by run_checks only when it raises.
    response._has_been_logged = True
    return response
