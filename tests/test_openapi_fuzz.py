"""The JSON API fuzzed from its own OpenAPI schema with schemathesis, in process, as a clinician and as a patient.

What is tried: every operation of ``app.openapi()`` (43 when this was written), once signed in as the
demo clinic's clinician (an administrator too, so the admin routes run past their role check) and
once as one of its patients, each with a browser session (cookie and CSRF header) and a registered
hub's token (for ``/api/ingest``). For each operation, :data:`EXAMPLES` requests with input the
schema allows (positive) and :data:`EXAMPLES` with input it forbids (negative: wrong types, missing
fields, extra junk; 19 operations take nothing the schema forbids). Where the path names a patient,
session, clinician or signal, the same again with those pinned to real ones of the seeded clinic, so
the input reaches the handler behind the object check. That came to 554 requests per principal
(hypothesis stops early where there is little to vary): 93 of the clinician's answered 2xx, from 28
operations, and 39 of the patient's, from 11; all others 4xx. Hypothesis is derandomized, so every
run sends the same requests.

Every response must: not be a 5xx, have a status code and a content type the schema documents, a body
valid against the documented schema, and the documented headers.

Not checked: schemathesis' ``negative_data_rejection`` (input the schema forbids must be refused).
Pydantic's lax mode takes ``true`` for 1 in a number field and ``0`` for the date 1970-01-01, which
are valid values once read; test_form_input.py checks that nothing invalid lands in the database.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import pytest
import schemathesis
from helpers import BrowserSession, open_browser_session
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from pydantic import Field, TypeAdapter, ValidationError
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.errors import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from dashboard import create_app
from monitor.demo import DEMO_CLINICIAN, seed_demo_clinic
from monitor.ingest.hubs import register_hub
from monitor.settings import Settings
from monitor.store import Clinician, Patient, Store, TrainingSession
from monitor.store.accounts import find_sign_in, issue_sign_in_code

EXAMPLES = 6
"""Per operation, generation mode and pinning: enough to vary every parameter, few enough for CI."""
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
STREAM = "/api/live/stream"
"""Server-sent events, one a second until ``limit`` (default: never): fuzzed with a limit that ends it."""
PATIENT_OPERATIONS = re.compile(r"^/api/me(/|$)")
PUBLIC_OPERATIONS = re.compile(r"^/api/auth/")
_EVENT_COUNT: TypeAdapter[int] = TypeAdapter(Annotated[int, Field(ge=1)])


@dataclass(frozen=True)
class Clinic:
    store: Store
    settings: Settings
    clinician_id: int
    patient_id: int
    hub_token: str
    pins: dict[str, Any]
    """A real value for each path parameter that names something: the principals' own patient and session."""


@dataclass
class Tally:
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    nothing_to_forbid: set[str] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)

    def operations(self) -> set[str]:
        return {operation for operation, _ in self.statuses}

    def answered_2xx(self) -> set[str]:
        return {operation for operation, status in self.statuses if 200 <= status < 300}


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clinic]:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'dosis.sqlite3'}", tz=UTC)
    patients = asyncio.run(seed_demo_clinic(store, today=date(2026, 3, 4), weeks=2))
    with store.session() as db:
        clinician = db.scalars(select(Clinician).where(Clinician.email == DEMO_CLINICIAN.email)).one()
        clinician.is_admin = True
        colleague = Clinician(email="colleague@example.invalid", display_name="A Colleague")
        db.add(colleague)
        patient = db.get_one(Patient, patients[0].id)
        sign_in = find_sign_in(db, issue_sign_in_code(db, patient, by=clinician, now=datetime.now(UTC)))
        session_id = db.scalar(select(TrainingSession.id).where(TrainingSession.patient_id == patient.id).limit(1))
        db.commit()
        assert sign_in is not None
        assert session_id is not None
        pins = {
            "pseudonym": patient.pseudonym,
            "session_id": session_id,
            # Another clinician: the administrator disabling themself would end the run's sign-ins.
            "clinician_id": colleague.id,
            "sign_in_id": sign_in.id,
            "signal": "hr_bpm",
        }
        ids = (clinician.id, patient.id)
    # Wrong passwords and codes are most of what the sign-in operations get: no lockout here.
    settings_ = Settings(data_dir=Path("/nonexistent"), failed_logins_per_minute=1_000_000)
    yield Clinic(store, settings_, *ids, register_hub(store, "gym-fuzz"), pins)
    store.close()


def _refuses_limit(case: Case[Any]) -> bool:
    """Whether the stream's ``limit`` is one it refuses; any other request would stream on for as long as it liked."""
    limit = (case.query or {}).get("limit")
    if isinstance(limit, bool) or not isinstance(limit, int | float | str):
        return False
    try:
        _EVENT_COUNT.validate_strings(str(limit))
    except ValidationError:
        return True
    return False


def _strategy(operation: Any, mode: GenerationMode, pins: dict[str, Any] | None) -> st.SearchStrategy[Case[Any]]:
    if operation.path != STREAM:
        strategy: st.SearchStrategy[Case[Any]] = operation.as_strategy(mode, path_parameters=pins)
    elif mode == GenerationMode.POSITIVE:
        strategy = operation.as_strategy(mode, query={"limit": 1})
    else:
        strategy = operation.as_strategy(mode).filter(_refuses_limit)
    return strategy


def fuzz(clinic: Clinic, app: Any, *, clinician: bool) -> Tally:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=schemathesis.Config())
    tally = Tally()
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()  # a schema schemathesis cannot read is a failure of its own
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        names = {parameter.name for parameter in operation.path_parameters}
        pinned = {name: value for name, value in clinic.pins.items() if name in names}
        # One session per operation: a logout or a password change ends it for that operation alone.
        browser = open_browser_session(
            clinic.store,
            clinic.settings,
            clinician_id=clinic.clinician_id if clinician else None,
            patient_id=None if clinician else clinic.patient_id,
        )
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for pins in [None, pinned] if pinned else [None]:
                try:
                    _run(_strategy(operation, mode, pins), label, browser, clinic.hub_token, tally)
                except Unsatisfiable:
                    tally.nothing_to_forbid.add(label)
                except (Exception, FailureGroup) as error:
                    tally.failures.append(f"{label}, {mode.value}, pinned {pins}:\n{error}")
    return tally


def _run(
    strategy: st.SearchStrategy[Case[Any]], label: str, browser: BrowserSession, hub_token: str, tally: Tally
) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(case=strategy)
    def send(case: Case[Any]) -> None:
        response = case.call(
            base_url="https://testserver",
            headers={"X-CSRF-Token": browser.csrf_token, "Authorization": f"Bearer {hub_token}"},
            cookies={browser.cookie_name: browser.token},
        )
        tally.statuses[(label, response.status_code)] += 1
        case.validate_response(response, checks=CHECKS)

    send()


@pytest.mark.parametrize("clinician", [True, False], ids=["clinician", "patient"])
def test_every_operation_answers_as_its_schema_says(clinic: Clinic, clinician: bool) -> None:
    app = create_app(clinic.store, settings=clinic.settings)
    tally = fuzz(clinic, app, clinician=clinician)
    assert not tally.failures, "\n\n".join(tally.failures)
    operations = {f"{method.upper()} {path}" for path, item in app.openapi()["paths"].items() for method in item}
    assert tally.operations() == operations
    # Past the sign-in, the role and the object check, into the handlers: every read of the principal's own.
    reads = {
        op
        for op in operations
        if op.startswith("GET ")
        and not PUBLIC_OPERATIONS.match(op[4:])
        and bool(PATIENT_OPERATIONS.match(op[4:])) != clinician
    }
    assert reads
    assert reads <= tally.answered_2xx(), sorted(reads - tally.answered_2xx())
