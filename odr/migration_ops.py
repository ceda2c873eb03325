"""Migration operations that behave well on a live PostgreSQL database and still run on SQLite.

A plain CREATE INDEX holds a SHARE lock on the table until it is built: on a big table (outbox,
deadlines, documents) every INSERT and UPDATE waits for minutes. CREATE INDEX CONCURRENTLY does not
block writes but cannot run inside a transaction, so a migration using this operation sets
`atomic = False`. Other databases (SQLite in development and tests) get a plain index.
"""

from django.db import migrations


class AddIndexConcurrentlyOnPostgres(migrations.AddIndex):
    """`migrations.AddIndex`, built with CREATE INDEX CONCURRENTLY on PostgreSQL (same arguments)."""

    atomic = False

    def _options(self, schema_editor) -> dict:
        if schema_editor.connection.vendor != "postgresql":
            return {}  # only PostgreSQL's schema editor takes `concurrently`
        if schema_editor.connection.in_atomic_block:
            raise NotImplementedError(
                f"{type(self).__name__} cannot run inside a transaction: set atomic = False on the migration."
            )
        return {"concurrently": True}

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.add_index(model, self.index, **self._options(schema_editor))

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = from_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.remove_index(model, self.index, **self._options(schema_editor))

    def describe(self):
        return f"{super().describe()} (concurrently on PostgreSQL)"
