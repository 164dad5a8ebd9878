"""Signing in and out, through the real forms and API: passwords, codes, CSRF, expiry, rate limits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from helpers import sign_in
from sqlalchemy import update

from dashboard import create_app
from monitor.settings import Settings
from monitor.store import Clinician, Patient, Store
from monitor.store.accounts import create_clinician, issue_sign_in_code
from monitor.store.models import WebSession

PASSWORD = "correct horse battery staple"
EMAIL = "physio@example.invalid"
BASE_URL = "https://testserver"


@pytest.fixture
def app_store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'dosis.sqlite3'}", tz=UTC)
    with store.session() as db:
        clinician = create_clinician(db, email=EMAIL, display_name="Physio One", password=PASSWORD)
        db.add(Patient(pseudonym="p-own001", display_name="Own Patient", clinician_id=clinician.id))
        db.commit()
    yield store
    store.close()


def make_client(store: Store, **settings: object) -> TestClient:
    return TestClient(
        create_app(store, settings=Settings(data_dir=Path("/nonexistent"), **settings)),  # type: ignore[arg-type]
        base_url=BASE_URL,
        follow_redirects=False,
    )


@pytest.fixture
def client(app_store: Store) -> Iterator[TestClient]:
    with make_client(app_store) as test_client:
        yield test_client


def clinician_id(store: Store) -> int:
    with store.session() as db:
        return db.query(Clinician).filter_by(email=EMAIL).one().id


def patient_code(store: Store) -> str:
    with store.session() as db:
        code = issue_sign_in_code(db, db.query(Patient).one(), by=None, now=datetime.now(UTC))
        db.commit()
        return code


def login(client: TestClient, password: str = PASSWORD, *, email: str = EMAIL, next_path: str = "/") -> object:
    return client.post("/login", data={"email": email, "password": password, "next": next_path})


def test_a_clinician_signs_in_with_the_form_and_gets_a_locked_down_cookie(client: TestClient) -> None:
    assert client.get("/").status_code == 303  # not yet
    response = client.post("/login", data={"email": " Physio@Example.invalid ", "password": PASSWORD, "next": "/"})
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cookie = SimpleCookie(response.headers["set-cookie"])["__Host-dosis_session"]
    assert cookie["httponly"]
    assert cookie["secure"]
    assert cookie["samesite"].lower() == "lax"
    assert cookie["path"] == "/"
    assert not cookie["domain"]  # __Host-: this host only
    assert client.get("/").status_code == 200
    assert client.get("/api/auth/me").json()["display_name"] == "Physio One"


def test_a_wrong_password_is_refused_with_a_message_and_no_cookie(client: TestClient) -> None:
    response = client.post("/login", data={"email": EMAIL, "password": "not the password at all", "next": "/"})
    assert response.status_code == 401
    assert "Wrong email or password." in response.text
    assert "set-cookie" not in response.headers
    unknown = client.post("/login", data={"email": "nobody@example.invalid", "password": PASSWORD, "next": "/"})
    assert unknown.status_code == 401
    assert "Wrong email or password." in unknown.text  # the same words: which addresses exist stays unknown


@pytest.mark.parametrize(
    ("next_path", "expected"),
    [
        ("/patients/p-own001?week=3", "/patients/p-own001?week=3"),
        ("https://evil.example/phish", "/"),
        ("//evil.example/phish", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
    ],
)
def test_after_sign_in_only_a_path_on_this_site_is_followed(client: TestClient, next_path: str, expected: str) -> None:
    assert login(client, next_path=next_path).headers["location"] == expected  # type: ignore[attr-defined]


def test_a_page_sends_the_signed_out_to_the_sign_in_form_and_back(client: TestClient) -> None:
    response = client.get("/patients/p-own001?from=list")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/patients/p-own001%3Ffrom%3Dlist"
    form = client.get(response.headers["location"])
    assert 'name="next" value="/patients/p-own001?from=list"' in form.text
    assert client.get("/api/patients").status_code == 401


def test_five_wrong_passwords_lock_the_account_for_a_while(client: TestClient, app_store: Store) -> None:
    for _ in range(4):
        assert login(client, "wrong password, again").status_code == 401  # type: ignore[attr-defined]
    fifth = login(client, "wrong password, again")
    assert fifth.status_code == 429  # type: ignore[attr-defined]
    assert "locked for 15 minutes" in fifth.text  # type: ignore[attr-defined]
    assert login(client).status_code == 429  # type: ignore[attr-defined]  # even the right password, for now
    with app_store.session() as db:
        db.execute(update(Clinician).values(locked_until=datetime.now(UTC) - timedelta(seconds=1)))
        db.commit()
    assert login(client).status_code == 303  # type: ignore[attr-defined]


def test_one_address_gets_a_limited_number_of_wrong_guesses_a_minute(app_store: Store) -> None:
    with make_client(app_store, failed_logins_per_minute=3) as client:
        for attempt in range(3):
            email = f"guess{attempt}@example.invalid"
            assert login(client, email=email).status_code == 401  # type: ignore[attr-defined]
        refused = login(client)  # even the right password waits now
        assert refused.status_code == 429  # type: ignore[attr-defined]
        assert 1 <= int(refused.headers["retry-after"]) <= 61  # type: ignore[attr-defined]
        codes = client.post("/signin", data={"code": "0000-0000-0000"})
        assert codes.status_code == 429


def test_changes_need_the_sessions_csrf_token(client: TestClient, app_store: Store) -> None:
    session = sign_in(client, clinician_id=clinician_id(app_store))
    body = {"valid_from": "2026-03-02", "prescription": {"kind": "walking"}, "note": ""}
    path = "/api/patients/p-own001/prescriptions"
    del client.headers["X-CSRF-Token"]
    missing = client.post(path, json=body)
    assert missing.status_code == 403
    assert "reload the page" in missing.json()["detail"]
    assert client.post(path, json=body, headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert client.post("/logout", data={"csrf_token": "forged"}).status_code == 403
    assert client.get("/api/auth/me").status_code == 200  # still signed in
    cross_site = {"X-CSRF-Token": session.csrf_token, "Sec-Fetch-Site": "cross-site"}
    assert client.post("/logout", headers=cross_site).status_code == 403
    other_origin = {"X-CSRF-Token": session.csrf_token, "Origin": "https://evil.example"}
    assert client.post("/logout", headers=other_origin).status_code == 403
    assert client.post("/logout", data={"csrf_token": session.csrf_token}).status_code == 303
    assert client.get("/api/auth/me").status_code == 401


def test_signing_out_ends_the_session_on_the_server(client: TestClient, app_store: Store) -> None:
    session = sign_in(client, clinician_id=clinician_id(app_store))
    assert client.post("/api/auth/logout").status_code == 204
    with make_client(app_store) as replay:
        replay.cookies.set(session.cookie_name, session.token)  # a copy of the old cookie
        assert replay.get("/api/auth/me").status_code == 401


def backdate(store: Store, **columns: datetime) -> None:
    with store.session() as db:
        db.execute(update(WebSession).values(**columns))
        db.commit()


def test_a_clinicians_session_ends_after_30_idle_minutes_or_12_hours(client: TestClient, app_store: Store) -> None:
    sign_in(client, clinician_id=clinician_id(app_store))
    now = datetime.now(UTC)
    backdate(app_store, last_seen_at=now - timedelta(minutes=29))
    assert client.get("/api/auth/me").status_code == 200  # and this request counts as activity
    backdate(app_store, last_seen_at=now - timedelta(minutes=31))
    assert client.get("/api/auth/me").status_code == 401
    sign_in(client, clinician_id=clinician_id(app_store))
    backdate(app_store, expires_at=now - timedelta(seconds=1))
    assert client.get("/api/auth/me").status_code == 401


def test_a_patients_session_lasts_weeks_between_reports(client: TestClient, app_store: Store) -> None:
    with app_store.session() as db:
        patient_id = db.query(Patient).one().id
    sign_in(client, patient_id=patient_id)
    backdate(app_store, last_seen_at=datetime.now(UTC) - timedelta(days=6))
    assert client.get("/api/auth/me").json()["kind"] == "patient"
    backdate(app_store, last_seen_at=datetime.now(UTC) - timedelta(days=31))
    assert client.get("/api/auth/me").status_code == 401


def test_a_patient_signs_in_with_the_code_as_typed(client: TestClient, app_store: Store) -> None:
    code = patient_code(app_store)
    link = client.get(f"/signin?code={code}")
    assert f'value="{code}"' in link.text  # the link pre-fills the form: one tap
    typed = code.lower().replace("-", " ").replace("0", "o").replace("1", "l")
    response = client.post("/signin", data={"code": typed})
    assert response.status_code == 303
    assert response.headers["location"] == "/me"
    assert client.get("/api/auth/me").json() == {
        "kind": "patient",
        "display_name": "Own Patient",
        "is_admin": False,
        "locale": None,
        "csrf_token": client.get("/api/auth/me").json()["csrf_token"],
    }
    assert client.get("/api/patients").status_code == 403  # not a clinician


def test_a_wrong_code_is_refused_and_counted(client: TestClient) -> None:
    response = client.post("/signin", data={"code": "7KQ2-M9XD-4PHT"})
    assert response.status_code == 401
    assert "does not work" in response.text
    assert client.post("/api/auth/signin", json={"code": "not a code"}).status_code == 401


def test_the_json_api_signs_in_and_returns_the_csrf_token(client: TestClient) -> None:
    me = client.post("/api/auth/login", json={"email": EMAIL, "password": PASSWORD})
    assert me.status_code == 200
    token = me.json()["csrf_token"]
    assert client.get("/api/patients").json()[0]["pseudonym"] == "p-own001"
    assert client.post("/api/auth/logout", headers={"X-CSRF-Token": token}).status_code == 204
    wrong = client.post("/api/auth/login", json={"email": EMAIL, "password": "not it, not it"})
    assert wrong.status_code == 401
    assert wrong.json() == {"detail": "Wrong email or password."}


def test_every_response_carries_the_security_headers(client: TestClient) -> None:
    for path in ("/login", "/api/patients", "/static/style.css"):
        headers = client.get(path).headers
        assert "script-src 'self'" in headers["content-security-policy"], path
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["referrer-policy"] == "same-origin", path
    assert client.get("/login").headers["cache-control"] == "no-store"
    assert "max-age" in client.get("/static/style.css").headers["cache-control"]
