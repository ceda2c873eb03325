"""The log formats (LOG_FORMAT): "json" (one JSON object per line, for a log collector) or "text"
(the demo, readable). Both carry the log context (logcontext.ContextFilter) and mask anything
e-mail-shaped in the whole rendered record, tracebacks and extra fields included."""

import logging

from pythonjsonlogger.json import JsonFormatter

from .logcontext import _mask

JSON_FIELDS = [
    "levelname",
    "name",
    "message",
    "request_id",
    "task_id",
    "task_name",
    "case_reference",
]


class MaskingJsonFormatter(JsonFormatter):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", "time")  # ISO 8601, UTC
        kwargs.setdefault("json_ensure_ascii", False)
        super().__init__(JSON_FIELDS, *args, **kwargs)

    def process_log_record(self, log_data):
        # django.request's `request` extra renders as its full path, query string included (which may
        # hold personal data); the request id and the message's path identify the request already.
        log_data.pop("request", None)
        return _mask(super().process_log_record(log_data))


class MaskingFormatter(logging.Formatter):
    def __init__(self, *args, **kwargs):
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s"
            " [req=%(request_id)s task=%(task_name)s case=%(case_reference)s] %(message)s"
        )

    def format(self, record: logging.LogRecord) -> str:
        return _mask(super().format(record))


def logging_config(*, log_format: str, level: str) -> dict:
    """Django's LOGGING for the web processes, the worker and beat (the worker does not hijack the
    root logger: CELERY_WORKER_HIJACK_ROOT_LOGGER=False)."""
    formatter = "json" if log_format == "json" else "text"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "context": {"()": "odr.ops.logcontext.ContextFilter"},
            "mask_email": {"()": "odr.ops.logcontext.MaskEmailFilter"},
        },
        "formatters": {
            "json": {"()": "odr.ops.logformat.MaskingJsonFormatter"},
            "text": {"()": "odr.ops.logformat.MaskingFormatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": formatter,
                "filters": ["context", "mask_email"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # WeasyPrint and fontTools narrate every step of every PDF at INFO; pikepdf announces itself.
            **{name: {"level": "WARNING"} for name in ("weasyprint", "fontTools", "pikepdf")},
            # At DEBUG, django.template logs each missing variable with the whole template context
            # (recipients' names, e-mail contexts): never below INFO.
            "django.template": {"level": "INFO"},
            # Django's own request loggers go to the root's handler (and so in the same format).
            "django": {"handlers": [], "level": level, "propagate": True},
        },
    }
