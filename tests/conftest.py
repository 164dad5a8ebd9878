from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import skip_or_fail
from playwright.sync_api import Page

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


# Browser tests (tests/browser.py has the rest): defaults a module may override.
@pytest.fixture(scope="module")
def browser_context_args(base_url: str) -> dict[str, Any]:
    """A desktop window on the module's ``base_url`` (a module with a phone in mind defines its own)."""
    return {"base_url": base_url, "viewport": {"width": 1280, "height": 900}}


@pytest.fixture
def browser_errors(page: Page) -> list[str]:
    """Script errors and console errors on the page; a test ends by asserting there are none."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    return errors
