import os
import shutil

import pytest
from django.conf import settings

from odr.tasks_enqueue import breaker_reset
from tests.processes import Celery, database_url
from tests.smtp_server import SmtpServer
from tests.test_celery_worker import RedisServer, broker


@pytest.fixture(autouse=True)
def _files(settings, tmp_path):
    # Shared with the subprocesses through their environment (see `celery` below).
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ODR_SIGNING_KEYS_DIR = tmp_path / "signing-keys"


@pytest.fixture(autouse=True)
def _publishing(settings):
    """This process publishes the tasks the workers are to be caught doing: a publish must not be
    dropped because the 2-core machine is busy (a web request gives up after 1 s; the test has the
    time), nor skipped because an earlier test left the breaker open."""
    settings.ODR_BROKER_PUBLISH_TIMEOUT_SECONDS = 10
    breaker_reset()
    yield
    breaker_reset()


@pytest.fixture
def redis_server(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.fail("the fault tests need redis-server (.ci/run installs it)")
    server = RedisServer(tmp_path)
    server.start()
    yield server
    if server.process.poll() is None:
        server.stop()


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def celery_env():
    """Extra environment for the subprocesses; a test sets keys before asking for `celery`."""
    return {}


@pytest.fixture
def celery(transactional_db, tmp_path, redis_server, smtp, celery_env):
    """Start workers and beats with `celery.worker(name)` / `celery.beat(name)`. This process's own
    publishes (on commit, `.delay()`) go to the same redis-server for the test's duration."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": redis_server.url,
        "EMAIL_URL": smtp.url,
        "SECRET_KEY": "fault-tests-secret-key-not-for-production",
        "DEBUG": "0",
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "ODR_SIGNING_KEYS_DIR": str(settings.ODR_SIGNING_KEYS_DIR),
        "ODR_ENV_FILE": str(tmp_path / "no.env"),  # never the developer's .env
        # Beat's periodic work every 2 s instead of every minute (it starts one interval in).
        "ODR_SWEEP_EVERY_SECONDS": "2",
        "ODR_PICKUP_EVERY_SECONDS": "2",
        **celery_env,
    }
    processes = Celery(tmp_path, env=env)
    with broker(redis_server.url):
        try:
            yield processes
        finally:
            processes.stop_all()
