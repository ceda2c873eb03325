"""Every API error as RFC 9457 problem details (``application/problem+json``).

    {"type": "urn:odr:problem:transition_refused", "title": "Action not possible in this state",
     "status": 409, "detail": "<the domain error's message, in the request's language>",
     "code": "transition_refused"}

Mapping (one place, Saleor-style):
- a domain refusal `TransitionRefused` → 409; `InvalidInput` → 422 (the request was well-formed, the
  domain refused its content); `Forbidden` from a service on an object the key can see → 403.
- an object the key may not see → 404, the same as one that does not exist (the selectors).
- a malformed request (serializer or filter validation, an unreadable body, a bad cursor) → 400 with
  `errors`: one entry per field (`field` null for the body itself);
  401 (no, unknown or revoked key), 403 (a read-only key on a write), 404, 405, 406, 415, 429.
`title` is fixed English per code; `detail` is translated (Accept-Language).
"""

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import set_rollback

from odr.errors import DomainError, Forbidden, InvalidInput, TransitionRefused

PROBLEM_CONTENT_TYPE = "application/problem+json"

TITLES = {
    "validation_error": "The request is not valid",
    "parse_error": "The request body could not be read",
    "not_authenticated": "Authentication required",
    "authentication_failed": "Authentication failed",
    "permission_denied": "Not allowed",
    "insufficient_scope": "The API key's scope does not allow this",
    "forbidden": "Not allowed",
    "not_found": "Not found",
    "method_not_allowed": "Method not allowed",
    "not_acceptable": "Not acceptable",
    "unsupported_media_type": "Unsupported media type",
    "throttled": "Too many requests",
    "transition_refused": "Action not possible in this state",
    "invalid": "The request was refused",
    "idempotency_key_reused": "Idempotency-Key reused with another request",
    "idempotency_in_progress": "A request with this Idempotency-Key is still running",
    "refused": "The request was refused",
}


STATUS_TITLES = {
    400: "The request is not valid",
    403: "Not allowed",
    409: "Conflict",
    422: "The request was refused",
}


def problem_data(status: int, code: str, detail, *, title: str | None = None, **extra) -> dict:
    return {
        "type": f"urn:odr:problem:{code}",
        "title": title or TITLES.get(code) or STATUS_TITLES.get(status, "Error"),
        "status": status,
        "detail": str(detail),
        "code": code,
        **extra,
    }


def problem(status: int, code: str, detail, *, title: str | None = None, headers=None, **extra) -> Response:
    data = problem_data(status, code, detail, title=title, **extra)
    return Response(data, status=status, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def _field_errors(detail, path: str = "") -> list[dict]:
    """DRF's nested ValidationError detail as a flat list of {field, code, detail}."""
    if isinstance(detail, dict):
        items = []
        for name, value in detail.items():
            field = "" if name == "non_field_errors" else (f"{path}.{name}" if path else str(name))
            items.extend(_field_errors(value, field))
        return items
    if isinstance(detail, list):
        items = []
        for index, value in enumerate(detail):
            if isinstance(value, dict | list):
                items.extend(_field_errors(value, f"{path}.{index}" if path else str(index)))
            else:
                items.extend(_field_errors(value, path))
        return items
    return [{"field": path or None, "code": getattr(detail, "code", "invalid"), "detail": str(detail)}]


def _domain_status(error: DomainError) -> int:
    if isinstance(error, TransitionRefused):
        return 409
    if isinstance(error, InvalidInput):
        return 422
    if isinstance(error, Forbidden):
        return 403
    return 409


def problem_exception_handler(exc, context):
    if isinstance(exc, DomainError):
        set_rollback()
        return problem(_domain_status(exc), exc.code, exc.message)
    if isinstance(exc, Http404 | ObjectDoesNotExist):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None  # a bug: Django's 500

    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    set_rollback()

    if isinstance(exc, exceptions.ValidationError):
        errors = _field_errors(exc.detail)
        return problem(
            400,
            "validation_error",
            _("Some fields are missing or not valid: see `errors`."),
            headers=headers,
            errors=errors,
        )
    if isinstance(exc, exceptions.ParseError):
        # A 400 like a field error, so that every 400 has the same shape (ValidationProblem).
        return problem(
            400,
            "parse_error",
            exc.detail,
            headers=headers,
            errors=[{"field": None, "code": "parse_error", "detail": str(exc.detail)}],
        )
    detail = exc.detail
    code = None
    if isinstance(detail, dict | list):  # not expected outside validation; keep it readable
        detail = "; ".join(str(item["detail"]) for item in _field_errors(detail))
    else:
        code = getattr(detail, "code", None)
    code = code or exc.default_code
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        status = 401 if headers.get("WWW-Authenticate") else exc.status_code
    else:
        status = exc.status_code
    return problem(status, code, detail, headers=headers)
