"""Log context: every record carries the request id (web), the task id and name (worker) and the case
reference when the request or task is about one. Kept in contextvars (per thread and per asyncio
task), set by RequestContextMiddleware and by Celery's task signals, added to records by
ContextFilter. MaskEmailFilter is the safety net for "logs carry ids, not e-mail addresses".
"""

import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
task_id_var: ContextVar[str | None] = ContextVar("task_id", default=None)
task_name_var: ContextVar[str | None] = ContextVar("task_name", default=None)
case_reference_var: ContextVar[str | None] = ContextVar("case_reference", default=None)

_CONTEXT = {
    "request_id": request_id_var,
    "task_id": task_id_var,
    "task_name": task_name_var,
    "case_reference": case_reference_var,
}

# An incoming X-Request-ID (from the proxy) is kept only if it looks like an id: no log injection,
# no personal data smuggled into every line.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,128}$")
# The case references of the URL patterns (`<str:reference>`): C-2026-000123, M-2026-000045.
_CASE_REFERENCE = re.compile(r"^[A-Z]-\d{4}-\d{1,12}$")
# The last label of the domain starts with a letter: a broker URL's "**@127.0.0.1:6379" is no address.
EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z][\w-]*")
MASK = "[email]"


class ContextFilter(logging.Filter):
    """Adds request_id, task_id, task_name and case_reference (None when unset) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in _CONTEXT.items():
            if not hasattr(record, name):
                setattr(record, name, var.get())
        return True


def _mask(value, *, keep_objects: bool = False):
    """`value` with every e-mail-shaped substring of its strings replaced, through tuples, lists and
    dicts. Other objects become their masked text (a log argument), or stay as they are when
    `keep_objects` (an error report's timestamps)."""
    if isinstance(value, str):
        return EMAIL.sub(MASK, value)
    if isinstance(value, (tuple, list)):
        return type(value)(_mask(item, keep_objects=keep_objects) for item in value)
    if isinstance(value, dict):
        return {key: _mask(item, keep_objects=keep_objects) for key, item in value.items()}
    if keep_objects or isinstance(value, (int, float, bool, type(None))):
        return value
    if isinstance(value, datetime):
        return value.isoformat()  # the JSON log's time, as gunicorn's lines write it
    return _mask(str(value))


class MaskEmailFilter(logging.Filter):
    """Replaces anything e-mail-shaped in a record's message by "[email]".

    A safety net, not the rule: code logs ids. The message is rendered here, once, with its own
    arguments (turning them into masked strings first would break "%.1f" with a Decimal and lose the
    record); exception tracebacks and extra fields are masked by the formatters (MaskingJsonFormatter,
    MaskingFormatter), which render them.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True  # a broken call: left as it is for logging to report as usual
        record.msg, record.args = _mask(message), None
        return True


def request_id_from(header: str | None) -> str:
    return header if header and _REQUEST_ID.match(header) else uuid.uuid4().hex


def case_reference_from(value) -> str | None:
    return value if isinstance(value, str) and _CASE_REFERENCE.match(value) else None


class RequestContextMiddleware:
    """First in MIDDLEWARE: a request id for every request (a valid incoming X-Request-ID or a new
    one), returned in the response's X-Request-ID; the case reference from the view's `reference`
    keyword (the URL patterns' name for it)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Not reset on the way out: Django logs a 4xx/5xx response (django.request) after the middleware
        # chain has returned; request_finished (below) clears the context once the response is closed.
        request.request_id = request_id_from(request.headers.get("X-Request-ID"))
        request_id_var.set(request.request_id)
        case_reference_var.set(None)
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        reference = case_reference_from(view_kwargs.get("reference"))
        if reference:
            case_reference_var.set(reference)


@contextmanager
def case(reference: str | None) -> Iterator[None]:
    """Every record logged inside carries `reference` as its case reference (when it is one): a worker
    handling many cases in one task (the sweep's deadlines, the relay's rows) says which one each line
    is about. The previous value comes back on exit."""
    token = case_reference_var.set(case_reference_from(reference))
    try:
        yield
    finally:
        case_reference_var.reset(token)


def _task_started(task_id=None, task=None, args=None, kwargs=None, **_):
    task_id_var.set(task_id)
    task_name_var.set(getattr(task, "name", None))
    reference = case_reference_from((kwargs or {}).get("reference"))
    case_reference_var.set(reference)


def _task_finished(**_):
    for var in (task_id_var, task_name_var, case_reference_var):
        var.set(None)


def _request_finished(**_):
    request_id_var.set(None)
    case_reference_var.set(None)


def connect_signals() -> None:
    from celery.signals import task_postrun, task_prerun
    from django.core.signals import request_finished

    request_finished.connect(_request_finished, weak=False, dispatch_uid="odr.ops.request_finished")

    task_prerun.connect(_task_started, weak=False, dispatch_uid="odr.ops.task_started")
    task_postrun.connect(_task_finished, weak=False, dispatch_uid="odr.ops.task_finished")
