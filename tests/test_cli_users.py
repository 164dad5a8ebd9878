"""`dosis user`: clinicians' accounts from the command line, on a real SQLite database as the server uses it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from dashboard.auth import session_limits
from monitor.cli import app
from monitor.settings import Settings
from monitor.store import AuditEvent, Clinician, Store
from monitor.store.accounts import authenticate_clinician, open_session
from monitor.store.models import WebSession


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the commands find the database: ``DOSIS_DATA_DIR``'s dosis.sqlite3, as on a fresh install."""
    monkeypatch.setenv("DOSIS_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DOSIS_DATABASE_URL", raising=False)
    return tmp_path


@pytest.fixture
def store(data_dir: Path) -> Iterator[Store]:
    """The same database, opened as the server opens it."""
    store = Store(f"sqlite:///{data_dir / 'dosis.sqlite3'}")
    yield store
    store.close()


def dosis(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(app, ["user", *args], input=stdin)


def signs_in(store: Store, email: str, password: str) -> bool:
    with store.session() as db:
        outcome = authenticate_clinician(db, email=email, password=password, now=datetime.now(UTC))
        db.commit()
        return outcome.clinician is not None


def printed_password(result: Result) -> str:
    lines = result.stdout.splitlines()
    return lines[lines.index("Their password, shown this once (they can change it on their account page):") + 1]


def test_the_first_admin_is_made_with_a_generated_password_printed_once(data_dir: Path, store: Store) -> None:
    result = dosis("add", "Ada@Clinic.example", "--name", "Ada Admin", "--admin")
    assert result.exit_code == 0, result.output
    assert "Account added for Ada Admin <ada@clinic.example>, administrator." in result.stdout
    password = printed_password(result)
    assert len(password) >= 12
    assert signs_in(store, "ada@clinic.example", password)
    assert not signs_in(store, "ada@clinic.example", password + "x")
    with store.session() as db:
        clinician = db.scalars(select(Clinician)).one()
        assert clinician.is_admin
        events = db.scalars(select(AuditEvent)).all()
    assert [(e.actor.startswith("cli:"), e.action, e.detail) for e in events] == [
        (True, "clinician-add", f"clinician:{clinician.id} as admin")
    ]


def test_the_help_says_how_the_first_admin_is_made(data_dir: Path) -> None:
    result = dosis("add", "--help")
    assert result.exit_code == 0
    assert "first administrator" in result.stdout
    assert "first administrator" in dosis("--help").stdout


def test_a_password_from_standard_input_is_used_and_not_printed(data_dir: Path, store: Store) -> None:
    result = dosis(
        "add", "pia@clinic.example", "--name", "Pia Physio", "--password-stdin", stdin="a long piped phrase\n"
    )
    assert result.exit_code == 0, result.output
    assert "a long piped phrase" not in result.output
    assert "shown this once" not in result.output
    assert signs_in(store, "pia@clinic.example", "a long piped phrase")
    with store.session() as db:
        assert not db.scalars(select(Clinician)).one().is_admin


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["add", "x@clinic.example", "--name", "X", "--password-stdin"], "short\n", "12 to 256 characters"),
        (["add", "x@clinic.example", "--name", "X", "--password-stdin"], "", "no password"),
        (["add", "not-an-address", "--name", "X"], None, "is not an email address"),
        (["password", "nobody@clinic.example", "--password-stdin"], "a long enough phrase\n", "no account for"),
        (["disable", "nobody@clinic.example"], None, "no account for nobody@clinic.example"),
        (["enable", "nobody@clinic.example"], None, "no account for nobody@clinic.example"),
    ],
)
def test_mistakes_get_a_clear_error_and_change_nothing(
    data_dir: Path, store: Store, args: list[str], stdin: str | None, message: str
) -> None:
    result = dosis(*args, stdin=stdin)
    assert result.exit_code == 2
    assert message in result.stderr
    with store.session() as db:
        assert db.scalars(select(Clinician)).all() == []


def test_an_email_is_one_account(data_dir: Path, store: Store) -> None:
    assert dosis("add", "pia@clinic.example", "--name", "Pia").exit_code == 0
    again = dosis("add", "PIA@clinic.example", "--name", "Pia Again")
    assert again.exit_code == 2
    assert "there is already an account for pia@clinic.example" in again.stderr
    with store.session() as db:
        assert [c.display_name for c in db.scalars(select(Clinician))] == ["Pia"]


def open_web_session(store: Store, email: str) -> None:
    with store.session() as db:
        clinician = db.scalars(select(Clinician).where(Clinician.email == email)).one()
        limits = session_limits(Settings(data_dir=Path("/nonexistent")), "clinician")
        open_session(db, now=datetime.now(UTC), limits=limits, clinician=clinician)
        db.commit()


def web_sessions(store: Store) -> int:
    with store.session() as db:
        return len(db.scalars(select(WebSession)).all())


def test_a_new_password_is_asked_twice_and_ends_the_sessions(data_dir: Path, store: Store) -> None:
    dosis("add", "pia@clinic.example", "--name", "Pia", "--password-stdin", stdin="the first passphrase\n")
    open_web_session(store, "pia@clinic.example")
    typed = "one passphrase\nanother one\nthe second passphrase\nthe second passphrase\n"
    result = dosis("password", "pia@clinic.example", stdin=typed)
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output  # the first two differed, so it asked again
    assert "passphrase" not in result.output  # typed unseen
    assert web_sessions(store) == 0
    assert not signs_in(store, "pia@clinic.example", "the first passphrase")
    assert signs_in(store, "pia@clinic.example", "the second passphrase")
    piped = dosis("password", "PIA@clinic.example", "--password-stdin", stdin="the third passphrase\n")
    assert piped.exit_code == 0, piped.output
    assert signs_in(store, "pia@clinic.example", "the third passphrase")
    with store.session() as db:
        actions = [e.action for e in db.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions == ["clinician-add", "password-reset", "password-reset"]


def test_disable_ends_the_sessions_and_blocks_sign_in_until_enabled(data_dir: Path, store: Store) -> None:
    dosis("add", "pia@clinic.example", "--name", "Pia", "--password-stdin", stdin="the right passphrase\n")
    open_web_session(store, "pia@clinic.example")
    result = dosis("disable", "pia@clinic.example")
    assert result.exit_code == 0, result.output
    assert web_sessions(store) == 0
    assert not signs_in(store, "pia@clinic.example", "the right passphrase")
    assert "already disabled" in dosis("disable", "pia@clinic.example").stdout
    assert "disabled since" in dosis("list").stdout
    assert dosis("enable", "pia@clinic.example").exit_code == 0
    assert signs_in(store, "pia@clinic.example", "the right passphrase")
    with store.session() as db:
        actions = [e.action for e in db.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions == ["clinician-add", "clinician-disable", "clinician-enable"]


def test_list_shows_every_account_with_its_role_and_state(data_dir: Path) -> None:
    dosis("add", "ada@clinic.example", "--name", "Ada", "--admin")
    dosis("add", "pia@clinic.example", "--name", "Pia")
    dosis("disable", "pia@clinic.example")
    listed = dosis("list")
    assert listed.exit_code == 0
    rows = {line.split()[1]: line for line in listed.stdout.splitlines() if "@clinic.example" in line}
    assert set(rows) == {"ada@clinic.example", "pia@clinic.example"}
    assert "administrator" in rows["ada@clinic.example"]
    assert "active" in rows["ada@clinic.example"]
    assert "clinician" in rows["pia@clinic.example"]
    assert "disabled" in rows["pia@clinic.example"]
    assert "Clinicians (2)" in listed.stdout
