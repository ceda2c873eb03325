from django.db import migrations, models

from odr.migration_ops import AddIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY on PostgreSQL (no write waits on it), alone in its migration: if it
    # fails, nothing else is half applied.
    atomic = False

    dependencies = [
        ("documents", "0004_document_pending"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="generateddocument",
            index=models.Index(
                condition=models.Q(("status", "running")),
                fields=["lease_expires_at"],
                name="document_running_lease",
            ),
        ),
    ]
