"""Schema migrations: every database Dosis meets is brought to today's schema, and nothing is lost."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, MetaData, create_engine, inspect, text

from monitor.store import Store
from monitor.store.migrations import (
    PREVIOUS_SCHEMA_TABLES,
    SCRIPT_LOCATION,
    VERSION_TABLE,
    SchemaError,
    config,
    current_revision,
    head,
    migrate,
)
from monitor.store.models import Base

PREVIOUS_SCHEMA = Path(__file__).parent / "fixtures" / "previous_schema.sqlite3"
"""Written by Dosis at 241dc62, before it used Alembic (``fixtures/make_previous_schema.py``)."""

NEW_TABLES = set(Base.metadata.tables) - PREVIOUS_SCHEMA_TABLES

# A process that opens a Store on the database argv[1] names once it reads a line: started
# together, the processes have imported Dosis by then and open the database within moments.
OPEN_STORE_ON_CUE = """
import sys
from monitor.store import Store
print("ready", flush=True)
sys.stdin.readline()
Store(sys.argv[1]).close()
"""

# A revision after this code's head, for checks on how migrate() runs later revisions.
LATER_REVISION = """
import sqlalchemy as sa
from alembic import op

revision = "9001"
down_revision = "{down_revision}"


def upgrade():
{upgrade}
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind Dosis runs on."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'dosis.sqlite3'}"
    # A database of its own on the tests' PostgreSQL server (tests/servers.py), or a skip where none is installed.
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def previous_database(tmp_path: Path) -> Path:
    """A copy of the database the previous Dosis wrote, for today's code to open."""
    return Path(shutil.copy(PREVIOUS_SCHEMA, tmp_path / "dosis.sqlite3"))


@contextmanager
def connection_to(url: str) -> Iterator[Connection]:
    """A connection on an engine of its own, in a transaction committed at the end."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            yield connection
    finally:
        engine.dispose()


def schema_diffs(url: str, metadata: MetaData = Base.metadata) -> list[Any]:
    """What Alembic's autogenerate would change to make the database match ``metadata``."""
    with connection_to(url) as connection:
        return list(compare_metadata(MigrationContext.configure(connection), metadata))


def revision_of(url: str) -> str | None:
    with connection_to(url) as connection:
        return current_revision(connection)


def alembic_upgrade(url: str, revision: str) -> None:
    """Run Alembic itself, as a developer would, to ``revision``."""
    with connection_to(url) as connection:
        command.upgrade(config(connection), revision)


def rows(path: Path, tables: set[str] | frozenset[str]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of ``tables``, read with sqlite3 alone."""
    with closing(sqlite3.connect(path)) as connection:
        tables_there = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert tables <= tables_there, f"missing tables: {sorted(tables - tables_there)}"
        return {t: connection.execute(f'SELECT * FROM "{t}" ORDER BY rowid').fetchall() for t in sorted(tables)}


def signals_as_stored(path: Path) -> dict[tuple[int, str, str], tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]]:
    """Every signal of every session, decoded from the chunks with sqlite3 and numpy alone.

    The layout is the one ``SignalChunk`` documents: ``n_samples × channels`` little-endian
    int16 counts times ``scale``, or float32; times as int64 ns offsets, or evenly spaced
    from ``t_start_ns`` to ``t_end_ns`` when NULL.
    """
    decoded: dict[tuple[int, str, str], list[tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]]] = {}
    with closing(sqlite3.connect(path)) as connection:
        chunks = connection.execute(
            "SELECT session_id, signal, device, t_start_ns, t_end_ns, n_samples, channels, encoding, scale, times, "
            '"values" FROM signal_chunk ORDER BY session_id, signal, device, t_start_ns'
        )
        for session_id, signal, device, t_start, t_end, n, channels, encoding, scale, times, values in chunks:
            counts = np.frombuffer(values, dtype={"int16": "<i2", "float32": "<f4"}[encoding]).reshape(n, channels)
            offsets = (
                np.rint(np.linspace(0, t_end - t_start, n)).astype(np.int64)
                if times is None
                else np.frombuffer(times, dtype="<i8")
            )
            scaled = counts * scale if encoding == "int16" else counts.astype(np.float64)
            decoded.setdefault((session_id, signal, device), []).append((t_start + offsets, scaled))
    return {
        key: (np.concatenate([t for t, _ in parts]), np.concatenate([v for _, v in parts]))
        for key, parts in decoded.items()
    }


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def with_later_revision(tmp_path: Path, upgrade: str) -> Path:
    """A copy of the migrations with one more revision, 9001, whose upgrade() runs ``upgrade``."""
    migrations = Path(shutil.copytree(SCRIPT_LOCATION, tmp_path / "migrations", ignore=shutil.ignore_patterns("__*")))
    revision = LATER_REVISION.format(down_revision=head(), upgrade=textwrap.indent(upgrade, "    "))
    (migrations / "versions" / "9001_later.py").write_text(revision)
    return migrations


def sqlite_schema(path: Path) -> list[tuple[str, str, str]]:
    with closing(sqlite3.connect(path)) as connection:
        return connection.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()


def test_a_new_database_is_built_by_the_revisions_to_exactly_the_models(database_url: str) -> None:
    Store(database_url).close()

    assert revision_of(database_url) == head() == "0002"
    assert schema_diffs(database_url) == []


def test_revision_0001_is_the_schema_the_previous_dosis_created(tmp_path: Path, previous_database: Path) -> None:
    url = f"sqlite:///{tmp_path / 'at_0001.sqlite3'}"
    alembic_upgrade(url, "0001")
    previous = MetaData()
    with connection_to(f"sqlite:///{previous_database}") as connection:
        previous.reflect(connection)

    assert set(previous.tables) == PREVIOUS_SCHEMA_TABLES
    assert schema_diffs(url, previous) == []


def test_a_database_of_the_previous_dosis_opens_with_every_row_and_sample(previous_database: Path) -> None:
    before = rows(previous_database, PREVIOUS_SCHEMA_TABLES)
    signals = signals_as_stored(previous_database)
    assert all(before.values()), "the fixture should have rows in every table"
    assert {signal for _, signal, _ in signals} == {"hr_bpm", "rr_ms", "acc_mg"}
    url = f"sqlite:///{previous_database}"

    store = Store(url)
    try:
        for (session_id, signal, device), (t_ns, values) in signals.items():
            read = store.signals.read(session_id, signal, device=device)
            np.testing.assert_array_equal(read.t_ns, t_ns)
            np.testing.assert_array_equal(read.values, values)
    finally:
        store.close()

    assert rows(previous_database, PREVIOUS_SCHEMA_TABLES) == before
    assert rows(previous_database, NEW_TABLES) == {table: [] for table in sorted(NEW_TABLES)}
    assert rows(previous_database, {VERSION_TABLE}) == {VERSION_TABLE: [(head(),)]}
    assert schema_diffs(url) == []

    migrated = digest(previous_database)
    Store(url).close()
    assert digest(previous_database) == migrated, "opening a database at head should change nothing"


def test_a_later_table_rebuild_on_sqlite_keeps_the_rows_that_refer_to_the_table(
    tmp_path: Path, previous_database: Path
) -> None:
    # Batch mode copies ``patient`` and drops the original, while sessions, and through them
    # signals, refer to it with ON DELETE CASCADE.
    migrations = with_later_revision(
        tmp_path,
        'with op.batch_alter_table("patient") as batch:\n    batch.alter_column("display_name", type_=sa.String(300))',
    )
    before = rows(previous_database, PREVIOUS_SCHEMA_TABLES)
    store = Store(f"sqlite:///{previous_database}")  # foreign keys on, as on every Store connection
    try:
        migrate(store.engine, migrations)

        with store.engine.connect() as connection:
            assert current_revision(connection) == "9001"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
    finally:
        store.close()
    assert rows(previous_database, PREVIOUS_SCHEMA_TABLES) == before


def test_a_later_revision_that_fails_on_sqlite_leaves_the_database_as_it_was(
    tmp_path: Path, previous_database: Path
) -> None:
    migrations = with_later_revision(
        tmp_path,
        'op.create_table("device", sa.Column("id", sa.Integer(), primary_key=True))\nop.execute("DELETE FROM patient")',
    )
    store = Store(f"sqlite:///{previous_database}")
    tables = set(Base.metadata.tables) | {VERSION_TABLE}
    before = (sqlite_schema(previous_database), rows(previous_database, tables))
    try:
        with pytest.raises(SchemaError, match="foreign keys point nowhere"):
            migrate(store.engine, migrations)
    finally:
        store.close()

    assert (sqlite_schema(previous_database), rows(previous_database, tables)) == before


def test_a_database_with_the_previous_tables_but_no_revision_is_stamped_and_upgraded(database_url: str) -> None:
    alembic_upgrade(database_url, "0001")
    with connection_to(database_url) as connection:
        assert set(inspect(connection).get_table_names()) == PREVIOUS_SCHEMA_TABLES | {VERSION_TABLE}
        connection.execute(text(f"DROP TABLE {VERSION_TABLE}"))

    Store(database_url).close()

    assert revision_of(database_url) == head()
    assert schema_diffs(database_url) == []


def test_a_database_from_a_newer_dosis_is_refused_and_left_alone(database_url: str) -> None:
    Store(database_url).close()
    with connection_to(database_url) as connection:
        connection.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '0099'"))

    with pytest.raises(SchemaError, match=r"revision '0099', which this version of Dosis does not know .*newer Dosis"):
        Store(database_url)

    assert revision_of(database_url) == "0099"


def test_a_database_with_other_tables_and_no_revision_is_refused(database_url: str) -> None:
    with connection_to(database_url) as connection:
        connection.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY)"))

    with pytest.raises(SchemaError, match=r"has tables \(notes\) but no schema revision"):
        Store(database_url)

    assert revision_of(database_url) is None


def test_processes_opening_a_new_database_at_once_migrate_it_once(database_url: str) -> None:
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_STORE_ON_CUE, database_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            assert process.stdout.readline() == "ready\n"
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        errors = [process.communicate(timeout=60)[1] for process in processes]
    finally:
        for process in processes:
            process.kill()
            process.wait()

    assert [process.returncode for process in processes] == [0] * len(processes), errors
    assert revision_of(database_url) == head()
    assert schema_diffs(database_url) == []


def test_threads_opening_new_databases_at_once_each_get_the_schema(tmp_path: Path) -> None:
    urls = [f"sqlite:///{tmp_path / f'dosis{i}.sqlite3'}" for i in range(4)]
    start = threading.Barrier(len(urls))
    failures: list[BaseException] = []

    def open_store(url: str) -> None:
        start.wait()
        try:
            Store(url).close()
        except Exception as error:  # collected, so that the assertion below shows it
            failures.append(error)

    threads = [threading.Thread(target=open_store, args=(url,)) for url in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert [schema_diffs(url) for url in urls] == [[]] * len(urls)


def test_the_revisions_downgrade_to_an_empty_database_and_build_it_again(database_url: str) -> None:
    Store(database_url).close()
    with connection_to(database_url) as connection:
        command.downgrade(config(connection), "base")
        assert inspect(connection).get_table_names() == [VERSION_TABLE]

    alembic_upgrade(database_url, "head")

    assert schema_diffs(database_url) == []
