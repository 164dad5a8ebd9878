"""Shared test helpers (imported by test modules; fixtures live in conftest.py)."""

from __future__ import annotations

import asyncio
import gzip
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn, cast

import numpy as np
import pytest
from bleak.backends.characteristic import BleakGATTCharacteristic
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select
from starlette.routing import BaseRoute

from dashboard.auth import session_cookie_name, session_limits
from drivers.gatt import HEART_RATE_MEASUREMENT_UUID
from drivers.polar_pmd import PMD_DATA_UUID, PmdDataFrame
from drivers.virtual import Replay
from monitor.settings import Settings
from monitor.store import Clinician, Patient, Store
from monitor.store.accounts import find_sign_in, issue_sign_in_code, open_session, sha256_hex
from monitor.store.models import WebSession


def skip_or_fail(reason: str) -> NoReturn:
    """Skip a test whose prerequisite is missing; in CI (CI=true) fail instead."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


def h10_ecg_replay(recordings: Path, *, seconds: float, heart_rate: Replay) -> tuple[Replay, np.ndarray]:
    """ECG frames from the real resting H10 recording, with ``heart_rate``'s notifications; and the ECG in µV."""
    with gzip.open(recordings / "polar_h10_rest_ecg_rr" / "polar_h10.csv.gz", "rt") as f:
        rows = np.loadtxt(f, delimiter=",", skiprows=1, usecols=(0, 1), max_rows=int(seconds * 130))
    ecg_uv = np.rint(rows[:, 1] * 1000)
    # The phone app stamped samples on arrival; the strap's own timer ticks evenly.
    t_s = np.arange(len(rows)) * float(np.median(np.diff(rows[:, 0]))) / 1e9
    frames = [
        (
            t_s[end - 1],
            PMD_DATA_UUID,
            bytes(PmdDataFrame("ecg", int(t_s[end - 1] * 1e9) + 1, 0, ecg_uv[end - 73 : end, None])),
        )
        for end in range(73, len(ecg_uv) + 1, 73)  # 73 samples fill an MTU of 232
    ]
    hr_items = [
        (i.t_ns / 1e9, i.characteristic, i.payload)
        for i in heart_rate.items
        if i.characteristic == HEART_RATE_MEASUREMENT_UUID
    ]
    return Replay.from_items(frames + hr_items[: int(seconds)]), ecg_uv[: len(frames) * 73]


class Inbox:
    """Notifications or indications as a bleak callback receives them."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()

    def __call__(self, _: BleakGATTCharacteristic, data: bytearray) -> None:
        self.queue.put_nowait(bytes(data))

    async def take(self, count: int, *, timeout_s: float = 3.0) -> list[bytes]:
        async with asyncio.timeout(timeout_s):
            return [await self.queue.get() for _ in range(count)]

    async def next(self) -> bytes:
        return (await self.take(1))[0]

    def drain(self) -> list[bytes]:
        items = []
        while not self.queue.empty():
            items.append(self.queue.get_nowait())
        return items


@dataclass(frozen=True)
class BrowserSession:
    """A signed-in browser session made without the password check (tested in test_sign_in.py)."""

    cookie_name: str
    token: str
    csrf_token: str


def open_browser_session(
    store: Store, settings: Settings, *, clinician_id: int | None = None, patient_id: int | None = None
) -> BrowserSession:
    """A session for a clinician, or for a patient through a new sign-in code of theirs."""
    now = datetime.now(UTC)
    with store.session() as db:
        if clinician_id is not None:
            token = open_session(
                db, now=now, limits=session_limits(settings, "clinician"), clinician=db.get_one(Clinician, clinician_id)
            )
        else:
            code = issue_sign_in_code(db, db.get_one(Patient, patient_id), by=None, now=now)
            token = open_session(
                db, now=now, limits=session_limits(settings, "patient"), sign_in=find_sign_in(db, code)
            )
        csrf_token = db.scalar(select(WebSession.csrf_token).where(WebSession.token_sha256 == sha256_hex(token)))
        db.commit()
    assert csrf_token is not None
    return BrowserSession(session_cookie_name(settings), token, csrf_token)


def sign_in(client: TestClient, *, clinician_id: int | None = None, patient_id: int | None = None) -> BrowserSession:
    """Sign a test client in: the session cookie, and the CSRF token as a default header."""
    app = cast(FastAPI, client.app)
    session = open_browser_session(
        app.state.store, app.state.settings, clinician_id=clinician_id, patient_id=patient_id
    )
    client.cookies.set(session.cookie_name, session.token)
    client.headers["X-CSRF-Token"] = session.csrf_token
    return session


def api_routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    """Every route, also inside included routers.

    Since FastAPI 0.165 ``app.routes`` holds an included router as one entry whose
    ``original_router`` has the routes; the app includes routers without a prefix, so their paths
    are already whole.
    """
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif (included := getattr(route, "original_router", None)) is not None:
            yield from api_routes(included.routes)
