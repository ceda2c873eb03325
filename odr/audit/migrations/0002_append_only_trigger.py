"""On PostgreSQL, refuse UPDATE and DELETE on audit events in the database itself (D34).

The ORM already refuses them; the trigger also stops raw SQL, the admin of another tool, or a bug.
"""

from django.db import migrations

from odr.dbtriggers import refuse_changes


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [
        refuse_changes(table="audit_auditevent", trigger="audit_event_append_only", message="audit events are append-only")
    ]
