"""How an audit event is hashed. Pure functions: the same bytes on every back-end and every machine.

One rule, used by the writer (`event_hash`) and by the verifier (`canonical_hash`, fed raw rows):
SHA-256 over the canonical JSON of the event and its previous hash — keys sorted, no spaces, UTF-8
(`json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`), the time as
ISO 8601 in UTC with microseconds. `canonical_hash` writes that JSON text directly, in the sorted key
order, instead of building a dict per event: verifying years of data is mostly this function. Its
output is byte for byte the `json.dumps` document (tests/odr/audit/test_chain.py holds it to it), so
every hash ever stored still verifies.
"""

import hashlib
import json
from datetime import UTC, datetime

from django.core.serializers.json import DjangoJSONEncoder

# The fields event_hash() covers, in its keyword order; verification reads them back from the row.
HASHED_FIELDS = ("stream", "seq", "kind", "occurred_at", "actor_id", "actor_role", "payload", "prev_hash")

# A string as a JSON string literal, as json.dumps(..., ensure_ascii=False) writes it.
_string = json.encoder.c_encode_basestring or json.encoder.py_encode_basestring
_sha256 = hashlib.sha256


def _not_json(value):
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# The C encoder json.dumps itself builds for sort_keys=True, separators=(",", ":"), ensure_ascii=False
# and check_circular=False, made once: json.dumps would make it again for every event.
_c_encoder = json.encoder.c_make_encoder and json.encoder.c_make_encoder(
    None, _not_json, _string, None, ":", ",", True, False, True
)
_py_encoder = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, check_circular=False
)


def canonical_json(value) -> str:
    """`value` as canonical JSON: sorted keys at every depth, no spaces, non-ASCII kept."""
    if _c_encoder is None or isinstance(value, str):
        return _py_encoder.encode(value)
    return "".join(_c_encoder(value, 0))


_scan = json.scanner.make_scanner(json.JSONDecoder())


def parse_json(text: str):
    """json.loads(text), without its per-call overhead (the verifier parses every payload)."""
    try:
        value, end = _scan(text, 0)
    except StopIteration:
        return json.loads(text)  # leading whitespace, or not JSON: json.loads says which
    return value if end == len(text) else json.loads(text)  # trailing data is an error, as in loads


def normalise_payload(payload: dict) -> dict:
    """What the database will give back: dates as ISO strings, decimals as strings, UUIDs as text."""
    return json.loads(json.dumps(payload, cls=DjangoJSONEncoder))


def canonical_time(moment: datetime) -> str:
    """The hashed form of a time; PostgreSQL writes the same with CANONICAL_TIME_SQL."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


# canonical_time() computed by PostgreSQL from a timestamptz column, so the verifier reads ready text.
CANONICAL_TIME_SQL = """to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')"""


def canonical_hash(
    stream: str,
    seq: int,
    kind: str,
    occurred_at: str,
    actor_id: int | None,
    actor_role: str,
    payload_json: str,
    prev_hash: str,
) -> str:
    """The hash of an event given its time as canonical_time() text and its payload as
    canonical_json() text. Positional, for the verifier's inner loop."""
    text = (
        f'{{"actor_id":{"null" if actor_id is None else actor_id},"actor_role":{_string(actor_role)},'
        f'"kind":{_string(kind)},"occurred_at":{_string(occurred_at)},"payload":{payload_json},'
        f'"prev_hash":{_string(prev_hash)},"seq":{seq},"stream":{_string(stream)}}}'
    )
    return _sha256(text.encode()).hexdigest()


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
    return canonical_hash(
        stream,
        int(seq),
        kind,
        canonical_time(occurred_at),
        None if actor_id is None else int(actor_id),
        actor_role,
        canonical_json(payload),
        prev_hash,
    )
