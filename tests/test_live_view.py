"""The live view's page, snapshot and stream: only one's own patients, each view audited, who may watch at all."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from helpers import sign_in
from sqlalchemy import delete, select

from dashboard import create_app, live
from drivers.readings import HeartRateReading
from monitor.ingest.hubs import register_hub
from monitor.livefeed import LiveFeed, SessionWatch
from monitor.settings import Settings
from monitor.sinks import StoreSink
from monitor.store import AuditEvent, Clinician, Patient, Store
from monitor.store.clinical import add_prescription
from monitor.store.models import ClinicalProfile, WebSession
from monitor.tolerance import Prescription

CEILING_BPM = 120.0


@dataclass
class Gym:
    store: Store
    feed: LiveFeed
    own: int
    other: int
    patient_user: int
    mine: SessionWatch
    theirs: SessionWatch


@pytest.fixture
def gym(tmp_path: Path) -> Iterator[Gym]:
    """Two clinicians' patients training at once, one with a heart-rate ceiling."""
    store = Store(f"sqlite:///{tmp_path / 'dosis.sqlite3'}", tz=UTC)
    with store.session() as db:
        own = Clinician(email="own@example.invalid", display_name="Own Physio")
        other = Clinician(email="other@example.invalid", display_name="Other Physio")
        mine = Patient(pseudonym="p-mine01", display_name="Mette Mine", clinician=own)
        theirs = Patient(pseudonym="p-their1", display_name="Tove Theirs", clinician=other)
        db.add_all([own, other, mine, theirs])
        db.flush()
        db.add(ClinicalProfile(patient_id=mine.id, hr_rest_bpm=60, hr_max_bpm=180, updated_at=datetime.now(UTC)))
        add_prescription(
            db,
            mine.id,
            Prescription(
                sessions_per_week=3,
                kinds=("walking",),
                volume_per_session=20,
                volume_unit="minutes",
                volume_goal=30,
                hr_ceiling_bpm=CEILING_BPM,
            ),
            valid_from=date(2020, 1, 6),
            clinician_id=own.id,
        )
        db.commit()
        ids = own.id, other.id, mine.id, theirs.id
    feed = LiveFeed()
    watches = [
        feed.watch(
            store, StoreSink.create(store, patient_id=p, kind="walking", started_at_ns=time.time_ns()).session_id
        )
        for p in ids[2:]
    ]
    watches[0].reading(heart_rate(131))
    watches[1].reading(heart_rate(88))
    yield Gym(store, feed, ids[0], ids[1], ids[2], *watches)
    store.close()


@pytest.fixture
def client(gym: Gym, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(gym.store, settings=Settings(data_dir=tmp_path), live_feed=gym.feed)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as test_client:
        yield test_client


def heart_rate(bpm: int) -> HeartRateReading:
    return HeartRateReading("Polar H10 0A1B2C3D", time.time_ns(), bpm, (), True)


def views(store: Store, detail: str) -> list[str | None]:
    with store.session() as db:
        query = select(AuditEvent.patient_pseudonym).where(AuditEvent.action == "view", AuditEvent.detail == detail)
        return list(db.scalars(query))


def events(client: TestClient, *, limit: int, on_first: Any = None) -> list[tuple[str, Any]]:
    """The stream's first ``limit`` events as (event, data); ``on_first`` runs once the first has arrived."""
    found: list[tuple[str, Any]] = []
    name = ""
    with client.stream("GET", f"/api/live/stream?limit={limit}") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                found.append((name, json.loads(line.removeprefix("data: "))))
                if len(found) == 1 and on_first is not None:
                    on_first()
    return found


def test_the_snapshot_shows_ones_own_patients_sessions_and_audits_each_view(client: TestClient, gym: Gym) -> None:
    sign_in(client, clinician_id=gym.own)
    response = client.get("/api/live")
    assert response.status_code == 200
    sessions = response.json()["sessions"]
    assert [(s["pseudonym"], s["display_name"], s["hr_bpm"]) for s in sessions] == [("p-mine01", "Mette Mine", 131)]
    assert sessions[0]["ceiling_bpm"] == CEILING_BPM
    assert sessions[0]["zone"] is None  # the first whole second has not ended yet
    assert "Tove" not in response.text
    assert "p-their1" not in response.text
    assert views(gym.store, "GET /api/live") == ["p-mine01"]
    sign_in(client, clinician_id=gym.other)
    assert [s["display_name"] for s in client.get("/api/live").json()["sessions"]] == ["Tove Theirs"]


def test_the_page_has_a_card_per_session_readable_without_javascript(client: TestClient, gym: Gym) -> None:
    sign_in(client, clinician_id=gym.own)
    page = client.get("/live")
    assert page.status_code == 200
    html = page.text
    assert f'id="live-session-{gym.mine.info.session_id}"' in html
    assert "Mette Mine" in html
    assert '<output data-field="hr" aria-live="polite">131 bpm</output>' in html
    assert "120 bpm" in html  # the prescribed ceiling
    assert "Tove Theirs" not in html
    assert "p-their1" not in html
    assert f"live-session-{gym.theirs.info.session_id}" not in html
    assert '<script src="/static/live.js" defer></script>' in html
    assert views(gym.store, "GET /live") == ["p-mine01"]
    gym.mine.finished("complete")
    empty = client.get("/live").text
    assert "Mette Mine" not in empty
    assert '<p id="live-empty" class="empty">' in empty


def test_an_alert_on_the_page_is_in_words_not_colour_alone(client: TestClient, gym: Gym) -> None:
    gym.mine.event("disconnected", time.time_ns())
    sign_in(client, clinician_id=gym.own)
    html = client.get("/live").text
    assert 'data-alerts="sensor_dropped_out"' in html
    assert "The sensor has dropped out" in html
    assert "live-card-alert" in html


def test_the_stream_sends_a_snapshot_then_updates_of_ones_own_patients_only(client: TestClient, gym: Gym) -> None:
    sign_in(client, clinician_id=gym.own)

    def publish() -> None:  # from this thread, while the app runs in the test client's
        gym.theirs.reading(heart_rate(99))
        gym.mine.reading(heart_rate(140))
        gym.theirs.finished("complete")
        gym.mine.finished("complete")

    received = events(client, limit=3, on_first=publish)
    assert [name for name, _ in received] == ["snapshot", "session", "ended"]
    snapshot, update, ended = (data for _, data in received)
    assert [s["display_name"] for s in snapshot["sessions"]] == ["Mette Mine"]
    assert (update["pseudonym"], update["hr_bpm"]) == ("p-mine01", 140)
    assert ended == {"session_id": gym.mine.info.session_id, "status": "complete"}
    assert "p-their1" not in json.dumps(received)
    assert views(gym.store, "GET /api/live/stream") == ["p-mine01"]


def test_the_stream_sends_every_session_whole_each_tick_and_audits_once_per_connection(
    client: TestClient, gym: Gym, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, "STREAM_TICK_S", 0.05)
    sign_in(client, clinician_id=gym.own)
    received = events(client, limit=4)
    assert [name for name, _ in received] == ["snapshot"] * 4
    elapsed = [data["sessions"][0]["elapsed_s"] for _, data in received]
    assert elapsed == sorted(elapsed)
    assert elapsed[-1] > elapsed[0]
    assert views(gym.store, "GET /api/live/stream") == ["p-mine01"]
    events(client, limit=1)
    assert views(gym.store, "GET /api/live/stream") == ["p-mine01", "p-mine01"]


def test_a_hubs_session_appears_as_its_chunks_arrive(client: TestClient, gym: Gym) -> None:
    token = register_hub(gym.store, "gym-north")
    session = str(uuid.uuid4())
    now_ns = time.time_ns()
    batch = {
        "messages": [
            {"type": "start", "session": session, "patient": "p-mine01", "kind": "strength", "started_at_ns": now_ns},
            {"type": "event", "session": session, "seq": 1, "kind": "connected", "message": "H10 connected"},
            {
                "type": "chunk",
                "session": session,
                "signal": "hr_bpm",
                "device": "Polar H10 0A1B2C3D",
                "t_ns": [now_ns + 1000, now_ns + 2000],
                "values": [[101, 1], [102, 1]],
            },
        ]
    }
    sent = client.post("/api/ingest", json=batch, headers={"Authorization": f"Bearer {token}"})
    assert sent.status_code == 200
    sign_in(client, clinician_id=gym.own)
    hub_sessions = [s for s in client.get("/api/live").json()["sessions"] if s["kind"] == "strength"]
    assert [(s["pseudonym"], s["hr_bpm"], s["sensor"]) for s in hub_sessions] == [("p-mine01", 102, "connected")]
    end = {"type": "end", "session": session, "status": "complete", "ended_at_ns": now_ns + 3000}
    assert client.post("/api/ingest", json={"messages": [end]}, headers={"Authorization": f"Bearer {token}"}).is_success
    assert [s["kind"] for s in client.get("/api/live").json()["sessions"]] == ["walking"]


def test_the_stream_ends_when_its_viewer_is_signed_out(
    client: TestClient, gym: Gym, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, "STREAM_TICK_S", 0.05)
    monkeypatch.setattr(live, "SIGN_IN_RECHECK_S", 0.0)
    sign_in(client, clinician_id=gym.own)

    def sign_out() -> None:
        with gym.store.session() as db:
            db.execute(delete(WebSession))
            db.commit()

    received = events(client, limit=100, on_first=sign_out)
    assert [name for name, _ in received] == ["snapshot"]


@pytest.mark.parametrize("path", ["/api/live", "/api/live/stream"])
def test_signed_out_the_api_answers_401(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 401


def test_signed_out_the_page_sends_to_sign_in(client: TestClient) -> None:
    response = client.get("/live")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/live"


@pytest.mark.parametrize("path", ["/live", "/api/live", "/api/live/stream"])
def test_a_patient_may_not_watch(client: TestClient, gym: Gym, path: str) -> None:
    sign_in(client, patient_id=gym.patient_user)
    response = client.get(path)
    assert response.status_code == 403
    assert "Mette" not in response.text
