"""Handing a task to the broker from a request (or any code that must not wait): one rule, one place.

A request writes rows; the broker only makes delivery prompt. So publishing here is best effort:
- a connection of its own, with a short connect and socket timeout and NO connection retries (Celery's
  default producer retries the connection for `broker_connection_timeout` on every publish: with Redis
  down, filing a complaint waited ~6 s per e-mail, 38–62 s in all);
- `retry=False` on the publish itself;
- on failure, log and return False: the row stays pending, and the periodic pick-ups that beat runs
  (the outbox relay, the pending documents) deliver it once the broker is back;
- a circuit breaker: after a failure, this process skips publishing for ODR_BROKER_BREAKER_SECONDS,
  so a dead broker costs one short timeout per process and period, not one per request.

The worker's own consuming connection keeps Celery's retries (settings.CELERY_BROKER_*).
"""

import logging
import os
import threading
import time

from celery import Task
from django.conf import settings
from kombu import Connection
from kombu.pools import producers

from odr.celery import app

log = logging.getLogger(__name__)

_lock = threading.Lock()
_open_until = 0.0  # time.monotonic() before which publishing is skipped
_connection: tuple[tuple[int, str], Connection] | None = None


def _publish_connection() -> Connection:
    """This process's publishing connection for the current broker URL (re-made after a fork, and
    when the URL changes, as tests do)."""
    global _connection
    key = (os.getpid(), app.conf.broker_url)
    with _lock:
        if _connection is None or _connection[0] != key:
            timeout = settings.ODR_BROKER_PUBLISH_TIMEOUT_SECONDS
            options = dict(app.conf.broker_transport_options or {})
            # Read by kombu's Connection.default_channel: one attempt, no sleeping between retries.
            options.update(max_retries=0, socket_connect_timeout=timeout, socket_timeout=timeout)
            _connection = (
                key,
                app.connection_for_write(connect_timeout=timeout, transport_options=options),
            )
        return _connection[1]


def breaker_open() -> bool:
    return time.monotonic() < _open_until


def breaker_reset() -> None:
    """Close the breaker (tests; an operator's shell after fixing the broker)."""
    global _open_until
    _open_until = 0.0


def enqueue_task(task: Task, *args, what: str) -> bool:
    """Publish `task(*args)` now, or not at all. Call it after commit (transaction.on_commit).

    `what` names the row left behind for the log ("outbox message 12"). Returns True if the broker
    took the message, False if it was skipped or failed (the row is then picked up later).
    """
    global _open_until
    if breaker_open():
        log.info("broker marked unavailable: %s left for the periodic pick-up", what)
        return False
    timeout = settings.ODR_BROKER_PUBLISH_TIMEOUT_SECONDS
    try:
        with producers[_publish_connection()].acquire(block=True, timeout=timeout) as producer:
            task.apply_async(args, producer=producer, retry=False)
    except Exception:  # any broker failure: the row is the source of truth, not the message
        _open_until = time.monotonic() + settings.ODR_BROKER_BREAKER_SECONDS
        log.warning(
            "broker unavailable: %s left for the periodic pick-up; publishing paused for %s s",
            what,
            settings.ODR_BROKER_BREAKER_SECONDS,
            exc_info=True,
        )
        return False
    return True
