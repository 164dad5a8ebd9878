"""Schema migrations: every database Dosis meets is brought to today's schema, and nothing is lost."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData, create_engine, inspect, select, text
from sqlalchemy.exc import IntegrityError

from monitor.store import Device, Patient, SessionEvent, Store, TrainingSession
from monitor.store.clinical import assess_patient, prescription_from_json, prescription_versions
from monitor.store.migrations import (
    SCRIPT_LOCATION,
    UNREVISIONED_RELEASES,
    VERSION_TABLE,
    SchemaError,
    config,
    current_revision,
    head,
    migrate,
    table_columns,
)
from monitor.store.models import AdviceDecision, Base

FIXTURES = Path(__file__).parent / "fixtures"

RELEASE_USERS_RUN = list(UNREVISIONED_RELEASES)[-1]
"""The revision of the newest release without Alembic, which users' databases are at."""

REVISIONS = [script.revision for script in reversed(list(ScriptDirectory.from_config(config()).walk_revisions()))]
"""Every revision, oldest first."""

Rows = dict[str, list[dict[str, Any]]]

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


def release_fixture(revision: str) -> Path:
    """The database the release of ``revision`` wrote (``fixtures/make_previous_schema.py``)."""
    return FIXTURES / f"dosis_{UNREVISIONED_RELEASES[revision]}.sqlite3"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind Dosis runs on."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'dosis.sqlite3'}"
    # A database of its own on the tests' PostgreSQL server (tests/servers.py), or a skip where none is installed.
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(params=list(UNREVISIONED_RELEASES))
def release_revision(request: pytest.FixtureRequest) -> str:
    """Each revision a release before Alembic created the tables of."""
    return str(request.param)


@pytest.fixture
def release_database(release_revision: str, tmp_path: Path) -> Path:
    """A copy of the database that release wrote, for today's code to open."""
    return Path(shutil.copy(release_fixture(release_revision), tmp_path / "dosis.sqlite3"))


@pytest.fixture
def users_database(tmp_path: Path) -> Path:
    """A copy of the database the release users run wrote."""
    return Path(shutil.copy(release_fixture(RELEASE_USERS_RUN), tmp_path / "dosis.sqlite3"))


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


def reflected(url: str) -> MetaData:
    metadata = MetaData()
    with connection_to(url) as connection:
        metadata.reflect(connection)
    return metadata


def revision_of(url: str) -> str | None:
    with connection_to(url) as connection:
        return current_revision(connection)


def alembic_upgrade(url: str, revision: str) -> None:
    """Run Alembic itself, as a developer would, to ``revision``."""
    with connection_to(url) as connection:
        command.upgrade(config(connection), revision)


def alembic_downgrade(url: str, revision: str) -> None:
    with connection_to(url) as connection:
        command.downgrade(config(connection), revision)


def unrevisioned(url: str, revision: str) -> None:
    """Make the empty database at ``url`` what the release of ``revision`` created: its tables, no revision."""
    alembic_upgrade(url, revision)
    with connection_to(url) as connection:
        connection.execute(text(f"DROP TABLE {VERSION_TABLE}"))


def rows(path: Path, tables: Iterable[str] | None = None) -> Rows:
    """Every row of ``tables`` (all but Alembic's if None) as column → value, read with sqlite3 alone."""
    with closing(sqlite3.connect(path)) as connection:
        connection.row_factory = sqlite3.Row
        tables_there = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        wanted = tables_there - {VERSION_TABLE} if tables is None else set(tables)
        assert wanted <= tables_there, f"missing tables: {sorted(wanted - tables_there)}"
        return {t: [dict(row) for row in connection.execute(f'SELECT * FROM "{t}" ORDER BY rowid')] for t in wanted}


def columns_of(path: Path) -> dict[str, frozenset[str]]:
    with connection_to(f"sqlite:///{path}") as connection:
        return table_columns(connection)


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

    assert revision_of(database_url) == head() == REVISIONS[-1]
    assert schema_diffs(database_url) == []


def test_each_release_before_alembic_created_exactly_the_schema_of_its_revision(
    tmp_path: Path, release_revision: str, release_database: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'built.sqlite3'}"
    alembic_upgrade(url, release_revision)
    release = reflected(f"sqlite:///{release_database}")

    assert VERSION_TABLE not in release.tables
    assert schema_diffs(url, release) == []


def test_a_database_of_a_release_opens_with_every_row_and_sample(release_database: Path) -> None:
    before, columns_before = rows(release_database), columns_of(release_database)
    signals = signals_as_stored(release_database)
    assert all(before.values()), "the fixture should have rows in every table"
    assert {signal for _, signal, _ in signals} == {"hr_bpm", "rr_ms", "acc_mg"}
    url = f"sqlite:///{release_database}"

    store = Store(url)
    try:
        for (session_id, signal, device), (t_ns, values) in signals.items():
            read = store.signals.read(session_id, signal, device=device)
            np.testing.assert_array_equal(read.t_ns, t_ns)
            np.testing.assert_array_equal(read.values, values)
    finally:
        store.close()

    after, columns_after = rows(release_database), columns_of(release_database)
    assert {t: [{c: row[c] for c in columns_before[t]} for row in after[t]] for t in before} == before
    added = {t: columns_after[t] - columns_before[t] for t in before}
    assert any(added.values()), "today's schema adds columns to a release's tables"
    # A new column is empty on old rows, except where it starts from a value that means "nothing yet".
    starting_values = {("clinician", "is_admin"): 0, ("clinician", "failed_logins"): 0}
    assert [
        (t, c, row[c])
        for t in before
        for c in added[t]
        for row in after[t]
        if row[c] is not None and starting_values.get((t, c)) != row[c]
    ] == []
    assert {t: after[t] for t in after.keys() - before.keys()} == {t: [] for t in Base.metadata.tables.keys() - before}
    assert rows(release_database, {VERSION_TABLE}) == {VERSION_TABLE: [{"version_num": head()}]}
    signals_after = signals_as_stored(release_database)
    assert signals_after.keys() == signals.keys()
    for key, (t_ns, values) in signals.items():
        np.testing.assert_array_equal(signals_after[key][0], t_ns)
        np.testing.assert_array_equal(signals_after[key][1], values)
    assert schema_diffs(url) == []

    migrated = digest(release_database)
    Store(url).close()
    assert digest(release_database) == migrated, "opening a database at head should change nothing"


def test_the_clinical_record_of_the_release_users_run_works_with_today_s_code(users_database: Path) -> None:
    before = rows(users_database)

    store = Store(f"sqlite:///{users_database}", tz=UTC)
    try:
        with store.session() as db:
            (patient_id,) = db.scalars(select(Patient.id)).all()
            versions = prescription_versions(db, patient_id)
            decision = db.scalars(select(AdviceDecision)).one()
            weeks = assess_patient(db, patient_id, today=versions[-1].valid_from, tz=store.tz)
    finally:
        store.close()

    assert [(v.version, v.fields) for v in versions] == [
        (r["version"], json.loads(r["fields"])) for r in before["prescription_version"]
    ]
    assert decision.prescription_version_id == versions[-1].id
    # The week decided on, judged against the first version, and the week the decision's version starts.
    assert [w.start for w in weeks] == [decision.week_start, versions[-1].valid_from]
    assert [w.prescription for w in weeks] == [prescription_from_json(v.fields) for v in versions]
    sessions = before["training_session"]
    assert [session_id for session_id, _ in weeks[0].verdicts] == [s["id"] for s in sessions]
    effort = {r["session_id"]: r["effort_cr10"] for r in before["session_report"]}
    assert weeks[0].load_au == pytest.approx(sum(effort[s["id"]] * s["duration_s"] / 60 for s in sessions))
    assert weeks[0].morning_pain_mean == pytest.approx(np.mean([m["pain"] for m in before["morning_report"]]))


def test_a_migrated_release_downgrades_to_its_revision_with_every_row(
    release_revision: str, release_database: Path
) -> None:
    before = rows(release_database)
    url = f"sqlite:///{release_database}"
    Store(url).close()

    alembic_downgrade(url, release_revision)

    assert rows(release_database) == before
    with closing(sqlite3.connect(release_database)) as connection:
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []


def test_a_later_table_rebuild_on_sqlite_keeps_the_rows_that_refer_to_the_table(
    tmp_path: Path, users_database: Path
) -> None:
    # Batch mode copies ``patient`` and drops the original, while sessions, and through them
    # signals and the clinical record, refer to it with ON DELETE CASCADE.
    migrations = with_later_revision(
        tmp_path,
        'with op.batch_alter_table("patient") as batch:\n    batch.alter_column("display_name", type_=sa.String(300))',
    )
    store = Store(f"sqlite:///{users_database}")  # foreign keys on, as on every Store connection
    before = rows(users_database)
    try:
        migrate(store.engine, migrations)

        with store.engine.connect() as connection:
            assert current_revision(connection) == "9001"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
    finally:
        store.close()
    assert rows(users_database) == before


def test_a_later_revision_that_fails_on_sqlite_leaves_the_database_as_it_was(
    tmp_path: Path, users_database: Path
) -> None:
    migrations = with_later_revision(
        tmp_path,
        'op.create_table("later", sa.Column("id", sa.Integer(), primary_key=True))\nop.execute("DELETE FROM patient")',
    )
    store = Store(f"sqlite:///{users_database}")
    before = (sqlite_schema(users_database), rows(users_database), rows(users_database, {VERSION_TABLE}))
    try:
        with pytest.raises(SchemaError, match="foreign keys point nowhere"):
            migrate(store.engine, migrations)
    finally:
        store.close()

    assert (sqlite_schema(users_database), rows(users_database), rows(users_database, {VERSION_TABLE})) == before


def test_a_database_with_a_release_s_tables_but_no_revision_is_stamped_and_upgraded(
    database_url: str, release_revision: str
) -> None:
    unrevisioned(database_url, release_revision)

    Store(database_url).close()

    # Stamped too early, the upgrade would create tables that exist; too late, it would leave some out.
    assert revision_of(database_url) == head()
    assert schema_diffs(database_url) == []


def test_a_database_with_a_release_s_tables_but_other_columns_is_refused_and_left_alone(database_url: str) -> None:
    unrevisioned(database_url, RELEASE_USERS_RUN)
    with connection_to(database_url) as connection:
        connection.execute(text("ALTER TABLE morning_report ADD COLUMN mood FLOAT"))
        connection.execute(text("ALTER TABLE clinical_profile DROP COLUMN birth_year"))
    before = reflected(database_url)

    commit = UNREVISIONED_RELEASES[RELEASE_USERS_RUN]
    with pytest.raises(
        SchemaError,
        match=rf"tables of Dosis {commit} .* columns \(clinical_profile lacks birth_year; morning_report has mood\)",
    ):
        Store(database_url)

    assert revision_of(database_url) is None
    assert schema_diffs(database_url, before) == []


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


def test_after_an_upgrade_a_hub_s_session_uid_and_event_numbers_are_unique(database_url: str) -> None:
    unrevisioned(database_url, RELEASE_USERS_RUN)
    store = Store(database_url)
    now = datetime(2026, 11, 2, 9, tzinfo=UTC)
    try:
        with store.session() as db:
            hub = Device(kind="hub", name="gym-north", token_sha256="ab" * 32, created_at=now)
            patient = Patient(pseudonym="p-hub01", display_name="Hub Patient")
            db.add_all([hub, patient])
            db.flush()
            uid = str(uuid.uuid4())
            session = TrainingSession(uid=uid, hub_id=hub.id, patient_id=patient.id, kind="walking", started_at=now)
            db.add(session)
            db.flush()
            # Events the recorder did not number (as before the hubs) may be many.
            db.add_all(SessionEvent(session_id=session.id, seq=seq, kind="gap", message="") for seq in (1, None, None))
            db.commit()
            session_id, hub_id = session.id, hub.id

        for duplicate in (
            TrainingSession(uid=uid, patient_id=patient.id, kind="walking", started_at=now),
            SessionEvent(session_id=session_id, seq=1, kind="gap", message="sent again"),
        ):
            with store.session() as db:
                db.add(duplicate)
                with pytest.raises(IntegrityError):
                    db.commit()

        with store.session() as db:
            db.delete(db.get_one(Device, hub_id))
            db.commit()
        with store.session() as db:
            kept = db.get_one(TrainingSession, session_id)
            assert (kept.uid, kept.hub_id, len(kept.events)) == (uid, None, 3)
    finally:
        store.close()


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


def test_each_revision_downgrades_to_the_schema_it_upgraded_from(database_url: str) -> None:
    for revision in REVISIONS[:-1]:
        alembic_upgrade(database_url, revision)
        at_revision = reflected(database_url)
        alembic_upgrade(database_url, "head")

        alembic_downgrade(database_url, revision)

        assert schema_diffs(database_url, at_revision) == [], f"downgrading to {revision}"


def test_the_revisions_downgrade_to_an_empty_database_and_build_it_again(database_url: str) -> None:
    Store(database_url).close()
    with connection_to(database_url) as connection:
        command.downgrade(config(connection), "base")
        assert inspect(connection).get_table_names() == [VERSION_TABLE]

    alembic_upgrade(database_url, "head")

    assert schema_diffs(database_url) == []
