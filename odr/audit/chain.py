"""How an audit event is hashed. Pure functions: the same bytes on every back-end and every machine."""

import hashlib
import json
from datetime import UTC, datetime

from django.core.serializers.json import DjangoJSONEncoder

# The fields event_hash() covers, in its keyword order; verification reads them back from the row.
HASHED_FIELDS = ("stream", "seq", "kind", "occurred_at", "actor_id", "actor_role", "payload", "prev_hash")


def normalise_payload(payload: dict) -> dict:
    """What the database will give back: dates as ISO strings, decimals as strings, UUIDs as text."""
    return json.loads(json.dumps(payload, cls=DjangoJSONEncoder))


def canonical_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def event_hash(
    *,
    stream: str,
    seq: int,
    kind: str,
    occurred_at: datetime,
    actor_id: int | None,
    actor_role: str,
    payload: dict,
    prev_hash: str,
) -> str:
    """SHA-256 over the canonical JSON (sorted keys, no spaces, UTF-8) of the event and prev hash."""
    document = {
        "stream": stream,
        "seq": seq,
        "kind": kind,
        "occurred_at": canonical_time(occurred_at),
        "actor_id": actor_id,
        "actor_role": actor_role,
        "payload": payload,
        "prev_hash": prev_hash,
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
