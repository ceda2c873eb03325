"""The web tier as it runs in production: gunicorn with gunicorn.conf.py, two worker processes. /metrics
reports the requests of both processes whichever answers the scrape (prometheus-client's multiprocess
mode), and the access log is one JSON object per line carrying the request id (LOG_FORMAT=json)."""

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families

from odr.ops.heartbeat import SWEEP_JOB, heartbeat_record
from tests.test_celery_worker import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "gunicorn-scrape-token"


def get(url: str, **headers) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture
def gunicorn(tmp_path):
    port = free_port()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": (
            f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        ),
        "SECRET_KEY": "gunicorn-test-secret-key-0123456789abcdef",
        "DEBUG": "0",
        "EMAIL_URL": "smtp://127.0.0.1:1",
        "ALLOWED_HOSTS": "127.0.0.1",
        "ODR_METRICS_TOKEN": TOKEN,
        "LOG_FORMAT": "json",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "2",
        "GUNICORN_THREADS": "1",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
        "ODR_BROKER_DIR": str(tmp_path / "broker"),
        "MEDIA_ROOT": str(tmp_path / "media"),
    }
    env.pop("REDIS_URL", None)  # the broker check reads the embedded transport's folder
    log = (tmp_path / "gunicorn.log").open("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if get(base + "/healthz")[0] == 200:
                break
        except OSError:
            time.sleep(0.2)
    else:
        process.terminate()
        raise RuntimeError("gunicorn did not start: " + (tmp_path / "gunicorn.log").read_text()[-2000:])
    yield base, tmp_path / "gunicorn.log"
    process.terminate()
    process.wait(timeout=30)
    log.close()


def healthz_requests(base) -> float:
    status, _, body = get(base + "/metrics", Authorization=f"Bearer {TOKEN}")
    assert status == 200
    total = 0.0
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if (
                sample.name == "django_http_requests_total_by_view_transport_method_total"
                and sample.labels.get("view") == "healthz"
            ):
                total += sample.value
    return total


def test_metrics_add_up_every_worker_and_the_access_log_is_json(gunicorn):
    base, log_path = gunicorn
    heartbeat_record(job=SWEEP_JOB)
    for _ in range(30):
        status, _, _ = get(base + "/healthz", **{"X-Request-ID": "probe-000001"})
        assert status == 200
    # Each scrape lands on either worker: each must count the requests of both (30, plus the
    # start-up probe's first one or more).
    counts = {healthz_requests(base) for _ in range(6)}
    assert len(counts) == 1 and counts.pop() >= 30
    status, _, body = get(base + "/metrics")
    assert status == 404, body  # no token, no metrics
    status, _, body = get(base + "/readyz")
    assert status == 200, body
    assert json.loads(body)["checks"]["database"]["ok"] is True

    time.sleep(0.5)  # the access log is written after each response
    access = []
    for line in log_path.read_text().splitlines():
        record = json.loads(line)  # every line gunicorn and the application write is JSON
        if record.get("logger") == "gunicorn.access":
            access.append(record)
    probes = [r for r in access if r["path"] == "/healthz" and r["request_id"] == "probe-000001"]
    assert len(probes) == 30
    assert {r["status"] for r in probes} == {"200"}
    # Both workers write their metrics to the shared directory (files named after their pids).
    files = {path.stem.rsplit("_", 1)[-1] for path in (log_path.parent / "prometheus").glob("*.db")}
    assert len(files) >= 2, files
