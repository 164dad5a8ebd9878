"""Accounts on the web, through the real pages and API: clinicians, patients' codes, the audit view, settings."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from helpers import sign_in
from httpx2 import Response  # what starlette's TestClient answers with
from sqlalchemy import select, update

from dashboard import create_app
from monitor.settings import Settings
from monitor.store import AuditEvent, Clinician, Patient, Store
from monitor.store.accounts import create_clinician
from monitor.store.models import PatientSignIn

BASE_URL = "https://testserver"
PASSWORD = "a quiet river at dawn"
ADMIN_EMAIL = "admin@example.invalid"
PHYSIO_EMAIL = "physio@example.invalid"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'dosis.sqlite3'}")
    with store.session() as db:
        admin = create_clinician(db, email=ADMIN_EMAIL, display_name="Ada Admin", password=PASSWORD, is_admin=True)
        physio = create_clinician(db, email=PHYSIO_EMAIL, display_name="Pia Physio", password=PASSWORD)
        other = create_clinician(db, email="other@example.invalid", display_name="Otto Other", password=PASSWORD)
        db.add(Patient(pseudonym="p-their01", display_name="Their Patient", clinician_id=other.id))
        db.commit()
        assert (admin.id, physio.id) == (1, 2)
    yield store
    store.close()


def client_for(store: Store) -> TestClient:
    app = create_app(store, settings=Settings(data_dir=Path("/nonexistent")))
    return TestClient(app, base_url=BASE_URL, follow_redirects=False)


@pytest.fixture
def admin(store: Store) -> Iterator[TestClient]:
    with client_for(store) as client:
        sign_in(client, clinician_id=1)
        yield client


@pytest.fixture
def physio(store: Store) -> Iterator[TestClient]:
    with client_for(store) as client:
        sign_in(client, clinician_id=2)
        yield client


def clinician_id(store: Store, email: str) -> int:
    with store.session() as db:
        return db.scalars(select(Clinician.id).where(Clinician.email == email)).one()


def form(client: TestClient, path: str, **fields: str) -> Response:
    """Post a form as the page does: with the session's CSRF token as the hidden field, not the header."""
    return client.post(path, data={"csrf_token": client.headers["X-CSRF-Token"], **fields})


def login(client: TestClient, email: str, password: str) -> Response:
    return client.post("/login", data={"email": email, "password": password, "next": "/"})


def shown(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>([^<]+)<', html)
    assert match, f"no #{element_id} on the page"
    return match.group(1)


def audit_details(store: Store) -> list[tuple[str, str, str]]:
    with store.session() as db:
        return [(e.actor, e.action, e.detail) for e in db.scalars(select(AuditEvent).order_by(AuditEvent.id))]


# An administrator and clinicians' accounts.


def test_an_admin_adds_a_clinician_who_signs_in_with_the_password_shown_once(admin: TestClient, store: Store) -> None:
    assert "Pia Physio" in admin.get("/admin/clinicians").text
    page = form(admin, "/admin/clinicians", email=" New@Example.invalid ", display_name="Nils New")
    assert page.status_code == 200
    password = shown(page.text, "shown-password")
    assert len(password) >= 12
    assert password not in admin.get("/admin/clinicians").text  # once
    with client_for(store) as browser:
        assert login(browser, "new@example.invalid", password).headers["location"] == "/"
        assert browser.get("/api/auth/me").json()["display_name"] == "Nils New"
    new_id = clinician_id(store, "new@example.invalid")
    assert ("clinician:1", "clinician-add", f"clinician:{new_id} as clinician") in audit_details(store)
    assert not any(password in detail for *_, detail in audit_details(store))
    listed = {c["email"]: c for c in admin.get("/api/clinicians").json()}
    assert listed["new@example.invalid"]["last_sign_in_at"] is not None
    assert listed[PHYSIO_EMAIL]["last_sign_in_at"] is None


def test_an_admin_may_choose_the_password_and_mistakes_come_back_on_the_page(admin: TestClient, store: Store) -> None:
    fields = {"email": "nora@example.invalid", "display_name": "Nora Nurse", "is_admin": "on"}
    short = form(admin, "/admin/clinicians", **fields, password="too short")
    assert short.status_code == 422
    assert "at least 12 characters" in short.text
    assert 'value="nora@example.invalid"' in short.text
    assert 'value="Nora Nurse"' in short.text
    assert 'id="new-admin" name="is_admin" type="checkbox" value="on" checked' in short.text
    taken = form(admin, "/admin/clinicians", email=PHYSIO_EMAIL, display_name="Pia Again")
    assert taken.status_code == 422
    assert f"There is already an account for {PHYSIO_EMAIL}." in taken.text
    chosen = form(admin, "/admin/clinicians", **fields, password="the admin's own choice")
    assert chosen.status_code == 200
    assert 'id="shown-password"' not in chosen.text
    with client_for(store) as browser:
        assert login(browser, "nora@example.invalid", "the admin's own choice").status_code == 303
        assert browser.get("/api/auth/me").json()["is_admin"] is True


def test_the_api_adds_clinicians_and_refuses_a_duplicate(admin: TestClient, store: Store) -> None:
    created = admin.post("/api/clinicians", json={"email": "api@example.invalid", "display_name": "Api Person"})
    assert created.status_code == 201
    body = created.json()
    assert body["clinician"]["is_admin"] is False
    with client_for(store) as browser:
        assert login(browser, "api@example.invalid", body["password"]).status_code == 303
    duplicate = admin.post("/api/clinicians", json={"email": "API@example.invalid", "display_name": "Again"})
    assert duplicate.status_code == 422
    assert "already an account" in duplicate.json()["detail"]
    chosen = admin.post("/api/clinicians", json={"email": "c@example.invalid", "display_name": "C", "password": "x"})
    assert chosen.status_code == 422


def test_a_clinician_who_is_not_an_admin_gets_403(physio: TestClient) -> None:
    assert physio.get("/admin/clinicians").status_code == 403
    assert form(physio, "/admin/clinicians", email="x@example.invalid", display_name="X").status_code == 403
    assert physio.get("/api/clinicians").status_code == 403
    assert physio.post("/api/clinicians/3/disable").status_code == 403
    assert physio.post("/api/clinicians/3/password").status_code == 403


def test_disabling_a_clinician_ends_their_sessions_and_blocks_sign_in(admin: TestClient, store: Store) -> None:
    with client_for(store) as browser:
        assert login(browser, PHYSIO_EMAIL, PASSWORD).status_code == 303
        assert browser.get("/").status_code == 200
        disabled = form(admin, "/admin/clinicians/2/disable")
        assert disabled.status_code == 303
        assert disabled.headers["location"] == "/admin/clinicians#clinician-2"
        assert browser.get("/").headers["location"] == "/login?next=/"
        assert login(browser, PHYSIO_EMAIL, PASSWORD).status_code == 401
        assert "Disabled since" in admin.get("/admin/clinicians").text
        assert admin.post("/api/clinicians/2/enable").json()["disabled_at"] is None
        assert login(browser, PHYSIO_EMAIL, PASSWORD).status_code == 303
    actions = [action for _, action, _ in audit_details(store)]
    assert actions.count("clinician-disable") == actions.count("clinician-enable") == 1


def test_an_admin_cannot_disable_themself_nor_reach_a_clinician_who_does_not_exist(admin: TestClient) -> None:
    refused = form(admin, "/admin/clinicians/1/disable")
    assert refused.status_code == 422
    assert "You cannot disable your own account." in refused.text
    assert admin.post("/api/clinicians/1/disable").status_code == 422
    assert admin.get("/api/auth/me").status_code == 200  # still signed in
    assert admin.post("/api/clinicians/99/disable").status_code == 404
    assert form(admin, "/admin/clinicians/99/password").status_code == 404


def test_a_new_password_from_the_admin_replaces_the_old_one_and_signs_out(admin: TestClient, store: Store) -> None:
    with client_for(store) as browser:
        assert login(browser, PHYSIO_EMAIL, PASSWORD).status_code == 303
        page = form(admin, "/admin/clinicians/2/password")
        assert page.status_code == 200
        new_password = shown(page.text, "shown-password")
        assert browser.get("/api/auth/me").status_code == 401
        assert login(browser, PHYSIO_EMAIL, PASSWORD).status_code == 401
        assert login(browser, PHYSIO_EMAIL, new_password).status_code == 303
    from_api = admin.post("/api/clinicians/2/password").json()["password"]
    assert from_api != new_password
    assert form(admin, "/admin/clinicians/1/password").status_code == 422  # one's own: on the account page


# A clinician's patients and their sign-in codes.


def new_patient(client: TestClient, name: str = "Karen Knee") -> str:
    """Add a patient through the form; their pseudonym, from where it leads."""
    response = form(client, "/patients/new", display_name=name, locale="da")
    assert response.status_code == 303
    match = re.fullmatch(r"/patients/(p-[0-9a-f]{8})/access\?added=1", response.headers["location"])
    assert match, response.headers["location"]
    return match.group(1)


def issue_code(client: TestClient, pseudonym: str) -> tuple[str, str]:
    page = form(client, f"/patients/{pseudonym}/sign-ins")
    assert page.status_code == 200
    return shown(page.text, "issued-code"), shown(page.text, "issued-link")


def test_a_clinician_adds_a_patient_with_a_random_pseudonym(physio: TestClient, store: Store) -> None:
    page = physio.get("/patients/new")
    assert page.status_code == 200
    assert 'name="display_name"' in page.text
    first, second = new_patient(physio), new_patient(physio)
    assert first != second  # the same name, yet not the same pseudonym: it is not made from the name
    with store.session() as db:
        patient = db.scalars(select(Patient).where(Patient.pseudonym == first)).one()
        assert (patient.display_name, patient.clinician_id, patient.locale) == ("Karen Knee", 2, "da")
    added = physio.get(f"/patients/{first}/access?added=1")
    assert "The patient is added." in added.text
    assert "No codes yet" in added.text
    empty = form(physio, "/patients/new", display_name="  ", locale="fr")
    assert empty.status_code == 422
    assert "Enter the patient&#39;s name." in empty.text
    wrong_language = form(physio, "/patients/new", display_name="Lars Lang", locale="fr")
    assert wrong_language.status_code == 422
    assert 'value="Lars Lang"' in wrong_language.text
    created = physio.post("/api/patients", json={"display_name": "Api Patient"})
    assert created.status_code == 201
    assert created.json()["locale"] is None
    assert re.fullmatch(r"p-[0-9a-f]{8}", created.json()["pseudonym"])


def test_a_patient_signs_in_with_an_issued_code_until_it_is_revoked(physio: TestClient, store: Store) -> None:
    pseudonym = new_patient(physio)
    code, link = issue_code(physio, pseudonym)
    assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", code)
    assert link == f"{BASE_URL}/signin?code={code}"
    with client_for(store) as phone:
        assert f'value="{code}"' in phone.get(link.removeprefix(BASE_URL)).text
        assert phone.post("/signin", data={"code": code}).headers["location"] == "/me"
        assert phone.get("/me/account").status_code == 200
        codes = physio.get(f"/api/patients/{pseudonym}/sign-ins").json()
        assert [(c["created_by"], c["revoked_at"]) for c in codes] == [("Pia Physio", None)]
        assert codes[0]["last_used_at"] is not None
        assert code not in physio.get(f"/patients/{pseudonym}/access").text  # shown once only
        revoked = form(physio, f"/patients/{pseudonym}/sign-ins/{codes[0]['id']}/revoke")
        assert revoked.headers["location"] == f"/patients/{pseudonym}/access#sign-ins"
        assert phone.get("/me/account").status_code == 303  # the session it opened has ended
        refused = phone.post("/signin", data={"code": code})
        assert refused.status_code == 401
    assert "Revoked" in physio.get(f"/patients/{pseudonym}/access").text
    from_api = physio.post(f"/api/patients/{pseudonym}/sign-ins")
    assert from_api.status_code == 201
    assert from_api.json()["link"] == f"{BASE_URL}/signin?code={from_api.json()['code']}"
    again = physio.post(f"/api/patients/{pseudonym}/sign-ins/{codes[0]['id']}/revoke")
    assert again.json()["revoked_at"] is not None  # revoking twice changes nothing
    actions = [action for _, action, _ in audit_details(store)]
    assert actions.count("sign-in-issue") == 2
    assert actions.count("sign-in-revoke") == 1


def their_sign_in_id(store: Store) -> int:
    with store.session() as db:
        their_patient = db.scalars(select(Patient).where(Patient.pseudonym == "p-their01")).one()
        sign_in = PatientSignIn(patient_id=their_patient.id, code_sha256="0" * 64, created_at=datetime.now(UTC))
        db.add(sign_in)
        db.commit()
        return sign_in.id


def test_another_clinicians_patient_and_codes_are_404_on_every_route(physio: TestClient, store: Store) -> None:
    theirs = their_sign_in_id(store)
    requests = [
        ("GET", "/patients/p-their01/access"),
        ("POST", "/patients/p-their01/sign-ins"),
        ("POST", f"/patients/p-their01/sign-ins/{theirs}/revoke"),
        ("GET", "/api/patients/p-their01/sign-ins"),
        ("POST", "/api/patients/p-their01/sign-ins"),
        ("POST", f"/api/patients/p-their01/sign-ins/{theirs}/revoke"),
        ("GET", "/api/patients/p-their01/audit"),
    ]
    for method, path in requests:
        response = physio.request(method, path)
        assert response.status_code == 404, (method, path)
        assert "among yours" in response.text, (method, path)
    mine = new_patient(physio)
    # Someone else's code through one's own patient: still not found, and not revoked.
    assert form(physio, f"/patients/{mine}/sign-ins/{theirs}/revoke").status_code == 404
    assert physio.post(f"/api/patients/{mine}/sign-ins/{theirs}/revoke").status_code == 404
    with store.session() as db:
        assert db.get_one(PatientSignIn, theirs).revoked_at is None
        seen_by_pia = select(AuditEvent).where(AuditEvent.patient_pseudonym == "p-their01")
        assert db.scalars(seen_by_pia).all() == []  # nothing was shown, so nothing is in the log


def test_the_audit_view_shows_who_saw_the_patient_newest_first(physio: TestClient, store: Store) -> None:
    pseudonym = new_patient(physio)
    code, _ = issue_code(physio, pseudonym)
    assert physio.get(f"/patients/{pseudonym}").status_code == 200  # Pia sees the patient's page
    with client_for(store) as phone:
        phone.post("/signin", data={"code": code})
        assert phone.get("/me").status_code == 200  # the patient sees their own
    # The patient moves to another clinician (there is no page for that yet): Pia's views stay in the log.
    with store.session() as db:
        db.execute(update(Patient).where(Patient.pseudonym == pseudonym).values(clinician_id=3))
        db.commit()
    with client_for(store) as otto:
        sign_in(otto, clinician_id=3)
        assert physio.get(f"/patients/{pseudonym}/access").status_code == 404  # not Pia's any more
        page = otto.get(f"/patients/{pseudonym}/access")
        row = r'<tr data-actor="([^"]+)" data-action="([^"]+)">\s*<td>[^<]*</td>\s*<td>([^<]+)</td>'
        rows = re.findall(row, page.text)
        events = otto.get(f"/api/patients/{pseudonym}/audit").json()
    assert (f"patient:{pseudonym}", "view", "The patient") in rows
    assert ("clinician:2", "view", "Pia Physio") in rows
    assert ("clinician:2", "patient-add", "Pia Physio") in rows
    assert rows[0] == ("clinician:3", "view", "Otto Other")  # this very look, newest first
    assert rows[-1][1] == "patient-add"  # the first thing that happened
    assert [e["at"] for e in events] == sorted((e["at"] for e in events), reverse=True)
    by_patient = [e for e in events if e["by_patient"]]
    assert by_patient
    assert {e["actor_name"] for e in by_patient} == {None}
    assert len(otto.get(f"/api/patients/{pseudonym}/audit?limit=2").json()) == 2


# One's own account.


def test_a_clinicians_language_shows_from_the_next_page_on(physio: TestClient, store: Store) -> None:
    assert '<html lang="en">' in physio.get("/account").text
    saved = form(physio, "/account/language", locale="da")
    assert saved.headers["location"] == "/account?saved=language"
    assert '<html lang="da">' in physio.get("/").text
    assert physio.get("/").headers["content-language"] == "da"
    with store.session() as db:
        assert db.get_one(Clinician, 2).locale == "da"
    wrong = form(physio, "/account/language", locale="xx")
    assert wrong.status_code == 422
    assert physio.put("/api/account/language", json={"locale": None}).json() == {"locale": None}
    assert '<html lang="en">' in physio.get("/", headers={"Accept-Language": "en"}).text


def test_a_patient_chooses_their_language_on_their_own_account_page(physio: TestClient, store: Store) -> None:
    pseudonym = new_patient(physio)
    code, _ = issue_code(physio, pseudonym)
    with client_for(store) as phone:
        phone.post("/signin", data={"code": code})
        page = phone.get("/me/account")
        assert '<html lang="da">' in page.text  # as the clinician set it when adding the patient
        assert 'name="current_password"' not in page.text  # patients have a code, no password
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf
        saved = phone.post("/me/account/language", data={"csrf_token": csrf.group(1), "locale": "nb"})
        assert saved.headers["location"] == "/me/account?saved=language"
        assert '<html lang="nb">' in phone.get("/me/account").text
        assert phone.get("/account").status_code == 403
        headers = {"X-CSRF-Token": csrf.group(1)}
        assert phone.put("/api/me/account/language", json={"locale": "en"}, headers=headers).status_code == 200
        assert phone.put("/api/me/account/language", json={"locale": "sv"}, headers=headers).status_code == 422
        assert '<html lang="en">' in phone.get("/me/account").text
    assert (f"patient:{pseudonym}", "settings", "language nb") in audit_details(store)


def test_changing_ones_password_needs_the_current_one_and_signs_out_elsewhere(physio: TestClient, store: Store) -> None:
    with client_for(store) as other_browser:
        assert login(other_browser, PHYSIO_EMAIL, PASSWORD).status_code == 303
        fields = {"new_password": "a brand new passphrase", "repeat_password": "a brand new passphrase"}
        wrong = form(physio, "/account/password", current_password="not my password", **fields)
        assert wrong.status_code == 422
        assert "The current password is not right." in wrong.text
        assert "not my password" not in wrong.text  # passwords are never put back in the page
        differ = {"new_password": "x" * 12, "repeat_password": "y" * 12}
        assert form(physio, "/account/password", current_password=PASSWORD, **differ).status_code == 422
        changed = form(physio, "/account/password", current_password=PASSWORD, **fields)
        assert changed.status_code == 303
        assert changed.headers["location"] == "/account?saved=password"
        assert physio.get("/account?saved=password").status_code == 200  # this browser: a new session
        assert other_browser.get("/api/auth/me").status_code == 401  # every other one: signed out
        assert login(other_browser, PHYSIO_EMAIL, PASSWORD).status_code == 401
        assert login(other_browser, PHYSIO_EMAIL, "a brand new passphrase").status_code == 303
    assert ("clinician:2", "password-change", "clinician:2") in audit_details(store)


def test_the_api_changes_a_password_and_hands_over_the_new_sessions_csrf_token(
    physio: TestClient, store: Store
) -> None:
    wrong = physio.post("/api/account/password", json={"current_password": "nope", "new_password": "x" * 12})
    assert wrong.status_code == 422
    change = {"current_password": PASSWORD, "new_password": "an api chosen passphrase"}
    changed = physio.post("/api/account/password", json=change)
    assert changed.status_code == 200
    old_token = physio.headers["X-CSRF-Token"]
    new_token = changed.json()["csrf_token"]
    assert new_token != old_token
    assert physio.put("/api/account/language", json={"locale": "nb"}).status_code == 403  # the old token is gone
    physio.headers["X-CSRF-Token"] = new_token
    assert physio.put("/api/account/language", json={"locale": "nb"}).json() == {"locale": "nb"}
    with client_for(store) as browser:
        assert login(browser, PHYSIO_EMAIL, "an api chosen passphrase").status_code == 303
