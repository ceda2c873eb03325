"""gunicorn's settings for the web tier: `gunicorn -c gunicorn.conf.py odr.wsgi` (see README, Production).

Every value can be changed from the environment (GUNICORN_*). Measured on 2 cores with PostgreSQL in
bench/load.py; the figures are in docs/performance.md.
"""

import os
import shutil
import tempfile
from pathlib import Path


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


wsgi_app = "odr.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")

# One process per core (the page work is CPU-bound Python: threads do not add CPU), and a few threads
# each so that a request waiting on PostgreSQL or the disk does not leave the core idle, and a slow
# client does not take a whole process. gthread also keeps HTTP keep-alive connections, which sync
# workers close after each response, and a slow page (800 ms) does not hold up the fast ones queued
# behind it. Measured (docs/performance.md): about equal to sync at 20 req/s, a better p95 at 40
# (124 ms against 159–249 ms), on the same data.
workers = _int("GUNICORN_WORKERS", 2)
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = _int("GUNICORN_THREADS", 4)
# Each thread holds its own persistent database connection (CONN_MAX_AGE): the PostgreSQL server must
# allow workers × threads connections per web host, plus the Celery workers'.

# `timeout`: a worker whose main loop stops answering for this long is killed and replaced. With
# gthread that loop keeps beating while a request thread hangs, so it does not end a slow request:
# PostgreSQL does, with a statement timeout set below it for the web processes only (the workers
# inherit this environment; settings.ODR_DB_STATEMENT_TIMEOUT_MS). Requests never wait on the broker
# (odr/tasks_enqueue.py); a PDF is rendered by the Celery worker, not here.
timeout = _int("GUNICORN_TIMEOUT", 30)
os.environ.setdefault("ODR_DB_STATEMENT_TIMEOUT_MS", str(max(timeout - 5, 1) * 1000))
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)  # requests in flight finish on a restart
keepalive = _int("GUNICORN_KEEPALIVE", 5)  # behind a proxy that keeps connections open (nginx: 60 s)

# Replace each worker after about this many requests (jitter: not all at once), which bounds any
# slow memory growth (caches, fragmentation) without anyone noticing a restart.
max_requests = _int("GUNICORN_MAX_REQUESTS", 5000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 500)

# Not preloaded: each worker imports Django itself, so `kill -HUP` (and max_requests) reload new code,
# and no database or broker connection opened at import time can be shared across a fork. The cost is
# a second or two of start-up per worker and no copy-on-write sharing (~60 MB per worker).
preload_app = False

# Access log on stdout, one line per request, key=value (logfmt): parseable by any log collector.
# Client addresses only as gunicorn sees them (behind a proxy, its own); no query strings (they may
# hold personal data, e.g. a search), no user agent or referrer.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = (
    'remote=%(h)s method=%(m)s path="%(U)s" status=%(s)s bytes=%(B)s duration_us=%(D)s pid=%(p)s'
    " request_id=%({x-request-id}o)s"
)
# LOG_FORMAT=json (the default outside DEBUG, as in settings): one JSON object per line, like the
# application's logs (odr/ops/gunicorn_logging.py).
_debug = os.environ.get("DEBUG", "").lower() in {"1", "true", "yes", "on"}
if os.environ.get("LOG_FORMAT", "text" if _debug else "json") == "json":
    logger_class = "odr.ops.gunicorn_logging.JsonLogger"

# Prometheus multiprocess mode: each worker writes its request metrics to files in one directory, and
# /metrics (odr/ops/metrics.py) merges them, so a scrape sees every worker of this host, not the one
# that happened to answer. An operator may name the directory; otherwise a temporary one is made here,
# and removed when gunicorn exits (the marker survives a HUP, which reads this file again). Its stale
# metric files of a previous run (which would count twice) are removed when gunicorn starts: only those,
# whatever else an operator keeps there. A worker's live gauges are dropped when it exits.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="odr-prometheus-")
    os.environ["ODR_PROMETHEUS_DIR_TEMPORARY"] = "1"


def on_starting(server):
    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink(missing_ok=True)


def on_exit(server):
    # After a USR2 upgrade the new master inherits the folder (and this marker) and goes on using it:
    # the old master, which forked it (`reexec_pid`), leaves the folder to the new one to remove.
    if os.environ.get("ODR_PROMETHEUS_DIR_TEMPORARY") and not getattr(server, "reexec_pid", 0):
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


# gunicorn ≥ 23 opens a control socket in ~/.gunicorn by default: two instances on one host (a bench
# beside a running site) would fight over it, and nothing here uses it.
control_socket_disable = True
# The heartbeat file in memory, not on a disk that may block (Docker's overlay, a slow volume).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
