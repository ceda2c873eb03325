"""``Idempotency-Key`` on POST (draft-ietf-httpapi-idempotency-key-header).

The first request with a key runs and its answer (status and JSON body) is stored; a retry with the
same key and the same request (method, path and body) gets that answer again, with
``Idempotent-Replayed: true``, and nothing happens twice. The same key with another request → 422.
While the first request still runs, a second one with its key → 409. Keys are per API key and kept
for IDEMPOTENCY_TTL; a browser session (no API key) is not tracked. Server errors (5xx) are not
stored, so that the client may retry them.
"""

import functools
import hashlib
import json
from datetime import timedelta

from django.db import IntegrityError, transaction
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from odr import clock

from .access import api_key_of
from .models import IdempotencyRecord
from .problems import PROBLEM_CONTENT_TYPE, problem

HEADER = "Idempotency-Key"
IDEMPOTENCY_TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255


def _fingerprint(request) -> str:
    """SHA-256 of the method, path and body: JSON by its canonical form, a multipart body by its
    fields and the SHA-256 of each file (the boundary changes at every send)."""
    content_type = (request.content_type or "").split(";")[0].strip()
    if content_type.startswith("multipart/"):
        fields = {key: request.POST.getlist(key) for key in sorted(request.POST)}
        files = {}
        for name in sorted(request.FILES):
            digests = []
            for upload in request.FILES.getlist(name):
                digest = hashlib.sha256()
                for chunk in upload.chunks():
                    digest.update(chunk)
                upload.seek(0)
                digests.append(digest.hexdigest())
            files[name] = digests
        body = {"fields": fields, "files": files}
    else:
        body = request.data
    canonical = json.dumps(
        [request.method, request.path, body], sort_keys=True, separators=(",", ":"), cls=JSONEncoder
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(record: IdempotencyRecord) -> Response:
    content_type = PROBLEM_CONTENT_TYPE if record.status >= 400 else None
    response = Response(record.body, status=record.status, content_type=content_type)
    response["Idempotent-Replayed"] = "true"
    return response


def idempotent(handler):
    """Decorate an APIView's `post`. Runs after authentication, permissions and throttling."""

    @functools.wraps(handler)
    def wrapper(view, request, *args, **kwargs):
        key = api_key_of(request)
        value = request.headers.get(HEADER)
        if key is None or value is None:
            return handler(view, request, *args, **kwargs)
        if not value or len(value) > MAX_KEY_LENGTH:
            return problem(
                400,
                "validation_error",
                f"The {HEADER} header must be 1 to {MAX_KEY_LENGTH} characters.",
                errors=[{"field": HEADER, "code": "invalid", "detail": "1 to 255 characters."}],
            )
        fingerprint = _fingerprint(request)
        now = clock.now()
        IdempotencyRecord.objects.filter(
            api_key=key, key=value, created_at__lt=now - IDEMPOTENCY_TTL
        ).delete()
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    api_key=key,
                    key=value,
                    method=request.method,
                    path=request.path[:500],
                    request_sha256=fingerprint,
                    created_at=now,
                )
        except IntegrityError:
            record = IdempotencyRecord.objects.get(api_key=key, key=value)
            if record.request_sha256 != fingerprint:
                return problem(
                    422,
                    "idempotency_key_reused",
                    f"This {HEADER} was already used with another request (method, path or body).",
                )
            if record.status is None:
                return problem(
                    409,
                    "idempotency_in_progress",
                    f"The first request with this {HEADER} is still running: retry later.",
                    headers={"Retry-After": "1"},
                )
            return _replay(record)

        try:
            response = handler(view, request, *args, **kwargs)
        except Exception as exc:
            try:
                response = view.handle_exception(exc)
            except Exception:
                record.delete()
                raise
        if response.status_code >= 500 or not isinstance(response, Response):
            record.delete()
            return response
        record.status = response.status_code
        record.body = json.loads(json.dumps(response.data, cls=JSONEncoder))
        record.save(update_fields=["status", "body"])
        return response

    return wrapper
