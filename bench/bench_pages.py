"""Page and API response times on the demo clinic, as a clinician and a patient use them.

Run with `.venv/bin/python bench/bench_pages.py` (part of `make bench`). The demo clinic is
seeded with 12 weeks of history (`seed_demo_clinic`, the demo's own accounts), then served by
a real `dosis serve` subprocess on SQLite. Every GET route of the app is requested as the user
it is for, the path parameters filled with a demo patient and their newest session; endless
streams (server-sent events) are left to the live-latency test. Each URL gets a few warm-up
requests, then ``REQUESTS`` one after another; times are client-side, from sending to the last
byte. Beside each, the ratio to `/healthz` on the same server: the floor of uvicorn, FastAPI and
the security middleware, so the ratio is what the page itself costs.
"""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
from sqlalchemy import select

from dashboard import create_app
from monitor.demo import seed_demo_clinic
from monitor.demo_accounts import DemoLogin, create_demo_accounts
from monitor.settings import Settings
from monitor.store import Patient, Store, TrainingSession

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from helpers import api_routes
from servers import DosisServer

WEEKS = 12
WARM_UP = 3
REQUESTS = 40
TARGET_P95_MS = 100.0
SKIPPED = re.compile(r"stream|^/(static|docs|redoc|openapi\.json|lang/|signin|login|api/ingest)")
"""Endless streams (the live latency has bench/bench_live.py), sign-in forms, and the hubs' token-only routes."""
PATIENT_ROUTES = re.compile(r"^/(api/)?me(/|$)")
ADMIN_ROUTES = re.compile(r"^/(admin|api/clinicians)")


@dataclass(frozen=True)
class Timing:
    path: str
    p50_ms: float
    p95_ms: float
    status: int


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def time_get(client: httpx.Client, path: str) -> Timing:
    for _ in range(WARM_UP):
        client.get(path)
    times_ms = []
    status = 0
    for _ in range(REQUESTS):
        start = time.perf_counter()
        response = client.get(path)
        response.read()
        times_ms.append((time.perf_counter() - start) * 1000)
        status = response.status_code
    return Timing(path, statistics.median(times_ms), percentile(times_ms, 0.95), status)


def signed_in(url: str, login: DemoLogin) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=30)
    client.post("/api/auth/login", json={"email": login.email, "password": login.password}).raise_for_status()
    return client


def get_routes(store: Store) -> list[str]:
    app = create_app(store, settings=Settings(data_dir=Path(tempfile.gettempdir())))
    return sorted(
        route.path
        for route in api_routes(app.routes)
        if "GET" in (route.methods or ()) and not SKIPPED.search(route.path)
    )


def fill(path: str, values: dict[str, str]) -> str | None:
    names = re.findall(r"\{([^}:]+)", path)
    if any(name not in values for name in names):
        return None
    return re.sub(r"\{([^}:]+)[^}]*\}", lambda m: values[m.group(1)], path)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="dosis-bench-pages-") as folder:
        data_dir = Path(folder)
        store = Store(f"sqlite:///{data_dir / 'dosis.sqlite3'}")
        started = time.perf_counter()
        asyncio.run(seed_demo_clinic(store, today=date.today(), weeks=WEEKS))
        accounts = create_demo_accounts(store)
        with store.session() as db:
            patient = db.scalars(select(Patient).order_by(Patient.id)).first()
            assert patient is not None
            newest = db.scalar(
                select(TrainingSession.id)
                .where(TrainingSession.patient_id == patient.id)
                .order_by(TrainingSession.started_at.desc())
            )
            sessions = db.scalar(select(TrainingSession.id).order_by(TrainingSession.id.desc()))
        values = {
            "pseudonym": patient.pseudonym,
            "session_id": str(newest),
            "signal": "hr_bpm",
            "day": date.today().isoformat(),
        }
        routes = get_routes(store)
        store.close()
        seeded_s = time.perf_counter() - started
        code = next(c.code for c in accounts.patient_codes if c.pseudonym == patient.pseudonym)
        clinician_login, admin_login = accounts.logins

        # Plain HTTP on loopback: the Secure cookie would not come back to this client.
        server = DosisServer(data_dir, {"DOSIS_COOKIE_SECURE": "false"})
        server.start()
        try:
            clinician, admin = (signed_in(server.url, login) for login in (clinician_login, admin_login))
            patient_client = httpx.Client(base_url=server.url, timeout=30)
            patient_client.post("/api/auth/signin", json={"code": code}).raise_for_status()
            floor = time_get(clinician, "/healthz")
            timings = []
            for route in routes:
                path = fill(route, values)
                if path is None:
                    print(f"skipped {route}: no value for its path parameters")
                    continue
                client = (
                    patient_client if PATIENT_ROUTES.match(route) else admin if ADMIN_ROUTES.match(route) else clinician
                )
                timings.append(time_get(client, path))
        finally:
            server.stop()
        report(floor, timings, seeded_s, sessions or 0)


def report(floor: Timing, timings: list[Timing], seeded_s: float, sessions: int) -> None:
    load = os.getloadavg()[0]
    print(f"\nDemo clinic: {WEEKS} weeks, {sessions} sessions, seeded in {seeded_s:.0f} s; load average {load:.2f}")
    print(f"{REQUESTS} requests a URL after {WARM_UP} warm-up, one at a time, to a `dosis serve` on SQLite.\n")
    print("| URL | status | median | p95 | p95 vs /healthz | target p95 ≤ 100 ms |")
    print("|---|---|---|---|---|---|")
    print(f"| /healthz (floor) | {floor.status} | {floor.p50_ms:.1f} ms | {floor.p95_ms:.1f} ms | 1.0× | |")
    for t in timings:
        met = "met" if t.p95_ms <= TARGET_P95_MS else "**not met**"
        ratio = t.p95_ms / floor.p95_ms
        print(f"| {t.path} | {t.status} | {t.p50_ms:.1f} ms | {t.p95_ms:.1f} ms | {ratio:.1f}× | {met} |")
    failed = [t.path for t in timings if t.status not in (200, 303)]  # 303: /me/morning is today's morning
    if failed:
        raise SystemExit(f"not 200: {failed}")


if __name__ == "__main__":
    main()
