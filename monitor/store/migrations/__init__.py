"""Schema migrations: Alembic revisions that bring any Dosis database to the schema of this code.

``Store`` calls :func:`migrate` whenever it opens a database. A change to ``models.py`` needs
a new revision in ``versions/``; draft it against a database at the current head with
``alembic.command.revision(config(connection), message=..., autogenerate=True)``, then read
and tidy what it wrote. ``tests/test_migrations.py`` checks that the revisions build exactly
the tables ``models.py`` declares.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect

SCRIPT_LOCATION = Path(__file__).parent
"""This package's folder: ``env.py`` and ``versions/`` are all Alembic needs."""

PREVIOUS_SCHEMA_REVISION = "0001"
PREVIOUS_SCHEMA_TABLES = frozenset(
    {"clinician", "patient", "training_session", "session_analysis", "session_event", "signal_chunk"}
)
"""The tables Dosis created without Alembic, up to commit 241dc62; revision 0001 is exactly them."""

VERSION_TABLE = "alembic_version"

# Alembic's ``op`` and ``context`` are module-level proxies to the migration running now, so a
# process runs one at a time, whichever database it is on.
_IN_THIS_PROCESS = threading.Lock()

# Any fixed number: the key of the PostgreSQL advisory lock that lets one app server migrate at a time.
_POSTGRES_LOCK_KEY = 0x446F736973


class SchemaError(RuntimeError):
    """The database holds a schema this version of Dosis cannot bring to its own."""


def config(connection: Connection | None = None, script_location: Path = SCRIPT_LOCATION) -> Config:
    """Alembic's configuration, built in code; commands that touch the database run on ``connection``."""
    alembic_config = Config()
    # The option goes through configparser, which reads % as interpolation.
    alembic_config.set_main_option("script_location", str(script_location).replace("%", "%%"))
    if connection is not None:
        alembic_config.attributes["connection"] = connection
    return alembic_config


@cache
def _script(script_location: Path) -> ScriptDirectory:
    # Reading the revision files once per process keeps opening a Store at head cheap.
    return ScriptDirectory.from_config(config(script_location=script_location))


def head(script_location: Path = SCRIPT_LOCATION) -> str:
    """The newest revision this code knows."""
    revision = _script(script_location).get_current_head()
    assert revision is not None, f"no revisions in {script_location}"
    return revision


def current_revision(connection: Connection) -> str | None:
    """The revision ``connection``'s database is at; None if it has never been migrated."""
    return MigrationContext.configure(connection).get_current_revision()


def migrate(engine: Engine, script_location: Path = SCRIPT_LOCATION) -> None:
    """Bring the database to :func:`head`.

    An empty database is built by every revision in turn; one Dosis created before it used
    Alembic (exactly the tables of revision 0001) is stamped 0001 and upgraded; one at
    head is left alone. A database at a revision this code does not know, or with other
    tables and no revision, raises :class:`SchemaError`: it is never downgraded or guessed at.
    """
    target = head(script_location)
    with engine.connect() as connection:
        if current_revision(connection) == target:
            return
        connection.rollback()
        with _IN_THIS_PROCESS, _migrating(connection):
            # Read again under the lock: another process opening the same database may have just migrated it.
            current = current_revision(connection)
            if current == target:
                return
            alembic_config = config(connection, script_location)
            if current is None:
                tables = set(inspect(connection).get_table_names()) - {VERSION_TABLE}
                if tables == PREVIOUS_SCHEMA_TABLES:
                    command.stamp(alembic_config, PREVIOUS_SCHEMA_REVISION)
                elif tables:
                    raise SchemaError(
                        f"{engine.url!r} has tables ({', '.join(sorted(tables))}) but no schema revision, "
                        "and they are not the tables of an earlier Dosis; not opening it"
                    )
            elif current not in {script.revision for script in _script(script_location).walk_revisions()}:
                raise SchemaError(
                    f"{engine.url!r} is at schema revision {current!r}, which this version of Dosis does not know "
                    f"(its newest is {target!r}): it was written by a newer Dosis; use that one"
                )
            command.upgrade(alembic_config, "head")


@contextmanager
def _migrating(connection: Connection) -> Iterator[None]:
    """One transaction that holds the database's write lock, committed if the block completes.

    On SQLite, foreign keys are off meanwhile, as SQLite's own procedure for schema changes
    has it: batch mode rebuilds a table by dropping it, and with foreign keys on, dropping
    ``patient`` would delete every session through ON DELETE CASCADE. The keys are checked
    before the commit instead.
    """
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        foreign_keys = connection.exec_driver_sql("PRAGMA foreign_keys").scalar_one()
        # Before BEGIN: inside a transaction SQLite ignores it.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    elif connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_POSTGRES_LOCK_KEY})")
    try:
        yield
        if sqlite and (broken := connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()):
            raise SchemaError(f"the migration left rows whose foreign keys point nowhere: {broken[:10]}")
        connection.commit()
    finally:
        connection.rollback()
        if sqlite:
            # The connection goes back to the pool: leave it as it came.
            connection.exec_driver_sql(f"PRAGMA foreign_keys={int(foreign_keys)}")
            connection.commit()
