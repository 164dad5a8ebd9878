"""Alembic's environment: migrations run on the connection the caller puts in ``config.attributes``.

There is no alembic.ini: ``monitor.store.migrations`` builds the configuration in code, and
the database is whatever the Store opened, so a migration never reaches for a URL of its own.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from monitor.store.models import Base

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("Dosis migrations run on a connection: use monitor.store.migrations.config(connection)")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most of a table; batch mode copies the table, so later revisions can alter columns there.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
