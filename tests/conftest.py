from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import skip_or_fail

from monitor.recordings import default_recordings_dir
from monitor.store import Patient, Store

# Real database servers (PostgreSQL, InfluxDB 1.x, VictoriaMetrics) as fixtures for any test.
pytest_plugins = ["servers"]


@pytest.fixture(scope="session")
def recordings() -> Path:
    path = default_recordings_dir()
    if not (path / "README.md").is_file():
        skip_or_fail(f"the shared recordings are not at {path} (set DOSIS_RECORDINGS_DIR)")
    return path


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'dosis.sqlite3'}")
    yield store
    store.close()


@pytest.fixture
def patient_id(store: Store) -> int:
    with store.session() as db:
        patient = Patient(pseudonym="p-test01", display_name="Test Patient")
        db.add(patient)
        db.commit()
        return patient.id
