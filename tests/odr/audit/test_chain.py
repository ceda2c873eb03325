"""D34: an append-only, hash-chained audit trail and the command that proves it unbroken."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.utils import translation

from odr.audit.chain import event_hash
from odr.audit.models import GENESIS_HASH, AppendOnlyError, AuditEvent
from odr.audit.services import audit_record, audit_verify
from tests.conftest import truncate_triggers
from tests.helpers import file_complaint


def record(stream, kind, **payload):
    with transaction.atomic():
        return audit_record(stream=stream, kind=kind, payload=payload)


def tamper(sql, params):
    """Change the table behind the ORM's back, as someone with database access could.
    On PostgreSQL that takes a superuser who switches triggers off for the session."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        try:
            cursor.execute(sql, params)
        finally:
            if connection.vendor == "postgresql":
                cursor.execute("SET session_replication_role = DEFAULT")


@pytest.fixture
def chain(db):
    first = record("C-2026-000001", "complaint.filed", amount_cents=8990, note="colis non livré")
    second = record("C-2026-000001", "complaint.answered", decision="reject")
    third = record("C-2026-000001", "complaint.referred", case="M-2026-000001")
    return [first, second, third]


@pytest.fixture(autouse=True)
def _english_problems():
    """The chain's problems are translated; these tests read them in English."""
    with translation.override("en"):
        yield


def test_d34_each_event_carries_the_hash_of_the_previous_one(chain):
    first, second, third = chain
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash
    assert third.prev_hash == second.hash
    assert [e.seq for e in chain] == [1, 2, 3]


def test_d34_hash_is_sha256_of_the_canonical_event(chain):
    event = AuditEvent.objects.get(pk=chain[0].pk)
    expected = event_hash(
        stream=event.stream,
        seq=1,
        kind="complaint.filed",
        occurred_at=event.occurred_at,
        actor_id=None,
        actor_role="",
        payload={"note": "colis non livré", "amount_cents": 8990},
        prev_hash=GENESIS_HASH,
    )
    assert event.hash == expected and len(expected) == 64


def test_d34_chains_are_per_case(chain):
    other = record("M-2026-000001", "case.received")
    assert other.seq == 1 and other.prev_hash == GENESIS_HASH
    result = audit_verify()
    assert result.ok and result.checked == 4 and result.streams == 2


def test_d34_verify_command_prints_count_and_succeeds(chain, capsys):
    call_command("verify_audit")
    assert "OK: 3 event(s) in 1 chain(s) verified" in capsys.readouterr().out
    call_command("verify_audit", "--case", "C-2026-000001")


def test_d34_verify_unknown_case_fails(chain):
    with pytest.raises(CommandError, match="No audit events"):
        call_command("verify_audit", "--case", "C-1999-000001")


def test_d34_edited_payload_is_found_and_named(chain):
    tamper(
        "UPDATE audit_auditevent SET payload = %s WHERE id = %s",
        [json.dumps({"decision": "accept"}), chain[1].pk],
    )
    result = audit_verify()
    assert not result.ok
    assert result.broken_event.pk == chain[1].pk
    assert "content does not match" in result.problem
    with pytest.raises(CommandError, match=r"BROKEN: event C-2026-000001 #2 \(complaint.answered"):
        call_command("verify_audit")


def test_d34_rewritten_hash_breaks_the_next_link(chain):
    tamper("UPDATE audit_auditevent SET hash = %s WHERE id = %s", ["f" * 64, chain[1].pk])
    result = audit_verify()
    assert result.broken_event.seq == 2  # its own content no longer matches its hash


def test_d34_deleted_event_is_found(chain):
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [chain[1].pk])
    result = audit_verify()
    assert result.broken_event.pk == chain[2].pk
    assert "sequence number 3 where 2 was expected" in result.problem


def test_d34_deleted_last_event_is_found_through_the_chains_head(chain):
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [chain[2].pk])
    result = audit_verify()
    assert result.broken_event.pk == chain[1].pk
    assert "later events were removed" in result.problem


def test_d34_orm_refuses_update_and_delete(chain):
    event = chain[0]
    event.kind = "something.else"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(kind="x")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    assert audit_verify().ok


@pytest.mark.postgres
def test_d34_database_trigger_refuses_update_and_delete(chain):
    for sql in ("UPDATE audit_auditevent SET kind = 'x'", "DELETE FROM audit_auditevent"):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql)
    assert AuditEvent.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_audit_record_needs_the_use_case_transaction():
    with pytest.raises(RuntimeError):
        audit_record(stream="C-2026-000009", kind="x")


def test_d34_real_use_cases_leave_verifiable_trails(consumer, merchant):
    complaint = file_complaint(consumer, merchant)
    result = audit_verify(stream=complaint.reference)
    assert result.ok and result.checked == 3  # filed + two consents (D31)


@pytest.mark.postgres
@pytest.mark.parametrize(
    "table",
    ["audit_auditevent", "audit_auditstreamhead", "audit_auditcheckpoint", "consent_consentreceipt"],
)
def test_d34_database_trigger_refuses_truncate(chain, table):
    """TRUNCATE bypasses row triggers: a statement trigger refuses it, unconditionally. The test
    database has it disabled for pytest-django's flushes (tests/conftest.py): re-enabled here inside
    the test's transaction, which the rollback undoes (ALTER TABLE is transactional)."""
    with (
        pytest.raises(DatabaseError, match="TRUNCATE refused"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the fixture's deferred checks run first
        [trigger] = [name for owner, name in truncate_triggers(cursor) if owner == table]
        cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")
        # Even a session that sets the former escape hatch gets no way through.
        cursor.execute("SET LOCAL odr.allow_truncate = on")
        cursor.execute(f"TRUNCATE {table} CASCADE")
    assert AuditEvent.objects.count() == 3
