"""The server's ingest API: who may send, what is refused and why, and that a resend stores nothing twice."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dashboard.app import create_app
from monitor.ingest.hubs import register_hub, revoke_hub
from monitor.store import AuditEvent, Device, Patient, SessionEvent, Store, TrainingSession

T0_NS = 1_790_000_000_000_000_000
HR_T_NS = [T0_NS + k * 1_000_000_000 for k in range(10)]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'server.sqlite3'}")
    with store.session() as db:
        db.add(Patient(pseudonym="p-7f3c21", display_name="Ingrid Madsen"))
        db.commit()
    yield store
    store.close()


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(store)) as test_client:
        yield test_client


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def session_messages(session: str, *, patient: str = "p-7f3c21") -> list[dict[str, Any]]:
    """A short session: start, ten heart rates in two chunks, an event, problems, end."""
    return [
        {"type": "start", "session": session, "patient": patient, "kind": "walking", "started_at_ns": T0_NS},
        {
            "type": "chunk",
            "session": session,
            "signal": "hr_bpm",
            "device": "Polar H10 0A1B2C3D",
            "t_ns": HR_T_NS[:5],
            "values": [[90 + k, 1] for k in range(5)],
        },
        {"type": "event", "session": session, "seq": 1, "kind": "link_lost", "message": "H10 link lost"},
        {
            "type": "chunk",
            "session": session,
            "signal": "hr_bpm",
            "device": "Polar H10 0A1B2C3D",
            "t_ns": HR_T_NS[5:],
            "values": [[95 + k, 1] for k in range(5)],
        },
        {"type": "problems", "session": session, "count": 3},
        {"type": "end", "session": session, "status": "complete", "ended_at_ns": HR_T_NS[-1]},
    ]


def stored(store: Store, uid: str) -> TrainingSession:
    with store.session() as db:
        session = db.scalar(select(TrainingSession).where(TrainingSession.uid == uid))
        assert session is not None
        session.events  # noqa: B018  # loaded while the ORM session is open
        return session


def test_a_streamed_session_is_stored_and_summarised_once_however_often_it_is_sent(
    client: TestClient, store: Store
) -> None:
    token = register_hub(store, "gym-north")
    uid = str(uuid.uuid4())
    for _ in range(3):  # a hub that never heard back sends the same batch again
        response = client.post("/api/ingest", json={"messages": session_messages(uid)}, headers=auth(token))
        assert response.status_code == 200, response.text
        assert response.json() == {"applied": 6}
    session = stored(store, uid)
    hr = store.signals.read(session.id, "hr_bpm")
    np.testing.assert_array_equal(hr.t_ns, HR_T_NS)
    np.testing.assert_array_equal(hr.values[:, 0], np.arange(90, 100))
    assert (session.status, session.malformed_count, session.hr_max_bpm) == ("complete", 3, 99)
    assert [e.kind for e in session.events] == ["link_lost"]
    with store.session() as db:
        hub = db.scalar(select(Device).where(Device.name == "gym-north"))
        assert hub is not None
        assert session.hub_id == hub.id
        assert hub.last_seen_at is not None
        audit = db.scalars(select(AuditEvent)).all()
    assert [(a.actor, a.action, a.patient_pseudonym) for a in audit] == [("hub:gym-north", "ingest", "p-7f3c21")]
    assert "Ingrid" not in audit[0].detail


def test_a_session_sent_in_pieces_equals_one_sent_whole(client: TestClient, store: Store) -> None:
    token = register_hub(store, "gym-north")
    whole, pieces = str(uuid.uuid4()), str(uuid.uuid4())
    client.post("/api/ingest", json={"messages": session_messages(whole)}, headers=auth(token))
    messages = session_messages(pieces)
    for start in range(0, len(messages), 2):  # overlapping batches, as a retry after a partial failure sends
        batch = messages[max(0, start - 1) : start + 2]
        assert client.post("/api/ingest", json={"messages": batch}, headers=auth(token)).status_code == 200
    a, b = stored(store, whole), stored(store, pieces)
    assert (a.hr_mean_bpm, a.malformed_count, len(a.events)) == (b.hr_mean_bpm, b.malformed_count, len(b.events))
    np.testing.assert_array_equal(store.signals.read(a.id, "hr_bpm").values, store.signals.read(b.id, "hr_bpm").values)


@pytest.mark.parametrize("header", [None, "Bearer dosis_hub_not-a-real-token", "Basic Z3ltOm5vcnRo"])
def test_without_a_registered_hubs_token_nothing_is_accepted(
    client: TestClient, store: Store, header: str | None
) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = client.post("/api/ingest", json={"messages": session_messages(str(uuid.uuid4()))}, headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    with store.session() as db:
        assert db.scalars(select(TrainingSession)).all() == []


def test_a_revoked_token_is_refused(client: TestClient, store: Store) -> None:
    token = register_hub(store, "gym-north")
    revoke_hub(store, "gym-north")
    response = client.post("/api/ingest", json={"messages": session_messages(str(uuid.uuid4()))}, headers=auth(token))
    assert response.status_code == 401


def test_a_hub_cannot_write_into_another_hubs_session(client: TestClient, store: Store) -> None:
    north, south = register_hub(store, "gym-north"), register_hub(store, "gym-south")
    uid = str(uuid.uuid4())
    client.post("/api/ingest", json={"messages": session_messages(uid)[:2]}, headers=auth(north))
    response = client.post("/api/ingest", json={"messages": session_messages(uid)[3:4]}, headers=auth(south))
    assert response.status_code == 403
    assert "another hub" in response.json()["detail"]
    assert len(store.signals.read(stored(store, uid).id, "hr_bpm")) == 5


def test_messages_the_server_cannot_place_are_refused_with_the_reason(client: TestClient, store: Store) -> None:
    token = register_hub(store, "gym-north")
    unknown_patient = session_messages(str(uuid.uuid4()), patient="p-000000")
    response = client.post("/api/ingest", json={"messages": unknown_patient}, headers=auth(token))
    assert response.status_code == 404
    assert "no patient 'p-000000'" in response.json()["detail"]
    not_started = session_messages(str(uuid.uuid4()))[1:]
    response = client.post("/api/ingest", json={"messages": not_started}, headers=auth(token))
    assert response.status_code == 409
    assert "has not been started" in response.json()["detail"]
    with store.session() as db:
        assert db.scalars(select(TrainingSession)).all() == []


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"values": [[90, 1]] * 4}, "5 times but 4 rows"),
        ({"values": [[90]] * 5}, "hr_bpm has 2 channels"),
        ({"t_ns": HR_T_NS[:5][::-1]}, "times must not decrease"),
        ({"signal": "spo2"}, "unknown signal 'spo2'"),
        ({"values": [[float("nan"), 1]] * 5}, "finite"),
        ({"t_ns": [5, 6, 7, 8, 9]}, "greater than or equal"),
        ({"extra": "field"}, "Extra inputs are not permitted"),
    ],
)
def test_a_malformed_chunk_gets_a_422_that_says_what_is_wrong(
    client: TestClient, store: Store, change: dict[str, Any], complaint: str
) -> None:
    token = register_hub(store, "gym-north")
    uid = str(uuid.uuid4())
    messages = session_messages(uid)[:2]
    messages[1] = messages[1] | change
    # json.dumps refuses NaN in strict JSON; the hub's encoder never sends it, an attacker might.
    response = client.post(
        "/api/ingest",
        content=_json(messages).encode(),
        headers=auth(token) | {"Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert complaint in response.text
    with store.session() as db:
        assert db.scalars(select(TrainingSession)).all() == []  # the batch is refused whole


@pytest.mark.parametrize(
    ("signal", "row", "complaint"),
    [("acc_mg", [40_000.0, 0, 0], "int16 range"), ("rr_ms", [1e39], "float32 range")],
)
def test_values_the_signal_store_cannot_hold_are_refused_and_the_rest_kept(
    client: TestClient, store: Store, signal: str, row: list[float], complaint: str
) -> None:
    token = register_hub(store, "gym-north")
    uid = str(uuid.uuid4())
    messages = session_messages(uid)[:2]
    too_big = messages[1] | {"signal": signal, "values": [row] * 5}
    response = client.post("/api/ingest", json={"messages": [*messages, too_big]}, headers=auth(token))
    assert response.status_code == 422
    assert complaint in response.json()["detail"]
    session = stored(store, uid)
    assert len(store.signals.read(session.id, "hr_bpm")) == 5
    assert len(store.signals.read(session.id, signal)) == 0


@pytest.mark.parametrize(("index", "field"), [(2, "seq"), (4, "count")])
def test_numbers_past_the_databases_integers_are_refused_not_a_server_error(
    client: TestClient, store: Store, index: int, field: str
) -> None:
    token = register_hub(store, "gym-north")
    messages = session_messages(str(uuid.uuid4()))
    messages[index] = messages[index] | {field: 10**20}
    response = client.post("/api/ingest", json={"messages": messages}, headers=auth(token))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == field


def test_a_hub_can_ask_whether_the_server_knows_a_patient_and_nothing_more(client: TestClient, store: Store) -> None:
    token = register_hub(store, "gym-north")
    assert client.get("/api/ingest/patients/p-7f3c21", headers=auth(token)).status_code == 204
    assert client.get("/api/ingest/patients/p-000000", headers=auth(token)).status_code == 404
    assert client.get("/api/ingest/patients/p-7f3c21").status_code == 401
    assert "Ingrid" not in client.get("/api/ingest/patients/p-7f3c21", headers=auth(token)).text


def test_events_numbered_by_the_hub_are_stored_once(client: TestClient, store: Store) -> None:
    token = register_hub(store, "gym-north")
    uid = str(uuid.uuid4())
    messages = session_messages(uid)
    event_again = messages[2] | {"message": "H10 link lost (sent again)"}
    client.post("/api/ingest", json={"messages": [*messages[:3], event_again]}, headers=auth(token))
    with store.session() as db:
        events = db.scalars(select(SessionEvent)).all()
    assert [(e.seq, e.message) for e in events] == [(1, "H10 link lost")]


def test_the_health_check_answers_while_the_database_does(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def _json(messages: list[dict[str, Any]]) -> str:
    import json

    return json.dumps({"messages": messages}, allow_nan=True)
