"""The indexes added to big tables are built with CREATE INDEX CONCURRENTLY on PostgreSQL (writes go
on while they are built), and the documents' migrations run backwards and forwards for real."""

import uuid

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CONCURRENT = [
    ("notifications", "0002_outboxmessage_outbox_dead", "outbox_dead"),
    ("notifications", "0003_outbox_dead_acknowledged", "outbox_dead_unacknowledged"),
    ("deadlines", "0004_deadline_deadline_breached", "deadline_breached"),
    ("documents", "0003_generateddocument_document_failed", "document_failed"),
    ("documents", "0004_document_pending", "document_pending"),
    ("documents", "0005_document_running_lease", "document_running_lease"),
]


@pytest.mark.parametrize(("app", "migration", "index"), CONCURRENT)
def test_the_index_is_created_concurrently_outside_a_transaction(app, migration, index):
    sql = call_command("sqlmigrate", app, migration)
    assert f'CREATE INDEX CONCURRENTLY "{index}"' in sql
    assert "BEGIN;" not in sql  # atomic = False: CONCURRENTLY cannot run in a transaction


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)


def _indexes() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'documents_generateddocument'"
            " AND indexname LIKE 'document_%%'"
        )
        return {row[0] for row in cursor.fetchall()}


def test_the_documents_migrations_run_backwards_and_forwards_and_lease_what_was_running():
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes("documents")
    _migrate([("documents", "0001_initial")])
    try:
        assert not {"document_running_lease", "document_failed", "document_pending"} & _indexes()
        with connection.cursor() as cursor:  # what the previous release left: one running, one ready
            for status in ("running", "ready"):
                cursor.execute(
                    "INSERT INTO documents_generateddocument (kind, subject_reference, parameters, language,"
                    " status, progress, file, filename, sha256, size, requested_at, error)"
                    " VALUES ('case_export', 'B-x', '{}', 'fr', %s, 40, '', '', '', 0, now(), '')",
                    [status],
                )
    finally:
        _migrate(latest)
    assert {"document_running_lease", "document_failed", "document_pending"} <= _indexes()
    with connection.cursor() as cursor:
        cursor.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = 'document_pending'::regclass")
        assert cursor.fetchone() == (True,)
        cursor.execute(
            "SELECT status, lease_token, lease_expires_at > now() + interval '1 minute'"
            " FROM documents_generateddocument ORDER BY status"
        )
        (ready, ready_token, _), (running, running_token, leased) = cursor.fetchall()
    assert (ready, ready_token) == ("ready", None)
    assert running == "running" and isinstance(running_token, uuid.UUID) and leased


def test_the_dead_letter_acknowledgement_migrates_backwards_and_forwards():
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes("notifications")

    def outbox_indexes() -> set[str]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'notifications_outboxmessage'"
                " AND indexname LIKE 'outbox_dead%%'"
            )
            return {row[0] for row in cursor.fetchall()}

    _migrate([("notifications", "0002_outboxmessage_outbox_dead")])
    try:
        assert outbox_indexes() == {"outbox_dead"}
    finally:
        _migrate(latest)
    assert outbox_indexes() == {"outbox_dead_unacknowledged"}
