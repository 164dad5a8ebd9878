"""The `dosis` command line as a user runs it."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from monitor.capture import CaptureReader, CaptureRecord
from monitor.cli import app
from monitor.composites import WALKING_CAPTURE
from monitor.demo import DEMO_CLINICIAN
from monitor.store import Patient, Store, TrainingSession
from monitor.store.models import AdviceDecision, ClinicalProfile, PrescriptionVersion, SessionReportRow

DOSIS = Path(sys.executable).parent / "dosis"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DOSIS_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DOSIS_DATABASE_URL", raising=False)
    return tmp_path


def test_replay_stores_a_session_and_prints_its_summary(data_dir: Path) -> None:
    result = CliRunner().invoke(app, ["replay", str(WALKING_CAPTURE), "--patient", "p-cli01", "--kind", "walking"])
    assert result.exit_code == 0, result.output
    assert "New patient p-cli01 created" in result.output
    assert "Session 1 (walking, complete)" in result.output
    assert "783 (0 skipped)" in result.output
    store = Store(f"sqlite:///{data_dir / 'dosis.sqlite3'}")
    with store.session() as db:
        session = db.scalars(select(TrainingSession)).one()
    assert f"mean {session.hr_mean_bpm:.0f} bpm" in result.output
    store.close()


def test_replay_reports_bad_lines_by_number(data_dir: Path, tmp_path: Path) -> None:
    capture = tmp_path / "short.jsonl"
    header = json.dumps(
        {
            "format": "dosis-capture",
            "version": 1,
            "kind": "walking",
            "devices": [{"id": "s", "model": "strap", "characteristics": ["00002a37-0000-1000-8000-00805f9b34fb"]}],
        }
    )
    line = {"t_ns": 10**18, "device": "s", "char": "00002a37-0000-1000-8000-00805f9b34fb", "hex": "1048"}
    capture.write_text("\n".join([header, json.dumps(line | {"hex": "0048"}), json.dumps(line)]) + "\n")
    result = CliRunner().invoke(app, ["replay", str(capture), "--patient", "p-cli02"])
    assert result.exit_code == 0, result.output
    assert "line 3: malformed payload" in result.output
    assert "2 (1 skipped)" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["replay", "no-such-file.jsonl", "--patient", "p"], "no capture file"),
        (["replay", str(WALKING_CAPTURE), "--patient", "p", "--kind", "yoga"], "walking or strength"),
        (["replay", str(WALKING_CAPTURE), "--patient", "p", "--speed", "0"], "positive"),
        (["record", "--device", "x", "--patient", "p", "--kind", "walking", "--duration", "0"], "--duration"),
        (["capture", "--device", "x", "--out", "x.jsonl", "--duration", "-1"], "--duration"),
        (["demo", "--duration", "0"], "--duration"),
        (["scan", "--timeout", "0"], "--timeout"),
    ],
)
def test_bad_arguments_get_a_clear_error(data_dir: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output


def test_replay_of_a_file_that_is_not_a_capture(data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\n")
    result = CliRunner().invoke(app, ["replay", str(path), "--patient", "p"])
    assert result.exit_code == 2
    assert "line 1 is not a valid dosis-capture header" in result.output


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


DEMO_LOGIN = re.compile(rf"Sign in as [^:]+: ({re.escape(DEMO_CLINICIAN.email)}), password (\S+)")


def test_a_demo_on_a_port_in_use_says_so_before_seeding_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOSIS_DATA_DIR", str(tmp_path))
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["demo", "--port", str(port), "--duration", "1"])
    assert result.exit_code == 2
    assert f"cannot serve the demo on 127.0.0.1:{port}" in " ".join(result.output.split())
    assert not list(tmp_path.iterdir())  # no demo database was made


def test_demo_serves_the_clinic_with_patients_training_live_and_stops_by_itself(tmp_path: Path) -> None:
    port = free_port()
    # Wide enough that the printed sign-ins are not wrapped.
    env = os.environ | {"DOSIS_DATA_DIR": str(tmp_path), "COLUMNS": "250"}
    demo = subprocess.Popen(
        [str(DOSIS), "demo", "--duration", "14", "--port", str(port), "--weeks", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    printed: list[str] = []
    reader = threading.Thread(target=lambda: printed.extend(iter(demo.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while not (login := next(filter(None, map(DEMO_LOGIN.search, printed)), None)):
            assert demo.poll() is None, "".join(printed)
            assert time.monotonic() < deadline, "the demo did not print its sign-ins"
            time.sleep(0.2)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            assert client.get("/api/patients").status_code == 401  # nothing without signing in
            signed_in = client.post("/api/auth/login", json={"email": login[1], "password": login[2]})
            signed_in.raise_for_status()
            # A Secure cookie, as the demo sends it (browsers take http://127.0.0.1 as secure; httpx does not).
            client.headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in signed_in.cookies.items())
            patients = client.get("/api/patients").json()
            assert len(patients) >= 3
            assert all(p["session_count"] >= 2 for p in patients)
            sessions = [s for p in patients for s in client.get(f"/api/patients/{p['pseudonym']}/sessions").json()]
            live = [s for s in sessions if s["status"] == "live"]
            assert len(live) == 2  # two patients train at once: a group for the live view
            assert {s["session_id"] for s in client.get("/api/live").json()["sessions"]} == {s["id"] for s in live}
            heart_rate_url = f"/api/sessions/{live[0]['id']}/heart-rate"
            first = client.get(heart_rate_url).json()
            # The recorder writes a chunk every 5 s of data; wait for the next one.
            deadline = time.monotonic() + 12
            while len(client.get(heart_rate_url).json()["t_s"]) <= len(first["t_s"]):
                assert time.monotonic() < deadline, "no new heart rate was stored"
                time.sleep(0.25)
        demo.wait(timeout=30)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
        reader.join(timeout=5)
        demo.stdout.close()  # type: ignore[union-attr]
    output = "".join(printed)
    assert demo.returncode == 0, output
    assert f"http://127.0.0.1:{port}" in output
    assert "physio@demo.dosis.invalid" in output
    store = Store(f"sqlite:///{tmp_path / 'demo.sqlite3'}")
    with store.session() as db:
        statuses = {s.status for s in db.scalars(select(TrainingSession))}
        patient_ids = set(db.scalars(select(Patient.id)))
        profiled = set(db.scalars(select(ClinicalProfile.patient_id)))
        prescribed = set(db.scalars(select(PrescriptionVersion.patient_id)))
        complete = set(db.scalars(select(TrainingSession.id).where(TrainingSession.status == "complete")))
        reported = set(db.scalars(select(SessionReportRow.session_id)))
        decisions = db.scalars(select(AdviceDecision)).all()
    store.close()
    assert statuses == {"complete", "interrupted"}
    assert len(patient_ids) == 3
    assert profiled == prescribed == patient_ids
    assert len(complete & reported) >= 0.8 * len(complete)
    assert {d.patient_id for d in decisions} == patient_ids  # the week before last decided; last week is left open


@pytest.fixture
def virtual_ble(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DOSIS_BLE", "virtual")
    return data_dir


def test_scan_lists_the_wearables_nearby(virtual_ble: Path) -> None:
    result = CliRunner().invoke(app, ["scan", "--timeout", "0.5"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Wearables nearby (2)" in result.output
    assert "polar h10" in result.output
    assert "Polar H10 0A1B2C3D" in result.output
    assert "heart rate strap" in result.output


def test_record_a_live_session_from_a_virtual_h10(virtual_ble: Path) -> None:
    args = ["record", "--device", "0A1B2C3D", "--patient", "p-live", "--kind", "walking", "--duration", "2.5"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "(walking, complete)" in result.output
    store = Store(f"sqlite:///{virtual_ble / 'dosis.sqlite3'}")
    with store.session() as db:
        session = db.scalars(select(TrainingSession)).one()
    assert session.devices == "Polar H10 0A1B2C3D"
    assert session.beat_count is not None
    assert session.beat_count >= 2
    assert session.acc_sample_count is not None
    assert session.acc_sample_count > 200
    store.close()


def test_capture_writes_a_file_replay_can_read(virtual_ble: Path, tmp_path: Path) -> None:
    out = tmp_path / "strap.jsonl.gz"
    result = CliRunner().invoke(
        app, ["capture", "--device", "Virtual HRM 0001", "--out", str(out), "--duration", "2.5"]
    )
    assert result.exit_code == 0, result.output
    with CaptureReader(out) as reader:
        records = [r for r in reader.records() if isinstance(r, CaptureRecord)]
        assert reader.header.devices[0].name == "Virtual HRM 0001"
    assert len(records) >= 2
    assert f"{len(records)} notifications" in " ".join(result.output.split())
    replayed = CliRunner().invoke(app, ["replay", str(out), "--patient", "p-cap", "--kind", "strength"])
    assert replayed.exit_code == 0, replayed.output
    assert f"{len(records)} (0 skipped)" in replayed.output
    assert CliRunner().invoke(app, ["capture", "--device", "x", "--out", str(out)]).exit_code == 2


def test_an_unknown_device_names_the_ones_nearby(virtual_ble: Path) -> None:
    args = ["record", "--device", "Garmin", "--patient", "p", "--kind", "walking", "--scan-timeout", "0.5"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "no single wearable matches 'Garmin'" in result.output
    assert "Polar H10 0A1B2C3D" in result.output
