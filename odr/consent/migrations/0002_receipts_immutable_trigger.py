"""On PostgreSQL, refuse UPDATE and DELETE on consent receipts in the database itself (D32).

The ORM already refuses them; the trigger also stops raw SQL and other tools. Receipts carry no
personal data (a pseudonymous principal id), so retention (D35) never needs to rewrite one.
"""

from django.db import migrations

from odr.dbtriggers import refuse_changes


class Migration(migrations.Migration):
    dependencies = [("consent", "0001_initial")]

    operations = [
        refuse_changes(
            table="consent_consentreceipt",
            trigger="consent_receipt_immutable",
            message="consent receipts are immutable",
        )
    ]
