"""The ODR platform: the project and the parts both stages share."""

from .celery import app as celery_app

__all__ = ["celery_app"]
