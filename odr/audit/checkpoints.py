"""Signed checkpoints of the audit trail (D34): what holds the platform to yesterday's heads.

Every day (beat → `odr.audit.checkpoint`) the heads (stream, seq, hash) of the chains that changed
since the previous checkpoint are recorded into a checkpoint: a compact JWS signed with the consent
receipts' Ed25519 key (odr/consent/keys.py; header typ `odr-audit-checkpoint+jws`, so it can never
pass for a receipt), whose claims carry the SHA-256 of the previous checkpoint's JWS. The checkpoints
form a chain of their own: dropping or rewriting one breaks the link of the next.

The published JWS carries no stream name (D30: streams are case references, `U-<user id>`,
`merchant-<id>`; a public list of them, day by day, would let anyone follow a case): only the SHA-256
of the canonical head list (HEADS_DIGEST) and its length. The list itself stays in the platform's
database, in the append-only checkpoint row; the verifier takes it from there and holds it to the
signed digest, so the platform cannot swap it after publishing.

Incremental, so it scales: only changed chains (the heads' partial index audit_head_changed), at most
ODR_AUDIT_CHECKPOINT_MAX_HEADS per checkpoint (a busy day, or the first run on years of data, makes
several checkpoints in a row). A chain rewritten after a checkpoint — even consistently, from its
genesis, with new hashes and a new head — no longer holds the checkpointed (seq, hash): anyone with
the published files and the public key finds it (`verify_audit --checkpoint`).
"""

import base64
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from joserfc.errors import JoseError

from odr import clock
from odr.consent.keys import jws_sign, jws_verify

from .models import GENESIS_HASH, AuditCheckpoint

TYPE = "odr-audit-checkpoint+jws"
# /2: the heads as a digest (/1 published them; none was ever deployed, so /1 is not read).
VERSION = "odr-audit-checkpoint/2"
LOOKUP_BATCH = 5_000  # checkpointed heads looked up per query
# The claims are a few hundred bytes now that the heads are a digest; the bound stays generous.
MAX_PAYLOAD = 32 * 1024 * 1024
# Every claim a checkpoint must carry, with its JSON type: anything else is a malformed file.
CLAIMS = {
    "version": str,
    "number": int,
    "created_at": str,
    "previous": str,
    "heads": int,
    "heads_sha256": str,
}


def checkpoint_sha256(compact: str) -> str:
    return hashlib.sha256(compact.encode("ascii")).hexdigest()


def head_list_encode(heads: Iterable) -> str:
    """The canonical encoding the signed digest is taken over: the (stream, seq, hash) entries sorted,
    as compact JSON (UTF-8, no spaces). Anyone can recompute it from the list."""
    entries = sorted([str(stream), int(seq), str(hash_)] for stream, seq, hash_ in heads)
    return json.dumps(entries, separators=(",", ":"), ensure_ascii=False)


def head_list_sha256(encoded: str) -> str:
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def checkpoint_record(*, max_heads: int | None = None) -> list[AuditCheckpoint]:
    """Record the changed heads into as many checkpoints as needed (one, empty, if nothing changed:
    the day is still attested). Each checkpoint is its own transaction: a crash keeps those done."""
    max_heads = max_heads or settings.ODR_AUDIT_CHECKPOINT_MAX_HEADS
    made = []
    while True:
        checkpoint, full = _record_one(max_heads)
        if checkpoint is not None:
            made.append(checkpoint)
        if not full:
            return made


def _record_one(max_heads: int) -> tuple[AuditCheckpoint | None, bool]:
    with transaction.atomic():
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # One checkpoint writer at a time (two beats, a manual run): numbers and links stay a chain.
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext('odr.audit.checkpoint'))")
                # The heads' trigger (migration 0007) lets this transaction alone move their
                # checkpointed points: the one that wrote a checkpoint row.
                cursor.execute("SELECT txid_current()")
                txid = cursor.fetchone()[0]
            else:
                txid = None
            cursor.execute(
                "SELECT stream, last_seq, last_hash FROM audit_auditstreamhead "
                "WHERE NOT (last_seq = checkpointed_seq) ORDER BY stream LIMIT %s",
                [max_heads],
            )
            heads = cursor.fetchall()
        previous = AuditCheckpoint.objects.defer("compact", "head_list").order_by("-number").first()
        if not heads and previous is not None and previous.created_at.date() == clock.now().date():
            return None, False  # nothing new, and today is already attested
        number = previous.number + 1 if previous else 1
        now = clock.now()
        head_list = head_list_encode(heads)
        claims = {
            "version": VERSION,
            "iss": settings.ODR_PUBLIC_URL,
            "number": number,
            "created_at": now.isoformat(),
            "previous": previous.sha256 if previous else GENESIS_HASH,
            "heads": len(heads),
            "heads_sha256": head_list_sha256(head_list),
        }
        payload = json.dumps(claims, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        compact, kid = jws_sign(payload, typ=TYPE, max_payload=MAX_PAYLOAD)
        checkpoint = AuditCheckpoint.objects.create(
            number=number,
            created_at=now,
            heads=len(heads),
            kid=kid,
            compact=compact,
            sha256=checkpoint_sha256(compact),
            head_list=head_list,
            txid=txid,
        )
        _mark_checkpointed(heads)
    return checkpoint, len(heads) == max_heads


def _mark_checkpointed(heads) -> None:
    """The recorded values, not the current ones: a chain appended to meanwhile stays 'changed'."""
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":  # SQLite (the demo): one statement per head
            cursor.executemany(
                "UPDATE audit_auditstreamhead SET checkpointed_seq = %s, checkpointed_hash = %s "
                "WHERE stream = %s",
                [(seq, hash_, stream) for stream, seq, hash_ in heads],
            )
            return
        for chunk in _chunks(heads, LOOKUP_BATCH):
            values = ", ".join(["(%s, %s::integer, %s)"] * len(chunk))
            cursor.execute(
                "UPDATE audit_auditstreamhead AS h SET checkpointed_seq = v.seq, checkpointed_hash = v.hash "
                f"FROM (VALUES {values}) AS v(stream, seq, hash) WHERE h.stream = v.stream",
                [value for head in chunk for value in head],
            )


# --- Verification, with the public key alone ---------------------------------------------------


class CheckpointError(Exception):
    """A checkpoint that fails: its message names the checkpoint (or the stream) and what is wrong."""


@dataclass(frozen=True)
class CheckpointReport:
    first: int
    last: int
    heads: int


def load_public_keys(path: str | Path) -> dict[str, dict]:
    """kid → public JWK, from a JWK Set file (the published /.well-known/jwks.json) or one JWK."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CheckpointError(f"cannot read the public key file {path}: {error}") from error
    keys = document.get("keys", [document]) if isinstance(document, dict) else []
    found = {key["kid"]: key for key in keys if isinstance(key, dict) and "kid" in key and "d" not in key}
    if not found:
        raise CheckpointError(f"{path} holds no public key (a JWK Set or a public JWK with its kid)")
    return found


def checkpoint_files(paths: Iterable[str | Path]) -> list[Path]:
    """The files named, a directory standing for its *.jws files."""
    files = []
    for path in map(Path, paths):
        files.extend(sorted(path.glob("*.jws")) if path.is_dir() else [path])
    return files


def checkpoint_claims(compact: str, keys: dict[str, dict], *, name: str) -> dict:
    """The claims of a checkpoint whose signature one of `keys` verifies. Whatever the input — not
    base64, not JSON, JSON of the wrong shape — the answer is a CheckpointError naming the file."""
    try:
        encoded = compact.split(".")[0]
        header = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    except (ValueError, IndexError, TypeError) as error:
        raise CheckpointError(f"{name}: not a compact JWS") from error
    if not isinstance(header, dict):
        raise CheckpointError(f"{name}: not a compact JWS (its header is not a JSON object)")
    if header.get("typ") != TYPE:
        raise CheckpointError(f"{name}: not an audit checkpoint (typ {header.get('typ')!r})")
    kid = header.get("kid")
    key = keys.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise CheckpointError(f"{name}: signed with key {kid!r}, not among the public keys given")
    try:
        claims = json.loads(jws_verify(compact, key, max_payload=MAX_PAYLOAD))
    except (JoseError, ValueError, TypeError, KeyError) as error:
        raise CheckpointError(f"{name}: the signature does not match (altered after signing)") from error
    if not isinstance(claims, dict) or claims.get("version") != VERSION:
        raise CheckpointError(f"{name}: unknown checkpoint version")
    for claim, kind in CLAIMS.items():
        # bool is an int to Python; a checkpoint number or a count never is one.
        if not isinstance(claims.get(claim), kind) or isinstance(claims.get(claim), bool):
            raise CheckpointError(f"{name}: malformed checkpoint (claim {claim!r})")
    return claims


def checkpoints_verify(paths: Iterable[str | Path], keys: dict[str, dict]) -> CheckpointReport:
    """Verify checkpoint files against the public keys, as a chain, and the database against them.

    1. each signature, with the public keys alone;
    2. the chain: numbers contiguous, each carrying the SHA-256 of the one before (the first must be
       #1 unless it is checked against the platform's own copy of the one before);
    3. the platform's own copies: each checkpoint it holds under those numbers is the same file, and
       its stored head list (never published) hashes to the signed digest and has the signed length;
    4. the database's chains: every checkpointed head (stream, seq, hash) is still an event of its
       stream with that hash — a chain rewritten since, even consistently from genesis, fails.
    Raises CheckpointError at the first failure.
    """
    files = checkpoint_files(paths)
    if not files:
        raise CheckpointError("no checkpoint file given")
    # Years of files do not fit in memory together: a first pass keeps each one's number, then each
    # is read again, verified and checked, in order, one at a time.
    ordered = sorted((_number(path), path) for path in files)
    first = ordered[0][0]
    if first == 1:
        previous_sha = GENESIS_HASH
    else:
        previous_sha = (
            AuditCheckpoint.objects.filter(number=first - 1).values_list("sha256", flat=True).first()
        )
        if previous_sha is None:
            raise CheckpointError(f"the platform has no checkpoint #{first - 1}, which #{first} follows")
    heads = 0
    expected_number = first
    for number, path in ordered:
        if number != expected_number:
            raise CheckpointError(f"checkpoint #{expected_number} is missing (next given: #{number})")
        compact = _read(path)
        claims = checkpoint_claims(compact, keys, name=path.name)
        if claims["previous"] != previous_sha:
            raise CheckpointError(
                f"checkpoint #{number} ({path.name}) does not follow the checkpoint before it: "
                "an earlier checkpoint was rewritten or dropped"
            )
        if claims["number"] != number:  # read unverified by _number: held to the signed value
            raise CheckpointError(f"{path.name}: not an audit checkpoint")
        sha = checkpoint_sha256(compact)
        stored = AuditCheckpoint.objects.filter(number=number).values_list("sha256", "head_list").first()
        if stored is None or stored[0] != sha:
            raise CheckpointError(
                f"checkpoint #{number} ({path.name}): the platform's copy "
                + ("is missing" if stored is None else "differs from this file")
            )
        heads += _heads_still_present(_stored_heads(stored[1], claims, number=number), number=number)
        previous_sha = sha
        expected_number += 1
    return CheckpointReport(first, expected_number - 1, heads)


def _read(path: Path) -> str:
    try:
        return "".join(path.read_text(encoding="ascii", errors="replace").split())
    except OSError as error:
        raise CheckpointError(f"cannot read {path}: {error}") from error


def _number(path: Path) -> int:
    """The checkpoint's number from its claims, read without verifying (that comes next, in order)."""
    try:
        encoded = _read(path).split(".")[1]
        number = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))["number"]
    except (ValueError, IndexError, KeyError, TypeError) as error:
        raise CheckpointError(f"{path.name}: not an audit checkpoint") from error
    if not isinstance(number, int) or isinstance(number, bool):
        raise CheckpointError(f"{path.name}: not an audit checkpoint")
    return number


def _stored_heads(head_list: str, claims: dict, *, number: int) -> list:
    """The platform's head list of checkpoint #number, held to the signed digest and count."""
    mismatch = CheckpointError(
        f"the platform's copy of checkpoint #{number} does not match the published one "
        "(its head list does not hash to the signed digest)"
    )
    if head_list_sha256(head_list) != claims["heads_sha256"]:
        raise mismatch
    try:
        heads = json.loads(head_list)
    except ValueError as error:
        raise mismatch from error
    if not isinstance(heads, list) or len(heads) != claims["heads"]:
        raise mismatch
    return heads


def _heads_still_present(heads: list, *, number: int) -> int:
    """Each (stream, seq, hash) must still be the event at (stream, seq): looked up by the unique
    (stream, seq) index, LOOKUP_BATCH at a time."""
    for chunk in _chunks(heads, LOOKUP_BATCH):
        row = "(%s, %s::integer)" if connection.vendor == "postgresql" else "(%s, %s)"
        values = ", ".join([row] * len(chunk))
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT stream, seq, hash FROM audit_auditevent WHERE (stream, seq) IN (VALUES {values})",
                [value for stream, seq, _hash in chunk for value in (stream, seq)],
            )
            found = {(stream, seq): hash_ for stream, seq, hash_ in cursor.fetchall()}
        for stream, seq, hash_ in chunk:
            actual = found.get((stream, seq))
            if actual != hash_:
                what = "is gone" if actual is None else "has a different hash: the chain was rewritten"
                raise CheckpointError(
                    f"chain {stream}: event #{seq}, recorded by checkpoint #{number}, {what}"
                )
    return len(heads)


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
