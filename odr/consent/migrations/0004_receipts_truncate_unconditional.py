"""On PostgreSQL, the TRUNCATE refusal on consent receipts loses its `odr.allow_truncate` escape
hatch (a custom setting any role can SET). See odr/dbtriggers.py."""

from django.db import migrations

from odr.dbtriggers import refuse_truncate_unconditionally


class Migration(migrations.Migration):
    dependencies = [("consent", "0003_receipts_refuse_truncate")]

    operations = [
        refuse_truncate_unconditionally(
            table="consent_consentreceipt",
            trigger="consent_receipt_no_truncate",
            message="consent receipts are immutable",
        )
    ]
