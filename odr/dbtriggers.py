"""A PostgreSQL trigger that refuses UPDATE and DELETE on a table: for the rows the law wants kept
as written (audit events, D34; consent receipts, D32). Used by migrations; SQLite has no equivalent
worth the name, so there the ORM's own refusal and the hash chain stand alone.

TRUNCATE is not affected: test isolation and a deliberate, table-owner purge use it.
"""

from django.db import migrations


def refuse_changes(*, table: str, trigger: str, message: str) -> migrations.RunPython:
    """The migration operation that installs (and, reversed, removes) the trigger on `table`."""
    function = f"{trigger}_refuse_change"
    create = f"""
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '{message} (%% refused on {table})', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER {trigger}
    BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION {function}();
"""
    drop = f"DROP TRIGGER IF EXISTS {trigger} ON {table}; DROP FUNCTION IF EXISTS {function}();"

    def install(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(create, params=())

    def remove(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(drop, params=())

    return migrations.RunPython(install, remove)
