"""PostgreSQL triggers for the rows the law wants kept as written (audit events, D34; consent
receipts, D32). Used by migrations; SQLite has no equivalent worth the name, so there the ORM's own
refusal and the hash chain stand alone.

- `refuse_changes`: a row trigger refusing UPDATE and DELETE (or DELETE alone).
- `refuse_truncate`: a statement trigger refusing TRUNCATE, which row triggers never see (TRUNCATE
  empties a table without visiting its rows). Without it, `TRUNCATE audit_auditevent` would wipe the
  whole trail in one statement.

TRUNCATE is refused unconditionally: there is no setting that lets a session through (a custom
setting would be one any role can SET). pytest-django's transactional tests empty every table with
TRUNCATE after each test, so tests/conftest.py disables these TRUNCATE triggers on the throw-away test
database only, right after creating it (`ALTER TABLE … DISABLE TRIGGER`, which needs the table's owner).

What these triggers do not stop: the tables' owner (or a superuser) can disable triggers, or switch them
off for a session (`session_replication_role = replica`, which needs superuser rights or, since
PostgreSQL 15, a granted privilege) — the application's own role should therefore not own these
tables in production. The triggers stop mistakes, bugs and tampering through the application's role;
what holds a database owner to the history is the hash chain and the signed daily checkpoints
(odr/audit/checkpoints.py).
"""

from django.db import migrations


def refuse_changes(
    *, table: str, trigger: str, message: str, operations: str = "UPDATE OR DELETE"
) -> migrations.RunPython:
    """The migration operation that installs (and, reversed, removes) the trigger on `table`.
    `operations`: "DELETE" alone for rows that are updated in place but never removed (chain heads)."""
    function = f"{trigger}_refuse_change"
    create = f"""
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '{message} (%% refused on {table})', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER {trigger}
    BEFORE {operations} ON {table}
    FOR EACH ROW EXECUTE FUNCTION {function}();
"""
    drop = f"DROP TRIGGER IF EXISTS {trigger} ON {table}; DROP FUNCTION IF EXISTS {function}();"
    return _postgresql_only(create, drop)


def refuse_truncate(*, table: str, trigger: str, message: str) -> migrations.RunPython:
    """The migration operation that installs (and, reversed, removes) a BEFORE TRUNCATE trigger."""
    create = f"""
{_truncate_function(table=table, trigger=trigger, message=message)}

CREATE TRIGGER {trigger}
    BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION {trigger}_refuse_truncate();
"""
    function = f"{trigger}_refuse_truncate"
    drop = f"DROP TRIGGER IF EXISTS {trigger} ON {table}; DROP FUNCTION IF EXISTS {function}();"
    return _postgresql_only(create, drop)


def refuse_truncate_unconditionally(*, table: str, trigger: str, message: str) -> migrations.RunPython:
    """Replace the function of a trigger installed by `refuse_truncate` before the `odr.allow_truncate`
    escape hatch was removed: existing databases get the unconditional refusal. Not reversed (a
    rollback keeps the stricter function: nothing should ever need the hatch back)."""
    create = _truncate_function(table=table, trigger=trigger, message=message)

    def install(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(create, params=())

    return migrations.RunPython(install, migrations.RunPython.noop)


def _truncate_function(*, table: str, trigger: str, message: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION {trigger}_refuse_truncate() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '{message} (TRUNCATE refused on {table})'
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;"""


def _postgresql_only(create: str, drop: str) -> migrations.RunPython:
    def install(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(create, params=())

    def remove(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(drop, params=())

    return migrations.RunPython(install, remove)
