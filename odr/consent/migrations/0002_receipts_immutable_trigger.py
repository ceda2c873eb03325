"""On PostgreSQL, refuse UPDATE and DELETE on consent receipts in the database itself (D32).

The ORM already refuses them; the trigger also stops raw SQL and other tools. Receipts carry no
personal data (a pseudonymous principal id), so retention (D35) never needs to rewrite one.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION consent_receipt_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'consent receipts are immutable (%% refused on consent_consentreceipt)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER consent_receipt_immutable
    BEFORE UPDATE OR DELETE ON consent_consentreceipt
    FOR EACH ROW EXECUTE FUNCTION consent_receipt_refuse_change();
"""

DROP = """
DROP TRIGGER IF EXISTS consent_receipt_immutable ON consent_consentreceipt;
DROP FUNCTION IF EXISTS consent_receipt_refuse_change();
"""


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=())


def remove(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=())


class Migration(migrations.Migration):
    dependencies = [("consent", "0001_initial")]

    operations = [migrations.RunPython(install, remove)]
