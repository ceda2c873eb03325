"""D34 at scale: verification that cannot be fooled by emptying, and that gives one verdict however run."""

import hashlib
import json
import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from odr.audit.chain import canonical_time, event_hash
from odr.audit.models import AuditEvent
from odr.audit.services import audit_record, audit_verify


def record(stream, kind, **payload):
    with transaction.atomic():
        return audit_record(stream=stream, kind=kind, payload=payload)


def tamper(*statements):
    """Change the tables behind the ORM's back, with the triggers off (as a superuser could)."""
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


def trails(streams=3, events=4):
    for number in range(1, streams + 1):
        for seq in range(events):
            record(f"C-2026-{number:06d}", "complaint.step", step=seq, note="colis non livré")


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def fails(match, **options):
    with pytest.raises(CommandError, match=match):
        call_command("verify_audit", **options)


def test_d34_hash_rule_unchanged_for_stored_events():
    """The verifier's fast canonical text is byte for byte the json.dumps document the writer always
    hashed: every stored hash keeps verifying."""
    rng = random.Random(34)
    texts = ["C-2026-000001", 'M-"é\\\n\u2028', "x\x00y", "", "中文😀", "a/b"]
    for _ in range(500):
        fields = {
            "stream": rng.choice(texts),
            "seq": rng.randint(1, 10**9),
            "kind": rng.choice(texts),
            "occurred_at": datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=rng.randint(-11, 12))))
            + timedelta(microseconds=rng.randint(0, 10**14)),
            "actor_id": rng.choice([None, 1, 2**40]),
            "actor_role": rng.choice(texts),
            "payload": {
                rng.choice(texts): [1, 2.5, None, True, {"b": 1e16, "a": rng.choice(texts)}],
                "amount_cents": rng.randint(-(10**12), 10**12),
                "ratio": rng.random(),
            },
            "prev_hash": "0" * 64,
        }
        document = dict(fields, occurred_at=canonical_time(fields["occurred_at"]))
        text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert event_hash(**fields) == hashlib.sha256(text.encode()).hexdigest()


def test_d34_emptied_stream_is_found_and_named(db):
    trails()
    tamper(("DELETE FROM audit_auditevent WHERE stream = %s", ["C-2026-000002"]))
    result = audit_verify()
    assert not result.ok and result.broken_event.stream == "C-2026-000002"
    assert "the stream was emptied" in result.problem
    fails(r"chain C-2026-000002 \(head #4\): its head records #4 but no event of this case is left")


def test_d34_emptied_last_stream_is_found(db):
    """The last head in order has nothing after it to trigger the comparison: checked all the same."""
    trails()
    tamper(("DELETE FROM audit_auditevent WHERE stream = %s", ["C-2026-000003"]))
    fails(r"C-2026-000003 .*the stream was emptied")


def test_d34_emptied_table_is_found(db):
    trails()
    if connection.vendor == "postgresql":
        tamper(("TRUNCATE audit_auditevent", []))
    else:
        tamper(("DELETE FROM audit_auditevent", []))
    fails(r"chain C-2026-000001 .*the stream was emptied")


def test_d34_events_without_a_head_are_found(db):
    trails()
    tamper(("DELETE FROM audit_auditstreamhead WHERE stream = %s", ["C-2026-000002"]))
    fails(r"event C-2026-000002 #1 .*no chain head")


def test_d34_chain_ending_before_its_head_is_found(db):
    trails()
    tamper(("DELETE FROM audit_auditevent WHERE stream = %s AND seq > 2", ["C-2026-000001"]))
    fails(r"event C-2026-000001 #2 .*ends at #2 but its head records #4: later events were removed")


def test_d34_verify_one_case_checks_its_head(db):
    trails()
    tamper(("DELETE FROM audit_auditevent WHERE stream = %s", ["C-2026-000002"]))
    assert audit_verify(stream="C-2026-000001").ok
    assert "emptied" in audit_verify(stream="C-2026-000002").problem


def test_d34_verification_query_count_is_constant(db):
    """Two ordered reads whatever the number of chains (plus the savepoint around them here)."""
    counts = []
    for streams in (3, 30):
        trails(streams=streams, events=2)
        with CaptureQueriesContext(connection) as queries:
            result = audit_verify()
        assert result.ok and result.checked == AuditEvent.objects.count() and result.streams == streams
        counts.append([query["sql"].split()[0] for query in queries])
    assert counts[0] == counts[1]
    reads = "DECLARE" if connection.vendor == "postgresql" else "SELECT"  # named cursors on PostgreSQL
    assert counts[0].count(reads) == 2, counts[0]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_d34_jobs_give_the_same_verdict_as_one_job():
    trails(streams=9, events=3)
    one, two, four = (audit_verify(jobs=jobs) for jobs in (1, 2, 4))
    assert one.ok and two.ok and four.ok
    assert (one.checked, one.streams) == (two.checked, two.streams) == (four.checked, four.streams) == (27, 9)
    tamper(
        (
            "UPDATE audit_auditevent SET payload = %s WHERE stream = %s AND seq = 2",
            ['{"step": 9}', "C-2026-000007"],
        )
    )
    verdicts = [audit_verify(jobs=jobs) for jobs in (1, 2, 4)]
    assert {(v.ok, v.broken_event.stream, v.broken_event.seq, v.problem) for v in verdicts} == {
        (False, "C-2026-000007", 2, "its content does not match its hash (edited after it was written)")
    }
    fails(r"event C-2026-000007 #2 \(complaint.step, id \d+\): its content does not match", jobs=2)
    tamper(("DELETE FROM audit_auditevent WHERE stream = %s", ["C-2026-000004"]))
    fails(r"chain C-2026-000004 \(head #3\).*emptied", jobs=3)


def test_d34_verify_reads_times_as_written(db):
    """The time is hashed in UTC with microseconds; PostgreSQL's formatting must agree (zero
    microseconds included, which SQLite's text drops)."""
    import time_machine

    with time_machine.travel(datetime(2026, 3, 29, 1, 0, 0, tzinfo=UTC), tick=False):
        record("C-2026-000001", "complaint.filed")
    with time_machine.travel(datetime(2026, 10, 25, 2, 30, 0, 1, tzinfo=UTC), tick=False):
        record("C-2026-000001", "complaint.answered")
    assert audit_verify().ok


def test_d34_jobs_inside_a_transaction_run_as_one(db):
    """Workers on their own connections could not see uncommitted rows: inside a transaction (and on
    SQLite) --jobs runs one job, with the same verdict."""
    trails(streams=4, events=2)
    assert audit_verify(jobs=3) == audit_verify(jobs=1)
    assert audit_verify(jobs=3).checked == 8
