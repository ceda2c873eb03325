"""The web tier as it runs in production: gunicorn with gunicorn.conf.py, two worker processes. /metrics
reports the requests of both processes whichever answers the scrape (prometheus-client's multiprocess
mode), and the access log is one JSON object per line carrying the request id (LOG_FORMAT=json)."""

import json
import os
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from odr.ops.heartbeat import SWEEP_JOB, heartbeat_record
from tests.processes import database_url, free_port

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


def wait_for(condition, *, seconds: float, what: str):
    """Poll `condition` every 0.1 s until it returns something truthy, for at most `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {seconds} s")
        time.sleep(0.1)


@contextmanager
def running_gunicorn(tmp_path, **overrides):
    """gunicorn -c gunicorn.conf.py on a free port, until the block ends (then SIGTERM, waited for).
    An override of None removes the variable from the environment."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
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
    env.pop("ODR_PROMETHEUS_DIR_TEMPORARY", None)
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("w+") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            if process.poll() is not None:
                raise RuntimeError("gunicorn exited: " + log_path.read_text()[-2000:])
            try:
                return get(base + "/healthz")[0] == 200
            except OSError:
                return False

        try:
            wait_for(up, seconds=30, what="gunicorn answering /healthz")
            yield base, log_path
        finally:
            process.terminate()
            process.wait(timeout=30)


@pytest.fixture
def gunicorn(tmp_path):
    with running_gunicorn(tmp_path) as running:
        yield running


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

    def probe_lines():
        # Every line gunicorn and the application write is JSON. The access log is written after each
        # response: wait until the last probe's line is there.
        records = [json.loads(line) for line in log_path.read_text().splitlines()]
        found = [
            r
            for r in records
            if r.get("logger") == "gunicorn.access"
            and r["path"] == "/healthz"
            and r["request_id"] == "probe-000001"
        ]
        return found if len(found) >= 30 else None

    probes = wait_for(probe_lines, seconds=10, what="30 probes in the access log")
    assert len(probes) == 30
    assert {r["status"] for r in probes} == {"200"}
    # Both workers write their metrics to the shared directory (files named after their pids).
    files = {path.stem.rsplit("_", 1)[-1] for path in (log_path.parent / "prometheus").glob("*.db")}
    assert len(files) >= 2, files


def test_the_metrics_directory_named_by_the_operator_loses_only_stale_metric_files(tmp_path):
    folder = tmp_path / "operator-metrics"
    folder.mkdir()
    (folder / "keep.txt").write_text("an operator's file")
    (folder / "counter_99999.db").write_bytes(b"stale")  # a previous run's: would count twice
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    with running_gunicorn(tmp_path, PROMETHEUS_MULTIPROC_DIR=str(folder), TMPDIR=str(temporary)):
        assert (folder / "keep.txt").read_text() == "an operator's file"
        assert not (folder / "counter_99999.db").exists()
        assert list(temporary.glob("odr-prometheus-*")) == []  # no folder made beside the named one
    assert (folder / "keep.txt").exists()  # and nothing removed at exit


def test_the_temporary_metrics_directory_goes_when_gunicorn_exits(tmp_path):
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    with running_gunicorn(tmp_path, PROMETHEUS_MULTIPROC_DIR=None, TMPDIR=str(temporary)) as (base, _):
        assert healthz_requests(base) >= 1  # the workers write their metrics in it
        [folder] = temporary.glob("odr-prometheus-*")
        assert list(folder.glob("*.db"))
    assert not folder.exists()
