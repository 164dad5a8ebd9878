"""Request bodies over the limit: refused with a 413 in JSON before anything parses them, and nothing stored.

The limit (``dashboard.app.MAX_BODY_BYTES``; ``monitor.ingest.wire.MAX_INGEST_BODY_BYTES`` for hubs'
batches) is checked on the declared ``Content-Length`` and on the bytes as they arrive, so a chunked
body without a length and one longer than its length said are caught too. Each case runs in process
(Starlette's TestClient) and over real HTTP (uvicorn on a loopback port, httpx or a raw socket).
"""

from __future__ import annotations

import contextlib
import inspect
import socket
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from browser import serve
from fastapi import FastAPI
from fastapi.testclient import TestClient
from helpers import BrowserSession, open_browser_session
from sqlalchemy import func, select
from starlette.types import Message

from dashboard.app import MAX_BODY_BYTES, SECURITY_HEADERS, create_app
from monitor.ingest.hubs import register_hub
from monitor.ingest.uploader import Uploader
from monitor.ingest.wire import MAX_CHUNK_SAMPLES, MAX_INGEST_BODY_BYTES, ChunkMessage, IngestBatch, StartMessage
from monitor.settings import Settings
from monitor.store import Clinician, Patient, Store, TrainingSession
from monitor.store.signals import SIGNALS

T0_NS = 1_790_000_000_000_000_000
HARDEST_FLOAT = -1.2345678901234567e-05
"""A sample as long as a float gets in JSON (23 characters) that every signal's storage holds."""
SOCKET_TIMEOUT_S = 10
"""Guards against a server that waits for a body it should have refused (a hang, not a timing assert)."""


@dataclass(frozen=True)
class Clinic:
    store: Store
    app: FastAPI
    browser: BrowserSession
    hub_token: str
    pseudonym: str

    def count(self, model: type[Patient] | type[TrainingSession]) -> int:
        with self.store.session() as db:
            return db.scalar(select(func.count()).select_from(model)) or 0


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    json: Any


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clinic]:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('limits') / 'dosis.sqlite3'}")
    with store.session() as db:
        clinician = Clinician(email="physio@example.invalid", display_name="A Physio")
        patient = Patient(pseudonym="p-7f3c21", display_name="Ingrid Madsen", clinician=clinician)
        db.add_all([clinician, patient])
        db.commit()
        clinician_id = clinician.id
    settings = Settings(data_dir=Path("/nonexistent"))
    browser = open_browser_session(store, settings, clinician_id=clinician_id)
    yield Clinic(store, create_app(store, settings=settings), browser, register_hub(store, "gym-north"), "p-7f3c21")
    store.close()


@pytest.fixture(scope="module")
def served(clinic: Clinic) -> Iterator[str]:
    with serve(clinic.app) as base_url:
        yield base_url


@pytest.fixture(params=["in-process", "http"])
def post(request: pytest.FixtureRequest, clinic: Clinic) -> Iterator[Any]:
    """``post(path, content, headers) -> Answer`` through the TestClient or to uvicorn with httpx."""
    if request.param == "in-process":
        with TestClient(clinic.app, base_url="https://testserver") as client:
            yield lambda path, content, headers: _answer(client.post(path, content=content, headers=headers))
    else:
        base_url = request.getfixturevalue("served")
        with httpx.Client(base_url=base_url, timeout=SOCKET_TIMEOUT_S) as client:
            yield lambda path, content, headers: _answer(client.post(path, content=content, headers=headers))


def _answer(response: Any) -> Answer:
    is_json = response.headers.get("content-type", "").startswith("application/json")
    return Answer(response.status_code, dict(response.headers), response.json() if is_json else None)


def signed_in(clinic: Clinic, content_type: str) -> dict[str, str]:
    browser = clinic.browser
    return {
        "Cookie": f"{browser.cookie_name}={browser.token}",
        "X-CSRF-Token": browser.csrf_token,
        "Content-Type": content_type,
    }


def new_patient_json(size: int) -> bytes:
    """A new patient's JSON of exactly ``size`` bytes: its name too long to take, so a 422 once read."""
    frame = b'{"display_name": ""}'
    return frame[:-2] + b"x" * (size - len(frame)) + frame[-2:]


def in_pieces(body: bytes, piece: int = 64 * 1024) -> Iterable[bytes]:
    """The body as a generator: httpx sends it chunked, without a Content-Length."""
    return (body[i : i + piece] for i in range(0, len(body), piece))


def assert_refused(answer: Answer, limit: int) -> None:
    assert answer.status == 413
    assert f"larger than {limit} bytes" in answer.json["detail"]
    assert answer.headers["x-frame-options"] == SECURITY_HEADERS[b"x-frame-options"].decode()
    assert answer.headers["connection"] == "close"  # the unread rest of the body cannot pass for a next request


def test_a_body_one_byte_over_the_limit_is_refused_and_one_at_it_is_read(clinic: Clinic, post: Any) -> None:
    headers = signed_in(clinic, "application/json")
    patients = clinic.count(Patient)
    assert post("/api/patients", b'{"display_name": "Ove"}', headers).status == 201  # the route works here
    assert post("/api/patients", new_patient_json(MAX_BODY_BYTES), headers).status == 422  # read, then refused
    assert_refused(post("/api/patients", new_patient_json(MAX_BODY_BYTES + 1), headers), MAX_BODY_BYTES)
    assert clinic.count(Patient) == patients + 1


def test_a_chunked_body_without_a_length_is_counted_as_it_arrives(clinic: Clinic, post: Any) -> None:
    headers = signed_in(clinic, "application/json")
    patients = clinic.count(Patient)
    assert post("/api/patients", in_pieces(new_patient_json(MAX_BODY_BYTES)), headers).status == 422
    assert_refused(post("/api/patients", in_pieces(new_patient_json(MAX_BODY_BYTES + 1)), headers), MAX_BODY_BYTES)
    assert clinic.count(Patient) == patients


def test_a_form_over_the_limit_is_refused_before_it_is_parsed(clinic: Clinic, post: Any) -> None:
    headers = signed_in(clinic, "application/x-www-form-urlencoded")
    form = f"csrf_token={clinic.browser.csrf_token}&display_name=".encode()
    patients = clinic.count(Patient)
    padded = form + b"x" * (MAX_BODY_BYTES + 1 - len(form))
    assert_refused(post("/patients/new", padded, headers), MAX_BODY_BYTES)
    assert_refused(post("/patients/new", in_pieces(padded), headers), MAX_BODY_BYTES)
    # Signed out too: the sign-in form is not read past the limit either.
    assert_refused(post("/login", b"email=" + b"x" * MAX_BODY_BYTES, {}), MAX_BODY_BYTES)
    assert clinic.count(Patient) == patients


def largest_chunk(session: uuid.UUID) -> ChunkMessage:
    """The largest message a hub spools: the most samples of the signal with the most channels, the longest floats."""
    signal = max(SIGNALS, key=lambda name: SIGNALS[name].channels)
    channels = SIGNALS[signal].channels
    return ChunkMessage(
        session=session,
        signal=signal,
        device="Polar Verity Sense 0A1B2C3D",
        t_ns=[T0_NS + k * 1_000_000 for k in range(MAX_CHUNK_SAMPLES)],
        values=[[HARDEST_FLOAT] * channels] * MAX_CHUNK_SAMPLES,
    )


def hub_batch(chunks: int) -> tuple[uuid.UUID, bytes]:
    """A session's start and ``chunks`` of the largest chunk, as the hub's Uploader frames spooled messages."""
    session = uuid.uuid4()
    start = StartMessage(session=session, patient="p-7f3c21", kind="walking", started_at_ns=T0_NS)
    chunk = largest_chunk(session)
    messages = [start, *(chunk.model_copy(update={"t_ns": [t + k for t in chunk.t_ns]}) for k in range(chunks))]
    return session, ('{"messages":[' + ",".join(m.model_dump_json() for m in messages) + "]}").encode()


def test_the_largest_message_a_hub_spools_gets_through_the_ingest_limit(clinic: Clinic, post: Any) -> None:
    session, body = hub_batch(1)
    assert MAX_BODY_BYTES < len(body) < MAX_INGEST_BODY_BYTES
    IngestBatch.model_validate_json(body)  # what the server will parse
    answer = post(
        "/api/ingest", body, {"Authorization": f"Bearer {clinic.hub_token}", "Content-Type": "application/json"}
    )
    assert answer.status == 200, answer.json
    with clinic.store.session() as db:
        stored = db.scalars(select(TrainingSession).where(TrainingSession.uid == str(session))).one()
    assert len(clinic.store.signals.read(stored.id, largest_chunk(session).signal)) == MAX_CHUNK_SAMPLES


def test_the_uploaders_batches_fit_the_ingest_limit() -> None:
    """A batch is at most ``batch_bytes`` of messages and their framing, or one message alone (the test above)."""
    parameters = inspect.signature(Uploader).parameters
    batch_bytes, batch_messages = parameters["batch_bytes"].default, parameters["batch_messages"].default
    framing = len('{"messages":[]}') + batch_messages  # and a comma between two messages
    assert batch_bytes + framing <= MAX_INGEST_BODY_BYTES


def test_an_ingest_batch_over_its_limit_is_refused_whole(clinic: Clinic, post: Any) -> None:
    _, body = hub_batch(4)
    assert len(body) > MAX_INGEST_BODY_BYTES
    headers = {"Authorization": f"Bearer {clinic.hub_token}", "Content-Type": "application/json"}
    sessions = clinic.count(TrainingSession)
    assert_refused(post("/api/ingest", body, headers), MAX_INGEST_BODY_BYTES)
    assert_refused(post("/api/ingest", in_pieces(body), headers), MAX_INGEST_BODY_BYTES)
    assert clinic.count(TrainingSession) == sessions


async def test_a_content_length_smaller_than_the_body_does_not_get_the_rest_past_the_limit(clinic: Clinic) -> None:
    """ASGI: the header says 100 bytes, the body that arrives is over the limit; the bytes are what count."""
    body = new_patient_json(MAX_BODY_BYTES + 1)
    pieces = [{"type": "http.request", "body": piece, "more_body": True} for piece in in_pieces(body)]
    pieces[-1]["more_body"] = False
    sent: list[Message] = []

    async def receive() -> Message:
        return pieces.pop(0) if pieces else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    headers = {k.lower(): v for k, v in signed_in(clinic, "application/json").items()} | {"content-length": "100"}
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "path": "/api/patients",
        "raw_path": b"/api/patients",
        "query_string": b"",
        "root_path": "",
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()] + [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 443),
    }
    patients = clinic.count(Patient)
    await clinic.app(scope, receive, send)
    assert sent[0]["status"] == 413
    assert f"larger than {MAX_BODY_BYTES} bytes".encode() in b"".join(m.get("body", b"") for m in sent[1:])
    assert clinic.count(Patient) == patients


def raw_exchange(base_url: str, request: bytes, *, then: bytes = b"") -> list[int]:
    """Send ``request`` on one connection and read its answer, then ``then``; the status codes of what came back.

    After ``then`` the server may reset the connection while bytes it will not read are still arriving.
    """
    address = urlsplit(base_url)
    with socket.create_connection((address.hostname, address.port), timeout=SOCKET_TIMEOUT_S) as connection:
        connection.sendall(request)
        received = connection.recv(65536)
        with contextlib.suppress(OSError):  # reset, broken pipe, or not connected any more
            connection.sendall(then)
            connection.shutdown(socket.SHUT_WR)
            while chunk := connection.recv(65536):
                received += chunk
    return [int(line.split()[1]) for line in received.split(b"\r\n") if line.startswith(b"HTTP/1.1 ")]


def request_bytes(clinic: Clinic, content_length: int, body: bytes) -> bytes:
    headers = signed_in(clinic, "application/json") | {"Host": "127.0.0.1", "Content-Length": str(content_length)}
    head = "POST /api/patients HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    return head.encode() + body


def test_over_http_a_declared_length_over_the_limit_is_refused_without_waiting_for_the_body(
    clinic: Clinic, served: str
) -> None:
    statuses = raw_exchange(served, request_bytes(clinic, MAX_BODY_BYTES + 1, b'{"display_name": '))
    assert statuses == [413]


def test_over_http_bytes_past_the_declared_length_are_never_read_as_this_body(clinic: Clinic, served: str) -> None:
    patients = clinic.count(Patient)
    body = b'{"display_name": "Astrid"}'
    past_the_length = b', "locale": "da"' + b"x" * (2 * MAX_BODY_BYTES)
    statuses = raw_exchange(served, request_bytes(clinic, len(body), body), then=past_the_length)
    # The declared body is read and taken; the rest is no request at all, and the server says so or hangs up.
    assert statuses[0] == 201
    assert all(400 <= status < 500 for status in statuses[1:])
    assert clinic.count(Patient) == patients + 1
    with clinic.store.session() as db:
        assert db.scalars(select(Patient.locale).where(Patient.display_name == "Astrid")).all() == [None]
