"""Schema migrations: Alembic revisions that bring any Dosis database to the schema of this code.

``Store`` calls :func:`migrate` whenever it opens a database. A change to ``models.py`` needs
a new revision in ``versions/``; draft it against a database at the current head with
``alembic.command.revision(config(connection), message=..., autogenerate=True)``, then read
and tidy what it wrote. ``tests/test_migrations.py`` checks that the revisions build exactly
the tables ``models.py`` declares.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from types import MappingProxyType

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, inspect

SCRIPT_LOCATION = Path(__file__).parent
"""This package's folder: ``env.py`` and ``versions/`` are all Alembic needs."""

UNREVISIONED_RELEASES: Mapping[str, str] = MappingProxyType({"0001": "241dc62", "0002": "316c8ec"})
"""Revisions whose schema a Dosis release created with ``create_all``, keeping no revision; by revision, that commit.

241dc62 is the last release before the clinical record, 316c8ec the one after it, the
release users run. A database with no revision whose tables and columns are exactly
those of one of these revisions is stamped with it and upgraded.
"""

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

    An empty database is built by every revision in turn; one a Dosis release created
    before it used Alembic (exactly the tables and columns of a revision in
    :data:`UNREVISIONED_RELEASES`) is stamped with that revision and upgraded; one at head
    is left alone. A database at a revision this code does not know, or with other tables
    or columns and no revision, raises :class:`SchemaError`: it is never downgraded or
    guessed at.
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
                if tables := table_columns(connection):
                    command.stamp(alembic_config, _unrevisioned_release(tables, engine, script_location))
            elif current not in {script.revision for script in _script(script_location).walk_revisions()}:
                raise SchemaError(
                    f"{engine.url!r} is at schema revision {current!r}, which this version of Dosis does not know "
                    f"(its newest is {target!r}): it was written by a newer Dosis; use that one"
                )
            command.upgrade(alembic_config, "head")


def table_columns(connection: Connection) -> dict[str, frozenset[str]]:
    """The names of the database's tables, but Alembic's own, each with the names of its columns."""
    columns = inspect(connection).get_multi_columns()
    return {
        table: frozenset(c["name"] for c in found) for (_, table), found in columns.items() if table != VERSION_TABLE
    }


@cache
def _columns_at(revision: str, script_location: Path) -> Mapping[str, frozenset[str]]:
    """:func:`table_columns` of a database at ``revision``, built by the revisions in memory.

    Built rather than written out, so that the revisions stay the one account of each
    schema. Runs Alembic, so call it with ``_IN_THIS_PROCESS`` held.
    """
    scratch = create_engine("sqlite://")
    try:
        with scratch.begin() as connection:
            command.upgrade(config(connection, script_location), revision)
            return MappingProxyType(table_columns(connection))
    finally:
        scratch.dispose()


def _unrevisioned_release(tables: Mapping[str, frozenset[str]], engine: Engine, script_location: Path) -> str:
    """The revision in :data:`UNREVISIONED_RELEASES` with exactly ``tables``, or :class:`SchemaError`."""
    for revision, commit in UNREVISIONED_RELEASES.items():
        expected = _columns_at(revision, script_location)
        if tables == expected:
            return revision
        if tables.keys() == expected.keys():
            differences = "; ".join(
                f"{table} {_difference(found=tables[table], expected=expected[table])}"
                for table in sorted(expected)
                if tables[table] != expected[table]
            )
            raise SchemaError(
                f"{engine.url!r} has no schema revision and the tables of Dosis {commit} (revision {revision}), "
                f"but other columns ({differences}); not opening it"
            )
    raise SchemaError(
        f"{engine.url!r} has tables ({', '.join(sorted(tables))}) but no schema revision, "
        "and they are not the tables of an earlier Dosis; not opening it"
    )


def _difference(*, found: frozenset[str], expected: frozenset[str]) -> str:
    parts = []
    if missing := expected - found:
        parts.append(f"lacks {', '.join(sorted(missing))}")
    if extra := found - expected:
        parts.append(f"has {', '.join(sorted(extra))}")
    return " and ".join(parts)


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
