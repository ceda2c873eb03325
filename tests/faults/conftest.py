import shutil

import pytest

from tests.smtp_server import SmtpServer
from tests.test_celery_worker import RedisServer, broker

from .processes import Celery


@pytest.fixture(autouse=True)
def _files(settings, tmp_path):
    # Shared with the subprocesses through their environment (see processes.Celery).
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ODR_SIGNING_KEYS_DIR = tmp_path / "signing-keys"


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
    processes = Celery(tmp_path, redis_url=redis_server.url, email_url=smtp.url, extra_env=celery_env)
    with broker(redis_server.url):
        try:
            yield processes
        finally:
            processes.stop_all()
