"""D34: signed checkpoints hold the platform to yesterday's heads, verifiable with the public key alone."""

import base64
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
from odr.audit.services import audit_record, audit_verify


def record(stream, kind, **payload):
    with transaction.atomic():
        return audit_record(stream=stream, kind=kind, payload=payload)


def trails(streams=3, events=3, start=1):
    for number in range(start, start + streams):
        for step in range(events):
            record(f"C-2026-{number:06d}", "complaint.step", step=step)


def tamper(*statements):
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET session_replication_role = replica")
        try:
            for sql, params in statements:
                cursor.execute(sql, params)
        finally:
            if connection.vendor == "postgresql":
                cursor.execute("SET session_replication_role = DEFAULT")


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
    claims = [json.loads(_payload(c.compact)) for c in AuditCheckpoint.objects.order_by("number")]
    assert [sorted(h[0] for h in c["heads"]) for c in claims[1:]] == [["C-2026-000003"], ["C-2026-000004"]]
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
    claims["heads"] = claims["heads"][:1]
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
