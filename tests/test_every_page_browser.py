"""Every page of the demo clinic, in English, Danish and Norwegian, checked by axe-core in Debian's chromium.

The pages are found by walking the app's routes (every GET route outside the JSON API), so a
page added later is checked without anyone remembering to add it here. Each is opened as the
user it is for (clinician, administrator or patient) in each language; axe must find no WCAG 2
A/AA violation, the page must say which language it is in, and the language picker must mark it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import pytest
from axe import axe_violations, format_violations
from browser import browser, browser_type_launch_args, serve  # noqa: F401 - fixtures
from fastapi import FastAPI
from helpers import api_routes, open_browser_session
from playwright.sync_api import Page, Playwright, sync_playwright
from sqlalchemy import select

from dashboard import create_app
from dashboard.i18n import LANGUAGES
from monitor.demo import DEMO_CLINICIAN, seed_demo_clinic
from monitor.demo_accounts import DEMO_ADMIN_EMAIL, create_demo_accounts
from monitor.settings import Settings
from monitor.store import Clinician, Patient, Store, TrainingSession
from monitor.store.accounts import issue_sign_in_code

NOT_PAGES = re.compile(r"^/(api/|static|docs|redoc|openapi\.json|lang/|healthz)|/stream$")
PATIENT_PAGES = re.compile(r"^/me(/|$)")
ADMIN_PAGES = re.compile(r"^/admin")
SIGNED_OUT_PAGES = re.compile(r"^/(login|signin)$")


@dataclass(frozen=True)
class Clinic:
    store: Store
    settings: Settings
    url: str
    app: FastAPI
    clinician_id: int
    admin_id: int
    patient_id: int
    values: dict[str, str]


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clinic]:
    folder = tmp_path_factory.mktemp("every-page")
    store = Store(f"sqlite:///{folder / 'dosis.sqlite3'}")
    today = datetime.now(store.tz).date()
    asyncio.run(seed_demo_clinic(store, today=today, weeks=2))
    create_demo_accounts(store)
    with store.session() as db:
        clinician = db.scalars(select(Clinician).where(Clinician.email == DEMO_CLINICIAN.email)).one()
        admin_id = db.scalars(select(Clinician.id).where(Clinician.email == DEMO_ADMIN_EMAIL)).one()
        patient = db.scalars(select(Patient).where(Patient.clinician_id == clinician.id).order_by(Patient.id)).first()
        assert patient is not None
        session_id = db.scalars(
            select(TrainingSession.id)
            .where(TrainingSession.patient_id == patient.id)
            .order_by(TrainingSession.started_at.desc())
        ).first()
        issue_sign_in_code(db, patient, by=clinician, now=datetime.now(store.tz))
        db.commit()
        values = {
            "pseudonym": patient.pseudonym,
            "session_id": str(session_id),
            "day": today.isoformat(),
            "clinician_id": str(clinician.id),
        }
        ids = (clinician.id, admin_id, patient.id)
    settings = Settings(data_dir=folder, cookie_secure=False)
    app = create_app(store, settings=settings)
    with serve(app) as url:
        yield Clinic(store, settings, url, app, *ids, values)
    store.close()


@pytest.fixture(scope="module")
def playwright(clinic: Clinic) -> Iterator[Playwright]:
    # Started after the clinic is seeded: seeding runs asyncio.run(), which fails under Playwright's running loop.
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def base_url(clinic: Clinic) -> str:
    return clinic.url


def page_paths(clinic: Clinic) -> list[str]:
    """Every GET page of the app with its path parameters filled from the demo clinic."""
    paths = []
    for route in api_routes(clinic.app.routes):
        if "GET" not in (route.methods or ()) or NOT_PAGES.search(route.path):
            continue
        names = re.findall(r"\{([^}:]+)", route.path)
        missing = [name for name in names if name not in clinic.values]
        assert not missing, f"no value for {missing} in {route.path}: add one to the clinic fixture"
        paths.append(re.sub(r"\{([^}:]+)[^}]*\}", lambda m: clinic.values[m.group(1)], route.path))
    return sorted(set(paths))


def user_for(path: str, clinic: Clinic) -> dict[str, int] | None:
    if SIGNED_OUT_PAGES.match(path):
        return None
    if PATIENT_PAGES.match(path):
        return {"patient_id": clinic.patient_id}
    if ADMIN_PAGES.match(path):
        return {"clinician_id": clinic.admin_id}
    return {"clinician_id": clinic.clinician_id}


def test_the_walk_covers_the_main_pages(clinic: Clinic) -> None:
    paths = page_paths(clinic)
    pseudonym, session_id = clinic.values["pseudonym"], clinic.values["session_id"]
    assert {"/", f"/patients/{pseudonym}", f"/sessions/{session_id}", "/login", "/signin", "/me"} <= set(paths)


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_every_page_in_every_language_has_no_accessibility_violations(
    page: Page, clinic: Clinic, language: str
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    problems = []
    for path in page_paths(clinic):
        user = user_for(path, clinic)
        page.context.clear_cookies()
        page.context.add_cookies([{"name": "lang", "value": language, "url": clinic.url}])
        if user is not None:
            session = open_browser_session(clinic.store, clinic.settings, **user)
            page.context.add_cookies([{"name": session.cookie_name, "value": session.token, "url": clinic.url}])
        response = page.goto(path)
        assert response is not None
        if response.status != 200:
            problems.append(f"{path}: status {response.status}")
            continue
        if page.locator("html").get_attribute("lang") != language:
            problems.append(f"{path}: <html lang> is not {language}")
        violations = axe_violations(page)
        if violations:
            problems.append(f"{path}:\n{format_violations(violations)}")
    assert problems == [], "\n".join(problems)
    assert errors == []
