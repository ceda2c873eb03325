"""Signing webhook requests, and checking a signature (what a receiver does; used by our tests).

Every request carries three headers:

- `Webhook-Id`: the delivery's id (the outbox row's idempotency key). The same event sent again —
  a retry, or "Resend" in the portal — keeps its id, so a receiver can ignore duplicates.
- `Webhook-Timestamp`: when this attempt was signed, in Unix seconds.
- `Webhook-Signature`: `v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`; the key is the whole
  secret shown in the portal (`whsec_…`) as UTF-8 bytes, the body is the exact bytes received.
  Several space-separated signatures may appear (a future secret rotation with overlap): accept the
  request if any `v1=` value matches.

A receiver recomputes the signature over the raw body and refuses a timestamp more than five minutes
away from its own clock, so that a captured request cannot be replayed later. See docs/webhooks.md.
"""

import hashlib
import hmac
import time
from collections.abc import Mapping

SCHEME = "v1"
DEFAULT_TOLERANCE_SECONDS = 300


class SignatureError(Exception):
    """The request was not signed with the secret, or its timestamp is too old (or too far ahead)."""


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    signed = str(int(timestamp)).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign_headers(
    *, secret: str, message_id: str, body: bytes, timestamp: int | None = None
) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    return {
        "Webhook-Id": message_id,
        "Webhook-Timestamp": str(timestamp),
        "Webhook-Signature": f"{SCHEME}={signature(secret=secret, timestamp=timestamp, body=body)}",
    }


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    raise SignatureError(f"missing {name} header")


def verify(
    *,
    secret: str,
    body: bytes,
    headers: Mapping[str, str],
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> int:
    """Check a received request; return its timestamp, or raise SignatureError."""
    raw_timestamp = _header(headers, "Webhook-Timestamp")
    try:
        timestamp = int(raw_timestamp)
    except ValueError:
        raise SignatureError("invalid timestamp") from None
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        raise SignatureError("timestamp outside the tolerance: refused as a possible replay")
    expected = signature(secret=secret, timestamp=timestamp, body=body)
    for candidate in _header(headers, "Webhook-Signature").split():
        scheme, _, value = candidate.partition("=")
        if scheme == SCHEME and hmac.compare_digest(value, expected):
            return timestamp
    raise SignatureError("no valid signature")
