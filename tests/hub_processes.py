"""A Dosis server and hubs as processes, for the tests that stream sessions through outages.

A :class:`Clinic` is a server's data folder with two patients and two registered hubs, its
``dosis serve`` run as a process; :func:`hub` runs ``dosis`` as a hub beside it. The
reference a streamed session is compared with is the same capture replayed straight into
a store with the hub's 1 s chunks (:func:`replayed_at_the_server`).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np
from servers import DOSIS_COMMAND, DosisServer
from sqlalchemy import select

from monitor.composites import WALKING_CAPTURE
from monitor.ingest.hubs import register_hub
from monitor.replay import replay_capture
from monitor.settings import Settings
from monitor.sinks import STREAM_CHUNK_SPAN_NS, PatientInStore
from monitor.store import SIGNALS, Patient, Store, TrainingSession

PSEUDONYM = "p-3f7a21"
SECOND_PSEUDONYM = "p-8c04d9"
SPEED = 10.0
"""The walking capture's two minutes in twelve seconds: long enough to cut into, short enough for CI."""


class Clinic:
    """A server's data folder with two patients and two hubs; the server runs as a process."""

    def __init__(self, folder: Path, settings: Settings) -> None:
        folder.mkdir()
        self.settings = settings.model_copy(update={"data_dir": folder})
        self.store = Store.from_settings(self.settings)
        with self.store.session() as db:
            db.add(Patient(pseudonym=PSEUDONYM, display_name="Ingrid Madsen"))
            db.add(Patient(pseudonym=SECOND_PSEUDONYM, display_name="Lars Holm"))
            db.commit()
        self.token = register_hub(self.store, "gym-north")
        self.second_token = register_hub(self.store, "gym-south")
        env = {k: str(v) for k, v in _server_env(self.settings).items()}
        self.server = DosisServer(folder, env)

    def session(self, pseudonym: str = PSEUDONYM) -> TrainingSession | None:
        with self.store.session() as db:
            session = db.scalar(select(TrainingSession).join(Patient).where(Patient.pseudonym == pseudonym))
            if session is not None:
                session.events  # noqa: B018  # loaded while the ORM session is open
            return session

    def samples(self, signal: str = "acc_mg") -> int:
        session = self.session()
        return 0 if session is None else len(self.store.signals.read(session.id, signal))


def replayed_at_the_server(
    folder: Path, capture: Path, chunk_span_ns: int = STREAM_CHUNK_SPAN_NS
) -> tuple[Store, TrainingSession]:
    """The capture replayed straight into a store, in the hub's 1 s chunks (or ``chunk_span_ns``)."""
    store = Store(f"sqlite:///{folder / 'reference.sqlite3'}")
    with store.session() as db:
        patient = Patient(pseudonym=PSEUDONYM, display_name="Ingrid Madsen")
        db.add(patient)
        db.commit()
    target = PatientInStore(store, patient.id, chunk_span_ns=chunk_span_ns)
    return store, asyncio.run(replay_capture(capture, target)).session


def hub_env(
    clinic: Clinic, folder: Path, env: dict[str, str] | None = None, token: str | None = None
) -> dict[str, str]:
    """The environment of a hub whose data folder is ``folder``: this process's, ``env``, the hub's settings."""
    folder.mkdir(exist_ok=True)
    return (
        dict(os.environ)
        | (env or {})
        | {
            "DOSIS_DATA_DIR": str(folder),
            "DOSIS_SERVER_URL": clinic.server.url,
            "DOSIS_HUB_TOKEN": token or clinic.token,
        }
    )


def hub(
    clinic: Clinic, folder: Path, *command: str, env: dict[str, str] | None = None, token: str | None = None
) -> subprocess.Popen[bytes]:
    """A hub process: ``dosis`` with the hub's settings (and ``env``), its output in ``folder/hub.log``."""
    env = hub_env(clinic, folder, env, token)
    with (folder / "hub.log").open("ab") as log:
        return subprocess.Popen([DOSIS_COMMAND, *command], env=env, stdout=log, stderr=subprocess.STDOUT)


def stream_walk(clinic: Clinic, folder: Path) -> subprocess.Popen[bytes]:
    return hub(clinic, folder, "replay", str(WALKING_CAPTURE), "--patient", PSEUDONYM, "--speed", str(SPEED))


def finished(process: subprocess.Popen[bytes], folder: Path, timeout_s: float = 120) -> str:
    """The hub's output once it has exited well, with rich's line wrapping undone."""
    code = process.wait(timeout_s)
    log = (folder / "hub.log").read_text()
    assert code == 0, log
    return " ".join(log.split())


def spooled(folder: Path) -> int:
    """Messages waiting in a hub's spool."""
    with closing(sqlite3.connect(folder / "spool" / "spool.sqlite3")) as spool:
        ((count,),) = spool.execute("SELECT count(*) FROM outbox").fetchall()
    return int(count)


def wait_for(condition: Any, what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def assert_same_samples(
    clinic: Clinic,
    reference: tuple[Store, TrainingSession],
    *,
    counts: dict[str, int] | None = None,
    t_tolerance_ns: int = 0,
    pseudonym: str = PSEUDONYM,
) -> TrainingSession:
    """Every signal on the server equals the reference's (or its first ``counts``): each sample once.

    ``t_tolerance_ns``: InfluxDB keeps every sample's time as recorded, the SQL reference
    keeps a nearly even chunk as its ends (``UNIFORM_TOLERANCE_NS``).
    """
    session = clinic.session(pseudonym)
    assert session is not None
    reference_store, reference_session = reference
    for signal in SIGNALS:
        streamed = clinic.store.signals.read(session.id, signal)
        expected = reference_store.signals.read(reference_session.id, signal)
        n = len(expected) if counts is None else counts.get(signal, 0)
        assert len(streamed) == n, signal
        assert np.abs(streamed.t_ns - expected.t_ns[:n]).max(initial=0) <= t_tolerance_ns, signal
        np.testing.assert_array_equal(streamed.values, expected.values[:n], err_msg=signal)
    return session


def _server_env(settings: Settings) -> dict[str, Any]:
    """The server's environment for the settings' databases."""
    env: dict[str, Any] = {}
    if settings.database_url is not None:
        env["DOSIS_DATABASE_URL"] = settings.database_url
    if settings.influx_url is not None:
        env |= {
            "DOSIS_INFLUX_URL": settings.influx_url,
            "DOSIS_INFLUX_API": settings.influx_api,
            "DOSIS_INFLUX_DATABASE": settings.influx_database,
        }
    return env
