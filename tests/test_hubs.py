"""The hub registry and the `dosis hub` commands: tokens shown once, stored as hashes, revocable."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest
from servers import free_ports
from sqlalchemy import select
from typer.testing import CliRunner

from monitor.cli import app
from monitor.ingest.apply import Hub
from monitor.ingest.hubs import hub_for_token, list_hubs, register_hub, revoke_hub
from monitor.ingest.spool import PatientOnServer, Spool
from monitor.sinks import SessionChunk
from monitor.store import Device, Store

TOKEN = re.compile(r"dosis_hub_[A-Za-z0-9_-]{43}")
"""``dosis_hub_`` and 32 random bytes in URL-safe base64."""
T0_NS = 1_790_000_000_000_000_000


def test_a_registered_hubs_token_is_recognised_and_only_its_hash_is_stored(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'server.sqlite3'}")
    north, south = register_hub(store, "gym-north"), register_hub(store, "gym-south")
    assert TOKEN.fullmatch(north)
    assert TOKEN.fullmatch(south)
    assert north != south
    (north_hub, south_hub) = list_hubs(store)
    assert hub_for_token(store, north) == Hub(north_hub.id, "gym-north")
    assert hub_for_token(store, south) == Hub(south_hub.id, "gym-south")
    assert north_hub.token_sha256 == hashlib.sha256(north.encode()).hexdigest()
    for wrong in ("", north[:-1], north + "x", north_hub.token_sha256):  # the hash itself is no token
        assert hub_for_token(store, wrong) is None
    store.close()
    database_files = [p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("server.sqlite3")]
    assert database_files
    assert not any(north.encode() in data or south.encode() in data for data in database_files)


def test_a_hub_name_is_taken_once_and_must_say_where_the_hub_is(store: Store) -> None:
    token = register_hub(store, "gym-north")
    with pytest.raises(ValueError, match="a hub named 'gym-north' is already registered"):
        register_hub(store, "gym-north")
    for name in ("", "x" * 101):
        with pytest.raises(ValueError, match="1 to 100 characters"):
            register_hub(store, name)
    assert [hub.name for hub in list_hubs(store)] == ["gym-north"]
    assert hub_for_token(store, token) is not None  # the refused duplicate changed nothing


def test_a_revoked_token_is_useless_and_other_hubs_go_on(store: Store) -> None:
    north, south = register_hub(store, "gym-north"), register_hub(store, "gym-south")
    revoke_hub(store, "gym-north")
    assert hub_for_token(store, north) is None
    assert hub_for_token(store, south) is not None
    (revoked,) = [hub for hub in list_hubs(store) if hub.name == "gym-north"]
    assert revoked.revoked_at is not None
    revoke_hub(store, "gym-north")  # again: the first revocation's time stands
    with store.session() as db:
        assert db.scalar(select(Device.revoked_at).where(Device.name == "gym-north")) == revoked.revoked_at
    with pytest.raises(KeyError, match="no hub named 'gym-east'"):
        revoke_hub(store, "gym-east")


def test_hubs_are_listed_by_name_with_their_state(store: Store) -> None:
    for name in ("gym-south", "clinic-2", "gym-north"):
        register_hub(store, name)
    revoke_hub(store, "gym-south")
    hubs = list_hubs(store)
    assert [(h.name, h.kind, h.revoked_at is None, h.last_seen_at) for h in hubs] == [
        ("clinic-2", "hub", True, None),
        ("gym-north", "hub", True, None),
        ("gym-south", "hub", False, None),
    ]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DOSIS_DATA_DIR", str(tmp_path))
    for setting in ("DOSIS_DATABASE_URL", "DOSIS_INFLUX_URL", "DOSIS_SERVER_URL", "DOSIS_HUB_TOKEN"):
        monkeypatch.delenv(setting, raising=False)
    return tmp_path


def dosis(*args: str) -> tuple[int, str]:
    """``dosis`` ARGS: the exit code and the output (stdout and stderr), rich's line wrapping undone."""
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, " ".join(result.output.split())


def test_hub_add_prints_the_token_once_and_refuses_a_taken_name(data_dir: Path) -> None:
    code, output = dosis("hub", "add", "gym-north")
    assert code == 0, output
    (token,) = TOKEN.findall(output)
    assert "set it on the hub as DOSIS_HUB_TOKEN" in output
    store = Store(f"sqlite:///{data_dir / 'dosis.sqlite3'}")
    hub = hub_for_token(store, token)
    assert hub is not None
    assert hub.name == "gym-north"

    code, output = dosis("hub", "add", "gym-north")
    assert code == 2
    assert "a hub named 'gym-north' is already registered" in output
    assert TOKEN.search(output) is None
    assert hub_for_token(store, token) == hub
    code, output = dosis("hub", "add", "")
    assert (code, "1 to 100 characters" in output) == (2, True)
    store.close()


def test_hub_list_and_revoke(data_dir: Path) -> None:
    for name in ("gym-north", "gym-south"):
        assert dosis("hub", "add", name)[0] == 0
    code, output = dosis("hub", "revoke", "gym-south")
    assert (code, output) == (0, "Hub gym-south's token is revoked.")
    code, output = dosis("hub", "revoke", "gym-east")
    assert code == 2
    assert "no hub named 'gym-east'" in output

    result = CliRunner().invoke(app, ["hub", "list"])
    assert result.exit_code == 0, result.output
    assert "Hubs (2)" in result.output
    table = [[cell.strip() for cell in line.split("│")[1:-1]] for line in result.output.splitlines()]
    rows = {cells[0]: cells[1:] for cells in table if cells}
    assert rows.keys() == {"gym-north", "gym-south"}
    assert rows["gym-north"][1:] == ["never", "active"]  # not seen yet: it has streamed nothing
    assert rows["gym-south"][1:] == ["never", "revoked"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", rows["gym-north"][0])


def test_hub_status_tells_what_the_spool_holds_and_what_was_refused(data_dir: Path) -> None:
    code, output = dosis("hub", "status")
    assert (code, output) == (0, "0 messages waiting to be sent, of 0 sessions; 0 refused.")
    spool = Spool(data_dir / "spool")
    sink = PatientOnServer(spool, "p-7f3c21").start_session(
        kind="walking", started_at_ns=T0_NS, source="test", devices="strap"
    )
    sink.append([SessionChunk("hr_bpm", "strap", np.array([T0_NS]), np.array([[90.0, 1.0]]))])
    sink.finish(status="complete", ended_at_ns=T0_NS + 1_000_000_000)
    _, refused, _ = spool.pending(10)
    spool.reject(refused, status=422, reason="chunk of hr_bpm: something the server cannot store")
    spool.close()

    code, output = dosis("hub", "status")
    assert code == 0, output
    assert "2 messages waiting to be sent, of 1 sessions; 1 refused." in output
    assert f"refused session {sink.uid}: HTTP 422: chunk of hr_bpm: something the server cannot store" in output


@pytest.mark.parametrize(
    ("settings", "complaint"),
    [
        ({}, "no server: give --server URL or set DOSIS_SERVER_URL"),
        ({"DOSIS_SERVER_URL": "http://127.0.0.1:9"}, "no hub token: register this hub on the server"),
        ({"DOSIS_HUB_TOKEN": "dosis_hub_x"}, "no server"),
    ],
)
def test_hub_sync_without_a_server_or_a_token_says_what_is_missing(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, settings: dict[str, str], complaint: str
) -> None:
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    code, output = dosis("hub", "sync")
    assert code == 2
    assert complaint in output
    assert not (data_dir / "spool").exists()  # refused before it touched the spool


def test_hub_sync_to_a_server_that_cannot_be_reached_keeps_the_spool_and_says_so(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = Spool(data_dir / "spool")
    sink = PatientOnServer(spool, "p-7f3c21").start_session(
        kind="walking", started_at_ns=T0_NS, source="test", devices="strap"
    )
    sink.finish(status="complete", ended_at_ns=T0_NS + 1_000_000_000)
    spooled = spool.pending(10)
    monkeypatch.setenv("DOSIS_HUB_TOKEN", "dosis_hub_" + "x" * 43)
    (closed_port,) = free_ports(1)
    code, output = dosis("hub", "sync", "--server", f"http://127.0.0.1:{closed_port}", "--drain-timeout", "0.2")
    assert code == 1, output  # a script can tell that the spool is not empty yet
    assert f"{len(spooled)} messages are still in the spool" in output
    assert "Everything spooled" not in output
    assert spool.pending(10) == spooled
    spool.close()
