"""Alembic environment of the central store: runs on the connection handed over by softclock.sync.admin."""

from alembic import context

from softclock.sync.central import VERSION_TABLE, CentralBase

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=CentralBase.metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
