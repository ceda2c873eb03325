"""PostgreSQL triggers for the rows the law wants kept as written (audit events, D34; consent
receipts, D32). Used by migrations; SQLite has no equivalent worth the name, so there the ORM's own
refusal and the hash chain stand alone.

- `refuse_changes`: a row trigger refusing UPDATE and DELETE (or DELETE alone).
- `refuse_truncate`: a statement trigger refusing TRUNCATE, which row triggers never see (TRUNCATE
  empties a table without visiting its rows). Without it, `TRUNCATE audit_auditevent` would wipe the
  whole trail in one statement.

TRUNCATE is allowed only in a session where the custom setting `odr.allow_truncate` is `on`. Nothing
in the application sets it. The test suite does, on its throw-away test database only
(`ALTER DATABASE test_… SET odr.allow_truncate = on` in tests/conftest.py), because pytest-django's
transactional tests empty every table with TRUNCATE after each test. Turning it on is as deliberate as
switching triggers off (`session_replication_role = replica`), which a table owner can always do:
these triggers stop mistakes, bugs and casual tampering; what holds a database owner to the history
is the hash chain and the signed daily checkpoints (odr/audit/checkpoints.py).
"""

from django.db import migrations

ALLOW_TRUNCATE_SETTING = "odr.allow_truncate"


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
    function = f"{trigger}_refuse_truncate"
    create = f"""
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$
BEGIN
    -- current_setting(..., true): NULL rather than an error when the setting was never defined.
    IF coalesce(current_setting('{ALLOW_TRUNCATE_SETTING}', true), '') = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '{message} (TRUNCATE refused on {table})'
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER {trigger}
    BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION {function}();
"""
    drop = f"DROP TRIGGER IF EXISTS {trigger} ON {table}; DROP FUNCTION IF EXISTS {function}();"
    return _postgresql_only(create, drop)


def _postgresql_only(create: str, drop: str) -> migrations.RunPython:
    def install(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(create, params=())

    def remove(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(drop, params=())

    return migrations.RunPython(install, remove)
