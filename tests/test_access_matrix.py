"""Role × endpoint × someone else's id: every route of the app, found by walking its routes.

A route added later is in the matrix without anyone remembering to add it; a path parameter
the matrix has no value for fails the test until one is given here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from helpers import api_routes, sign_in

from dashboard import create_app
from monitor.settings import Settings
from monitor.store import Clinician, Patient, Store, TrainingSession

PUBLIC = re.compile(r"^/(login|signin|logout|lang/|static|healthz|openapi\.json|docs|redoc|api/auth/)")
"""Routes anyone may call (signing in, the language picker, files, health, the API's own description)."""
TOKEN_ROUTES = re.compile(r"^/api/ingest")
"""Hubs' routes: a hub's bearer token, never a browser session (tests/test_ingest_api.py)."""
PATIENT_ROUTES = re.compile(r"^/(api/)?me(/|$)")
ADMIN_ROUTES = re.compile(r"^/(admin|api/clinicians)")
MONDAY = date(2026, 3, 2)


@dataclass(frozen=True)
class Scene:
    store: Store
    own_clinician: int
    admin: int
    own_patient: str
    own_patient_id: int
    own_session: int
    other_patient: str
    other_patient_id: int
    other_session: int


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('matrix') / 'dosis.sqlite3'}", tz=UTC)
    with store.session() as db:
        own = Clinician(email="own@example.invalid", display_name="Own Physio")
        other = Clinician(email="other@example.invalid", display_name="Other Physio")
        admin = Clinician(email="admin@example.invalid", display_name="Admin", is_admin=True)
        mine = Patient(pseudonym="p-mine01", display_name="My Patient", clinician=own)
        theirs = Patient(pseudonym="p-their1", display_name="Their Patient", clinician=other)
        started = datetime(2026, 3, 3, 10, tzinfo=UTC)
        sessions = [
            TrainingSession(
                patient=p,
                kind="walking",
                status="complete",
                started_at=started,
                ended_at=started + timedelta(minutes=30),
                duration_s=1800.0,
            )
            for p in (mine, theirs)
        ]
        db.add_all([own, other, admin, mine, theirs, *sessions])
        db.commit()
        yield Scene(
            store,
            own.id,
            admin.id,
            mine.pseudonym,
            mine.id,
            sessions[0].id,
            theirs.pseudonym,
            theirs.id,
            sessions[1].id,
        )
    store.close()


@pytest.fixture(scope="module")
def app(scene: Scene) -> FastAPI:
    return create_app(scene.store, settings=Settings(data_dir=Path("/nonexistent")))


def routes(app: FastAPI) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for route in api_routes(app.routes):
        if not PUBLIC.match(route.path) and not TOKEN_ROUTES.match(route.path):
            found.extend((method, route.path) for method in sorted((route.methods or set()) - {"HEAD"}))
    return found


def fill(path: str, *, patient: str, session: int) -> str:
    values = {"pseudonym": patient, "session_id": str(session), "day": MONDAY.isoformat(), "start": MONDAY.isoformat()}
    values |= {"signal": "hr_bpm", "sign_in_id": "1", "clinician_id": "2"}

    def value(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]
        if name not in values:
            raise AssertionError(f"the access matrix needs a value for path parameter {name!r} in {path}")
        return values[name]

    return re.sub(r"\{([^}]+)\}", value, path)


ACCESS_REFUSED = "among your"
"""In the 404 of the object check (dashboard/auth.py), to tell it from a route's own 404 (e.g. no such week)."""


def send(client: TestClient, method: str, path: str) -> httpx.Response:
    body: dict[str, object] | None = {} if method in ("POST", "PUT", "PATCH") else None
    return client.request(method, path, json=body)  # type: ignore[return-value]  # starlette's httpx2 twin


def call(client: TestClient, method: str, path: str) -> int:
    return send(client, method, path).status_code


def clinician_routes(app: FastAPI) -> list[tuple[str, str]]:
    return [(m, p) for m, p in routes(app) if not PATIENT_ROUTES.match(p)]


def test_the_matrix_covers_the_apps_routes(app: FastAPI) -> None:
    paths = {p for _, p in routes(app)}
    assert {"/api/patients/{pseudonym}/sessions", "/patients/{pseudonym}", "/api/sessions/{session_id}"} <= paths
    assert any(PATIENT_ROUTES.match(p) for p in paths)


def test_signed_out_the_api_answers_401_and_pages_send_to_sign_in(app: FastAPI, scene: Scene) -> None:
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        for method, template in routes(app):
            path = fill(template, patient=scene.own_patient, session=scene.own_session)
            status = call(client, method, path)
            if template.startswith("/api/"):
                assert status == 401, (method, path)
            else:
                assert status in (303, 401), (method, path)


def test_a_clinician_gets_404_for_another_clinicians_patient_everywhere(app: FastAPI, scene: Scene) -> None:
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        sign_in(client, clinician_id=scene.own_clinician)
        scoped = [(m, p) for m, p in clinician_routes(app) if ("{pseudonym}" in p or "{session_id}" in p)]
        assert scoped
        for method, template in scoped:
            if ADMIN_ROUTES.match(template):
                continue
            theirs = send(client, method, fill(template, patient=scene.other_patient, session=scene.other_session))
            assert theirs.status_code == 404, (method, template)
            assert ACCESS_REFUSED in theirs.text, (method, template)
            # The same route with one's own patient gets past the check, so the 404 above was the check.
            mine = send(client, method, fill(template, patient=scene.own_patient, session=scene.own_session))
            assert mine.status_code not in (401, 403), (method, template)
            assert ACCESS_REFUSED not in mine.text, (method, template)


def test_a_patient_gets_403_on_every_clinician_route(app: FastAPI, scene: Scene) -> None:
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        sign_in(client, patient_id=scene.own_patient_id)
        for method, template in clinician_routes(app):
            path = fill(template, patient=scene.own_patient, session=scene.own_session)
            assert call(client, method, path) == 403, (method, path)


def test_a_clinician_gets_403_on_every_patient_route(app: FastAPI, scene: Scene) -> None:
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        sign_in(client, clinician_id=scene.own_clinician)
        patient_routes = [(m, p) for m, p in routes(app) if PATIENT_ROUTES.match(p)]
        for method, template in patient_routes:
            path = fill(template, patient=scene.own_patient, session=scene.own_session)
            assert call(client, method, path) == 403, (method, path)


def test_a_patient_gets_404_for_another_patients_session(app: FastAPI, scene: Scene) -> None:
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        sign_in(client, patient_id=scene.own_patient_id)
        scoped = [(m, p) for m, p in routes(app) if PATIENT_ROUTES.match(p) and "{session_id}" in p]
        for method, template in scoped:
            theirs = fill(template, patient=scene.own_patient, session=scene.other_session)
            assert call(client, method, theirs) == 404, (method, theirs)


def test_only_an_admin_reaches_the_admin_routes(app: FastAPI, scene: Scene) -> None:
    admin_routes = [(m, p) for m, p in routes(app) if ADMIN_ROUTES.match(p)]
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        sign_in(client, clinician_id=scene.own_clinician)
        for method, template in admin_routes:
            path = fill(template, patient=scene.own_patient, session=scene.own_session)
            assert call(client, method, path) == 403, (method, path)
        sign_in(client, clinician_id=scene.admin)
        for method, template in admin_routes:
            path = fill(template, patient=scene.own_patient, session=scene.own_session)
            assert call(client, method, path) not in (401, 403), (method, path)
