"""Alembic environment: run programmatically by storage.database.upgrade_database.

The caller opens the connection (and takes the lock that serialises concurrent upgrades) and
passes it in `config.attributes["connection"]`; there is no alembic.ini and no offline mode.
"""

from __future__ import annotations

from alembic import context

from storage.schema import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("newsmon migrations run through storage.database.upgrade_database()")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
