"""On PostgreSQL:

- checkpoints refuse UPDATE, DELETE and TRUNCATE (published, then kept as written);
- chain heads refuse DELETE (a removed head would hide an emptied stream; heads are updated in place);
- the `stream` columns of events and heads sort in byte order (COLLATE "C"). The verifier reads heads
  and events in stream order and merges the two in Python, whose string order is code-point order =
  UTF-8 byte order; a linguistic collation (en_US…) orders "C-2026-1" and "C2026" differently. The
  indexes are rebuilt with the column, so the ordered reads stay index scans.
"""

from django.db import migrations

from odr.dbtriggers import refuse_changes, refuse_truncate

BYTE_ORDER = """
ALTER TABLE audit_auditevent ALTER COLUMN stream TYPE varchar(32) COLLATE "C";
ALTER TABLE audit_auditstreamhead ALTER COLUMN stream TYPE varchar(32) COLLATE "C";
"""
DEFAULT_ORDER = """
ALTER TABLE audit_auditevent ALTER COLUMN stream TYPE varchar(32) COLLATE "default";
ALTER TABLE audit_auditstreamhead ALTER COLUMN stream TYPE varchar(32) COLLATE "default";
"""


def byte_order(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BYTE_ORDER, params=())


def default_order(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DEFAULT_ORDER, params=())


class Migration(migrations.Migration):
    dependencies = [("audit", "0005_checkpoints")]

    operations = [
        refuse_changes(
            table="audit_auditcheckpoint",
            trigger="audit_checkpoint_immutable",
            message="audit checkpoints are immutable",
        ),
        refuse_truncate(
            table="audit_auditcheckpoint",
            trigger="audit_checkpoint_no_truncate",
            message="audit checkpoints are immutable",
        ),
        refuse_changes(
            table="audit_auditstreamhead",
            trigger="audit_head_kept",
            message="audit chain heads are kept",
            operations="DELETE",
        ),
        migrations.RunPython(byte_order, default_order),
    ]
