"""Error reporting with sentry-sdk when SENTRY_DSN is set, sending no personal data.

sentry-sdk 3 collects by `data_collection`: no user, no cookies, no request bodies, no query strings,
no local variables, no SQL parameters. before_send is the second lock: whatever an integration or a
future default adds, the request's body, cookies, query string and the user's e-mail, name and
username are removed, and anything e-mail-shaped left in the event is masked.
"""

import sentry_sdk
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration

from .logcontext import _mask, case_reference_var, request_id_var

_OFF = {"mode": "off"}
DATA_COLLECTION = {
    "user_info": False,
    "cookies": _OFF,
    "http_bodies": [],
    "url_query_params": _OFF,
    # Header values may hold tokens (Authorization, API keys): names only, no values kept.
    "http_headers": {"request": _OFF},
    "stack_frame_variables": False,
    "database_query_data": False,
}


def before_send(event: dict, hint: dict) -> dict:
    request = event.get("request")
    if isinstance(request, dict):
        for key in ("data", "cookies", "query_string", "env"):
            request.pop(key, None)
        headers = request.get("headers")
        if isinstance(headers, dict):
            request["headers"] = {
                name: value
                for name, value in headers.items()
                if name.lower() not in {"cookie", "authorization", "x-api-key", "x-forwarded-for"}
            }
    user = event.get("user")
    if isinstance(user, dict):
        # An id is enough to find the account; nothing that names the person.
        event["user"] = {"id": user["id"]} if "id" in user else {}
    tags = event.setdefault("tags", {})
    if request_id_var.get():
        tags["request_id"] = request_id_var.get()
    if case_reference_var.get():
        tags["case_reference"] = case_reference_var.get()
    return _mask(event, keep_objects=True)


def init_sentry(*, dsn: str, release: str | None, environment: str | None, traces_sample_rate: float) -> None:
    sentry_sdk.init(
        dsn=dsn,
        release=release or None,
        environment=environment or None,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        data_collection=DATA_COLLECTION,
        max_request_body_size="never",
        before_send=before_send,
        before_breadcrumb=_mask_breadcrumb,
        traces_sample_rate=traces_sample_rate,
    )


def _mask_breadcrumb(crumb: dict, hint: dict) -> dict:
    return _mask(crumb, keep_objects=True)
