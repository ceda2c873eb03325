"""D34: signed checkpoints hold the platform to yesterday's heads, verifiable with the public key alone."""

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from odr.audit.chain import canonical_time, event_hash
from odr.audit.checkpoints import checkpoint_record
from odr.audit.models import GENESIS_HASH, AuditCheckpoint, AuditEvent, AuditStreamHead
from odr.audit.services import audit_verify
from tests.odr.audit.test_verify import record, tamper


def trails(streams=3, events=3, start=1):
    for number in range(start, start + streams):
        for step in range(events):
            record(f"C-2026-{number:06d}", "complaint.step", step=step)


@pytest.fixture(autouse=True)
def _keys_and_language(settings, tmp_path):
    settings.ODR_SIGNING_KEYS_DIR = tmp_path / "signing-keys"
    with translation.override("en"):
        yield


def download(client, directory):
    """What an auditor keeps: the published files and the public key set, over the public URLs."""
    directory.mkdir(exist_ok=True)
    listing = client.get("/.well-known/audit-checkpoints/")
    assert listing.status_code == 200
    for entry in listing.json()["checkpoints"]:
        response = client.get(entry["url"].removeprefix("http://testserver"))
        assert response.status_code == 200 and response["Content-Type"] == "application/jose"
        (directory / f"{entry['number']:08d}.jws").write_bytes(response.content)
    keys = directory.parent / "jwks.json"
    keys.write_bytes(client.get("/.well-known/jwks.json").content)
    return directory, keys


def verify(*args):
    call_command("verify_audit", *args)


def rewrite_chain(stream):
    """Rewrite a whole chain consistently from genesis: new content, recomputed hashes and head — what
    an insider with database access would do. The chain alone then verifies."""
    events = list(AuditEvent.objects.filter(stream=stream).order_by("seq"))
    previous = GENESIS_HASH
    statements = []
    for event in events:
        fields = {
            "stream": stream,
            "seq": event.seq,
            "kind": event.kind,
            "occurred_at": event.occurred_at,
            "actor_id": event.actor_id,
            "actor_role": event.actor_role,
            "payload": {"step": event.seq * 100},
            "prev_hash": previous,
        }
        digest = event_hash(**fields)
        statements.append(
            (
                "UPDATE audit_auditevent SET payload = %s, prev_hash = %s, hash = %s WHERE id = %s",
                [json.dumps(fields["payload"]), previous, digest, event.pk],
            )
        )
        previous = digest
    statements.append(
        ("UPDATE audit_auditstreamhead SET last_hash = %s WHERE stream = %s", [previous, stream])
    )
    tamper(*statements)
    assert canonical_time(events[0].occurred_at)  # the times were kept as they were


def test_d34_checkpoint_verifies_with_the_public_key_alone(db, client, tmp_path, settings):
    trails()
    [checkpoint] = checkpoint_record()
    assert checkpoint.number == 1 and checkpoint.heads == 3
    files, keys = download(client, tmp_path / "checkpoints")
    settings.ODR_SIGNING_KEYS_DIR = tmp_path / "elsewhere"  # the private key is out of reach
    verify("--checkpoint", str(files), "--keys", str(keys))


def test_d34_rewritten_chain_fails_against_the_checkpoint(db, client, tmp_path, capsys):
    trails()
    checkpoint_record()
    files, keys = download(client, tmp_path / "checkpoints")
    rewrite_chain("C-2026-000002")
    assert audit_verify().ok  # consistent on its own: only the checkpoint can tell
    with pytest.raises(
        CommandError, match=r"chain C-2026-000002: event #3, recorded by checkpoint #1, has a different"
    ):
        verify("--checkpoint", str(files), "--keys", str(keys))


def test_d34_checkpoints_are_incremental_and_chained(db, client, tmp_path):
    trails(streams=3)
    first = checkpoint_record()
    trails(streams=2, start=3)  # one chain grows, one is new; two are untouched
    second = checkpoint_record(max_heads=1)  # two changed chains, one head per checkpoint
    assert [c.heads for c in first + second] == [3, 1, 1]
    stored = list(AuditCheckpoint.objects.order_by("number"))
    claims = [json.loads(_payload(c.compact)) for c in stored]
    # The head lists stay with the platform: the signed claims carry their digest and length.
    assert [[h[0] for h in json.loads(c.head_list)] for c in stored[1:]] == [
        ["C-2026-000003"],
        ["C-2026-000004"],
    ]
    assert [c["heads"] for c in claims] == [3, 1, 1]
    assert claims[1]["heads_sha256"] == hashlib.sha256(stored[1].head_list.encode()).hexdigest()
    assert claims[1]["previous"] == first[0].sha256 and claims[0]["previous"] == GENESIS_HASH
    assert not AuditStreamHead.objects.exclude(checkpointed_seq=F("last_seq")).exists()
    files, keys = download(client, tmp_path / "checkpoints")
    verify("--checkpoint", str(files), "--keys", str(keys))
    verify("--checkpoint", str(files / "00000003.jws"), "--keys", str(keys))  # the latest alone
    (tmp_path / "junk.jws").write_text("not a checkpoint")
    with pytest.raises(CommandError, match=r"junk\.jws: not an audit checkpoint"):
        verify("--checkpoint", str(tmp_path / "junk.jws"), "--keys", str(keys))
    (files / "00000002.jws").unlink()  # an auditor handed a set with one left out
    with pytest.raises(CommandError, match="checkpoint #2 is missing"):
        verify("--checkpoint", str(files), "--keys", str(keys))


def test_d34_altered_checkpoint_file_fails(db, client, tmp_path):
    trails()
    checkpoint_record()
    files, keys = download(client, tmp_path / "checkpoints")
    path = files / "00000001.jws"
    header, _signed, signature = path.read_text().split(".")
    claims = json.loads(_payload(path.read_text()))
    claims["heads_sha256"] = "f" * 64
    forged = _b64(json.dumps(claims).encode())
    path.write_text(f"{header}.{forged}.{signature}")
    with pytest.raises(CommandError, match="signature does not match"):
        verify("--checkpoint", str(files), "--keys", str(keys))


def test_d34_since_checkpoint_checks_only_the_new_events(db):
    trails(streams=4, events=3)
    checkpoint_record()
    trails(streams=1, events=2, start=2)
    result = audit_verify(since_checkpoint=True)
    assert result.ok and result.checked == 2 and result.streams == 1
    # The checkpointed event itself is the starting point: rewritten, the daily check fails.
    tamper(
        ("UPDATE audit_auditevent SET hash = %s WHERE stream = %s AND seq = 3", ["e" * 64, "C-2026-000002"])
    )
    result = audit_verify(since_checkpoint=True)
    assert not result.ok and "last checkpoint recorded (#3)" in result.problem
    with pytest.raises(CommandError, match=r"C-2026-000002 #3"):
        verify("--since-checkpoint")


def test_d34_since_checkpoint_query_count_does_not_grow_with_history(db):
    counts = []
    for start, chains in ((1, 2), (100, 20)):  # 2 chains of history, then 22
        trails(streams=chains, events=2, start=start)
        checkpoint_record()
        trails(streams=1, events=1, start=start)
        with CaptureQueriesContext(connection) as queries:
            assert audit_verify(since_checkpoint=True).checked == 1
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_d34_checkpoint_list_is_public_and_paged(db, client, monkeypatch):
    trails(streams=1)
    checkpoint_record()
    trails(streams=1, start=2)
    checkpoint_record()
    monkeypatch.setattr("odr.audit.views.PAGE", 1)
    page = client.get("/.well-known/audit-checkpoints/").json()
    assert [c["number"] for c in page["checkpoints"]] == [1] and page["next"].endswith("?after=1")
    assert [c["number"] for c in client.get(page["next"]).json()["checkpoints"]] == [2]
    assert client.get("/.well-known/audit-checkpoints/9.jws").status_code == 404
    assert client.get("/.well-known/audit-checkpoints/?after=x").status_code == 200
    beyond = client.get("/.well-known/audit-checkpoints/?after=" + "9" * 30)
    assert beyond.status_code == 200 and beyond.json()["checkpoints"] == []


def _payload(compact: str) -> str:
    encoded = compact.split(".")[1]
    return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_d34_large_checkpoint_signs_and_verifies(db):
    """joserfc refuses payloads over 128,000 bytes by default; a checkpoint of 20,000 heads is ~2 MB."""
    from odr.audit.checkpoints import MAX_PAYLOAD, TYPE
    from odr.consent.keys import jws_sign, jws_verify, public_jwks

    payload = json.dumps({"heads": [[f"C-2026-{n:06d}", 30, "a" * 64] for n in range(5_000)]}).encode()
    assert len(payload) > 400_000
    compact, kid = jws_sign(payload, typ=TYPE, max_payload=MAX_PAYLOAD)
    [key] = [key for key in public_jwks()["keys"] if key["kid"] == kid]
    assert jws_verify(compact, key, max_payload=MAX_PAYLOAD) == payload


def test_d34_daily_checkpoint_is_scheduled_and_costs_what_changed(db, settings):
    """Beat runs the task daily; a run with nothing changed costs the same whatever the history."""
    import time_machine

    from odr.audit.tasks import record_checkpoint

    entry = settings.CELERY_BEAT_SCHEDULE["audit-checkpoint"]
    assert entry["task"] == record_checkpoint.name == "odr.audit.checkpoint"
    counts = []
    for start, chains in ((1, 3), (100, 30)):
        trails(streams=chains, events=1, start=start)
        assert record_checkpoint() >= 1
        with time_machine.travel(datetime.now(UTC) + timedelta(days=start), tick=False):
            with CaptureQueriesContext(connection) as queries:
                assert record_checkpoint() == 1  # an empty checkpoint attests the day
            counts.append(len(queries))
    assert counts[0] == counts[1]
    assert AuditCheckpoint.objects.order_by("-number").first().heads == 0


def test_d30_published_checkpoints_name_no_stream(db, client, tmp_path):
    """A case's activity cannot be followed from the public files: no reference, user or merchant
    stream appears in the listing or in a checkpoint's header and claims."""
    trails()
    record("U-42", "consent.given")
    record("merchant-7", "merchant.updated")
    checkpoint_record()
    listing = client.get("/.well-known/audit-checkpoints/").content.decode()
    files, _keys = download(client, tmp_path / "checkpoints")
    published = [listing]
    for path in files.glob("*.jws"):
        header, payload, _signature = path.read_text().split(".")
        published += [_decode(header), _decode(payload)]
    for text in published:
        for name in ("C-2026-", "U-42", "merchant-7"):
            assert name not in text, (name, text)
    claims = json.loads(_decode(payload))
    assert claims["heads"] == 5 and set(claims) == {
        "version",
        "iss",
        "number",
        "created_at",
        "previous",
        "heads",
        "heads_sha256",
    }


def test_d34_platform_copy_of_the_head_list_must_match_the_signed_digest(db, client, tmp_path):
    trails()
    checkpoint_record()
    files, keys = download(client, tmp_path / "checkpoints")
    # The platform's stored list, swapped for one that leaves a chain out (rewritten meanwhile).
    tamper(
        (
            "UPDATE audit_auditcheckpoint SET head_list = %s WHERE number = 1",
            [json.dumps(json.loads(AuditCheckpoint.objects.get(number=1).head_list)[1:])],
        )
    )
    with pytest.raises(
        CommandError, match=r"the platform's copy of checkpoint #1 does not match the published one"
    ):
        verify("--checkpoint", str(files), "--keys", str(keys))


# A payload that names checkpoint #1, so the file reaches the header and signature checks.
_NUMBER_ONE = base64.urlsafe_b64encode(b'{"number": 1}').rstrip(b"=").decode()


@pytest.mark.parametrize(
    "content",
    [
        "",
        "....",
        "!!!.???.***",
        f"{_b64(b'[1, 2]')}.{_NUMBER_ONE}.sig",  # a header that is JSON, not an object
        f"{_b64(b'null')}.{_NUMBER_ONE}.sig",
        f"{_b64(b'not json')}.{_NUMBER_ONE}.sig",
        f"{_b64(json.dumps({'typ': 'odr-audit-checkpoint+jws', 'kid': ['x']}).encode())}.{_NUMBER_ONE}.sig",
        f"{_b64(json.dumps({'typ': 'odr-audit-checkpoint+jws', 'alg': 'EdDSA', 'kid': 'K'}).encode())}"
        f".{_NUMBER_ONE}.AAAA",
        f"{_b64(b'{}')}.{_b64(json.dumps({'number': True}).encode())}.sig",
        f"{_b64(b'{}')}.{_b64(json.dumps([1]).encode())}.sig",
    ],
)
def test_d34_malformed_checkpoint_files_fail_cleanly(db, client, tmp_path, content):
    """Whatever an auditor is handed, the answer is a message naming the file, never a crash."""
    trails(streams=1)
    checkpoint_record()
    _files, keys = download(client, tmp_path / "checkpoints")
    path = tmp_path / "00000001.jws"
    path.write_text(content)
    with pytest.raises(CommandError, match=r"BROKEN: .*00000001\.jws: "):
        verify("--checkpoint", str(path), "--keys", str(keys))


def test_d34_checkpoint_claims_reject_unexpected_shapes(db):
    """A header that is not an object, and claims of the wrong types even when signed: CheckpointError."""
    from odr.audit.checkpoints import TYPE, CheckpointError, checkpoint_claims
    from odr.consent.keys import jws_sign, public_jwks

    claims = {"version": "odr-audit-checkpoint/2", "number": "1", "created_at": "", "previous": ""}
    compact, _kid = jws_sign(json.dumps(claims).encode(), typ=TYPE)  # makes the key on first use
    keys = {key["kid"]: key for key in public_jwks()["keys"]}
    not_object = f"{_b64(b'[]')}.{_b64(b'{}')}.sig"
    with pytest.raises(CheckpointError, match="header is not a JSON object"):
        checkpoint_claims(not_object, keys, name="x.jws")
    with pytest.raises(CheckpointError, match="malformed checkpoint"):
        checkpoint_claims(compact, keys, name="x.jws")


@pytest.mark.postgres
def test_d34_checkpointed_point_moves_only_with_a_new_checkpoint(transactional_db):
    """--since-checkpoint starts each chain at its head's checkpointed point: a plain UPDATE moving
    it to the chain's end (which would skip the chain) is refused; the checkpoint writer's is not."""
    # transactional_db: each write its own transaction, as in production (one test transaction would
    # hold the checkpoint row the trigger looks for).
    from django.db import DatabaseError

    trails(streams=2)
    checkpoint_record()
    trails(streams=1, events=2)
    head = AuditStreamHead.objects.get(stream="C-2026-000001")
    with (
        pytest.raises(DatabaseError, match="without a new checkpoint"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "UPDATE audit_auditstreamhead SET checkpointed_seq = last_seq, "
            "checkpointed_hash = last_hash WHERE stream = %s",
            [head.stream],
        )
    # Appends still move the head itself, and the next checkpoint moves the checkpointed point.
    assert audit_verify(since_checkpoint=True).checked == 2  # the two appended events
    [checkpoint] = checkpoint_record()
    assert checkpoint.heads == 1 and checkpoint.txid is not None
    head.refresh_from_db()
    assert (head.checkpointed_seq, head.checkpointed_hash) == (head.last_seq, head.last_hash)


def _decode(encoded: str) -> str:
    return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
