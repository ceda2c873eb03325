"""The Celery app. Broker: Redis when REDIS_URL is set, else kombu's filesystem transport with its
races closed (odr/broker_filesystem.py; no server).

Deadlines are never Celery countdowns: they are rows, and beat runs the sweep every minute.
Run exactly one beat per deployment (docs/deployment notes in README).
"""

import os

from celery import Celery
from celery.signals import worker_init

from odr import broker_filesystem

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "odr.settings")
broker_filesystem.register()  # the embedded default's broker URL, odr-filesystem://

app = Celery("odr")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def _refuse_without_secret_key(**_kwargs):
    from odr.startup import ensure_safe_to_serve

    ensure_safe_to_serve()
