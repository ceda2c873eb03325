"""On PostgreSQL, refuse TRUNCATE on consent receipts (D32), which the row trigger of 0002 never
sees. See odr/dbtriggers.py."""

from django.db import migrations

from odr.dbtriggers import refuse_truncate


class Migration(migrations.Migration):
    dependencies = [("consent", "0002_receipts_immutable_trigger")]

    operations = [
        refuse_truncate(
            table="consent_consentreceipt",
            trigger="consent_receipt_no_truncate",
            message="consent receipts are immutable",
        )
    ]
