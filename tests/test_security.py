"""Security across the app: session fixation, the headers of every response, and no personal data in any log line.

The rest is elsewhere: the authorization matrix in tests/test_access_matrix.py; CSRF, session
expiry, lockout and the per-address limit in tests/test_sign_in.py.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser import serve
from fastapi import FastAPI
from fastapi.testclient import TestClient
from helpers import api_routes, sign_in
from live_recording import LiveRecording, Wearer
from sqlalchemy import select

from dashboard import create_app
from dashboard.app import SECURITY_HEADERS
from monitor.livefeed import LiveFeed
from monitor.settings import Settings
from monitor.store import Patient, Store, TrainingSession
from monitor.store.accounts import create_clinician, issue_sign_in_code

EMAIL = "physio.hansen@klinik.invalid"
PASSWORD = "a password nobody should ever read in a log"
PATIENT_NAME = "Karen Vestergaard-Nielsen"
OTHER_PATIENT_NAME = "Ole Bækgaard"
BASE_URL = "https://testserver"


@dataclass(frozen=True)
class Clinic:
    store: Store
    settings: Settings
    clinician_id: int
    patient_id: int
    pseudonym: str
    session_id: int
    code: str


@pytest.fixture
def clinic(tmp_path: Path) -> Iterator[Clinic]:
    store = Store(f"sqlite:///{tmp_path / 'dosis.sqlite3'}", tz=UTC)
    with store.session() as db:
        physio = create_clinician(db, email=EMAIL, display_name="Physio Hansen", password=PASSWORD)
        patient = Patient(pseudonym="p-5ec0de", display_name=PATIENT_NAME, clinician=physio)
        other = Patient(pseudonym="p-07e4a1", display_name=OTHER_PATIENT_NAME, clinician=physio)
        started = datetime(2026, 3, 2, 9, tzinfo=UTC)
        session = TrainingSession(patient=patient, kind="walking", status="complete", started_at=started)
        db.add_all([patient, other, session])
        db.flush()
        code = issue_sign_in_code(db, patient, by=physio, now=datetime.now(UTC))
        db.commit()
        ids = (physio.id, patient.id, patient.pseudonym, session.id)
    yield Clinic(store, Settings(data_dir=tmp_path, cookie_secure=False), *ids, code)
    store.close()


def test_a_sign_in_never_keeps_a_session_token_the_browser_brought(clinic: Clinic) -> None:
    app = create_app(clinic.store, settings=Settings(data_dir=Path("/nonexistent")))
    with TestClient(app, base_url=BASE_URL, follow_redirects=False) as client:
        cookie = "__Host-dosis_session"

        def use(token: str) -> None:
            client.cookies.clear()
            client.cookies.set(cookie, token)

        def signed_in_token(response: Any) -> str:  # starlette's TestClient answers with httpx2's Response
            token: str = response.cookies[cookie]
            use(token)
            return token

        use("chosen-by-an-attacker")
        first = signed_in_token(client.post("/login", data={"email": EMAIL, "password": PASSWORD, "next": "/"}))
        assert first != "chosen-by-an-attacker"
        csrf_token = client.get("/api/auth/me").json()["csrf_token"]
        # Signing in again on the same browser ends the session it had: one person, one session here.
        again = client.post(
            "/login", data={"email": EMAIL, "password": PASSWORD, "next": "/", "csrf_token": csrf_token}
        )
        second = signed_in_token(again)
        assert second != first
        use(first)
        assert client.get("/api/auth/me").status_code == 401
        # The same for a patient's code.
        use("also-chosen-by-an-attacker")
        patient_token = signed_in_token(client.post("/signin", data={"code": clinic.code}))
        assert patient_token != "also-chosen-by-an-attacker"
        assert client.get("/api/auth/me").json()["kind"] == "patient"


def html_and_api_gets(app: FastAPI, clinic: Clinic) -> list[tuple[str, bool]]:
    """Every GET route (path, is a patient's) with its parameters filled, endless streams left out."""
    values = {"pseudonym": clinic.pseudonym, "session_id": str(clinic.session_id), "day": "2026-03-02"}
    values |= {"signal": "hr_bpm", "clinician_id": str(clinic.clinician_id), "sign_in_id": "1", "code": "da"}
    found = []
    for route in api_routes(app.routes):
        if "GET" not in (route.methods or ()) or route.path.endswith("/stream"):
            continue
        path = re.sub(r"\{([^}:]+)[^}]*\}", lambda m: values[m.group(1)], route.path)
        found.append((path, bool(re.match(r"^/(api/)?me(/|$)", route.path))))
    return found


def test_every_response_has_the_security_headers_and_the_strict_policy(clinic: Clinic) -> None:
    app = create_app(clinic.store, settings=Settings(data_dir=Path("/nonexistent")))
    policy = SECURITY_HEADERS[b"content-security-policy"].decode()
    assert "script-src 'self'" in policy
    assert "'unsafe-inline'" not in policy
    assert "'unsafe-eval'" not in policy
    assert "frame-ancestors 'none'" in policy
    checked = 0
    with (
        TestClient(app, base_url=BASE_URL, follow_redirects=False) as clinician,
        TestClient(app, base_url=BASE_URL, follow_redirects=False) as patient,
    ):
        sign_in(clinician, clinician_id=clinic.clinician_id)
        sign_in(patient, patient_id=clinic.patient_id)
        for path, for_patient in html_and_api_gets(app, clinic):
            response = (patient if for_patient else clinician).get(path)
            assert response.status_code < 500, path
            for name, value in SECURITY_HEADERS.items():
                assert response.headers.get(name.decode()) == value.decode(), (path, name)
            checked += 1
        static = clinician.get("/static/style.css")
        assert static.headers["cache-control"] == "public, max-age=3600"
        assert static.headers["content-security-policy"] == policy
    assert checked >= 30


class Captured(logging.Handler):
    """Log lines of the server and the recorder; not of this test's own HTTP client (httpx, httpcore)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(("httpx", "httpcore")):
            self.lines.append(self.format(record))


CAPTURED_LOGGERS = ("", "uvicorn", "uvicorn.access", "uvicorn.error")
"""The root logger, and uvicorn's, which do not pass their records on to it."""


@pytest.fixture
def captured() -> Iterator[Captured]:
    """Every log record at DEBUG once :func:`listen` is called, formatted with any exception's traceback."""
    handler = Captured()
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    levels = {name: logging.getLogger(name).level for name in CAPTURED_LOGGERS}
    yield handler
    for name, level in levels.items():
        logging.getLogger(name).removeHandler(handler)
        logging.getLogger(name).setLevel(level)


def listen(handler: Captured) -> None:
    # After uvicorn has started: its logging setup replaces the handlers of its loggers.
    for name in CAPTURED_LOGGERS:
        logging.getLogger(name).addHandler(handler)
        logging.getLogger(name).setLevel(logging.DEBUG)


def test_a_clinic_day_leaves_no_personal_data_in_any_log_line(clinic: Clinic, captured: Captured) -> None:
    """A live session, the clinician's pages, the patient's sign-in link and report, wrong guesses: then the logs."""
    feed = LiveFeed()
    app = create_app(clinic.store, settings=clinic.settings, live_feed=feed)
    secrets = {PATIENT_NAME, OTHER_PATIENT_NAME, EMAIL, PASSWORD, clinic.code, "Physio Hansen"}
    with serve(app, log_level="debug") as url:
        listen(captured)
        with LiveRecording(clinic.store, feed, [Wearer(clinic.patient_id, "walking")], duration_s=8):
            with httpx.Client(base_url=url, timeout=10) as physio, httpx.Client(base_url=url, timeout=10) as phone:
                assert physio.post("/login", data={"email": EMAIL, "password": "wrong " + PASSWORD}).status_code == 401
                login = physio.post("/login", data={"email": EMAIL, "password": PASSWORD, "next": "/"})
                assert login.status_code == 303
                secrets |= set(login.cookies.values())
                for path in ("/", f"/patients/{clinic.pseudonym}", f"/sessions/{clinic.session_id}", "/live"):
                    assert physio.get(path).status_code == 200, path
                with physio.stream("GET", "/api/live/stream", params={"limit": 2}) as stream:
                    assert stream.status_code == 200
                    assert "".join(stream.iter_text())
                assert phone.get(f"/signin?code={clinic.code}").status_code == 200
                signed_in = phone.post("/signin", data={"code": clinic.code})
                assert signed_in.status_code == 303
                secrets |= set(signed_in.cookies.values())
                csrf = re.search(r'name="csrf-token" content="([^"]+)"', phone.get("/me").text)
                assert csrf is not None
                secrets.add(csrf[1])
                report = phone.post(
                    f"/me/sessions/{clinic.session_id}",
                    data={"csrf_token": csrf[1], "pain_after": "3", "effort_cr10": "5"},
                )
                assert report.status_code == 303
            with clinic.store.session() as db:
                live = db.scalars(select(TrainingSession).where(TrainingSession.status == "live")).all()
                assert len(live) == 1  # the strap's session is being recorded while all this happens
    assert len(captured.lines) > 20  # uvicorn's access lines at least: the capture works
    assert any('"GET /signin HTTP/1.1" 200' in line for line in captured.lines)  # logged, without its code
    leaks = [(secret, line) for line in captured.lines for secret in secrets if secret and secret in line]
    assert leaks == []
    addresses = [line for line in captured.lines if "127.0.0.1" in line and "uvicorn.access" in line]
    assert addresses == []
