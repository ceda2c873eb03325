"""Checkpoints publish a digest of their heads, not the heads (D30); the TRUNCATE refusal loses its
escape hatch; only the checkpoint writer moves a head's checkpointed point.

- `head_list`: the checkpoint's heads, kept by the platform only (the published JWS signs their
  SHA-256). `txid`: the transaction that wrote the checkpoint.
- On PostgreSQL, a trigger refuses any change of `checkpointed_seq`/`checkpointed_hash` unless a
  checkpoint row was written in the same transaction and the new point is an event of that chain
  with that hash: `verify_audit --since-checkpoint` starts each chain there, so a plain UPDATE
  setting it to the chain's end must not be able to skip the chain.
- The TRUNCATE functions are replaced by ones without `odr.allow_truncate` (odr/dbtriggers.py).
"""

from django.db import migrations, models

from odr.dbtriggers import refuse_truncate_unconditionally

GUARD = """
CREATE OR REPLACE FUNCTION audit_head_checkpointed_guard() RETURNS trigger AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM audit_auditcheckpoint WHERE txid = txid_current()) THEN
        RAISE EXCEPTION 'checkpointed point of chain %% set without a new checkpoint (UPDATE refused)',
            NEW.stream
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.checkpointed_seq > NEW.last_seq OR (
        NEW.checkpointed_seq > 0 AND NOT EXISTS (
            SELECT 1 FROM audit_auditevent
            WHERE stream = NEW.stream AND seq = NEW.checkpointed_seq AND hash = NEW.checkpointed_hash
        )
    ) THEN
        RAISE EXCEPTION 'checkpointed point of chain %% is not an event of it (UPDATE refused)',
            NEW.stream
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_head_checkpointed_guard
    BEFORE UPDATE ON audit_auditstreamhead
    FOR EACH ROW
    WHEN (OLD.checkpointed_seq IS DISTINCT FROM NEW.checkpointed_seq
          OR OLD.checkpointed_hash IS DISTINCT FROM NEW.checkpointed_hash)
    EXECUTE FUNCTION audit_head_checkpointed_guard();
"""
UNGUARD = """
DROP TRIGGER IF EXISTS audit_head_checkpointed_guard ON audit_auditstreamhead;
DROP FUNCTION IF EXISTS audit_head_checkpointed_guard();
"""


def guard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(GUARD, params=())


def unguard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(UNGUARD, params=())


class Migration(migrations.Migration):
    dependencies = [("audit", "0006_checkpoint_triggers_and_byte_order")]

    operations = [
        migrations.AddField(
            model_name="auditcheckpoint",
            name="head_list",
            field=models.TextField(default="", editable=False),
        ),
        migrations.AddField(
            model_name="auditcheckpoint",
            name="txid",
            field=models.BigIntegerField(db_index=True, editable=False, null=True),
        ),
        migrations.RunPython(guard, unguard),
        refuse_truncate_unconditionally(
            table="audit_auditevent",
            trigger="audit_event_no_truncate",
            message="audit events are append-only",
        ),
        refuse_truncate_unconditionally(
            table="audit_auditstreamhead",
            trigger="audit_head_no_truncate",
            message="audit chain heads cannot be emptied",
        ),
        refuse_truncate_unconditionally(
            table="audit_auditcheckpoint",
            trigger="audit_checkpoint_no_truncate",
            message="audit checkpoints are immutable",
        ),
    ]
