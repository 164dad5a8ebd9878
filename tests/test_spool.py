"""A hub's spool: what goes in comes out in order, counted, numbered, and is let go only when it should be."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from monitor.ingest.spool import PatientOnServer, Spool, SpooledSession, SpoolSink
from monitor.ingest.wire import ChunkMessage, IngestBatch, StartMessage
from monitor.sinks import SessionChunk

PATIENT = "p-7f3c21"
DEVICE = "Polar H10 0A1B2C3D"
T0_NS = 1_790_000_000_000_000_000
"""2026-09-21 14:13:20 UTC."""
SECOND_NS = 1_000_000_000


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "spool"


@pytest.fixture
def spool(folder: Path) -> Iterator[Spool]:
    spool = Spool(folder)
    yield spool
    spool.close()


def start(spool: Spool, *, patient: str = PATIENT, started_at_ns: int = T0_NS) -> SpoolSink:
    target = PatientOnServer(spool, patient)
    return target.start_session(kind="walking", started_at_ns=started_at_ns, source="test", devices=DEVICE)


def hr(*, first_ns: int, n: int, bpm: float = 90) -> SessionChunk:
    """``n`` heart rates a second apart."""
    t_ns = first_ns + np.arange(n, dtype=np.int64) * SECOND_NS
    return SessionChunk("hr_bpm", DEVICE, t_ns, np.column_stack([bpm + np.arange(n), np.ones(n)]))


def acc(*, first_ns: int, n: int) -> SessionChunk:
    """``n`` accelerations at 200 Hz."""
    t_ns = first_ns + np.arange(n, dtype=np.int64) * 5_000_000
    return SessionChunk("acc_mg", DEVICE, t_ns, np.tile([12.0, -998.0, 40.0], (n, 1)))


def bodies(spool: Spool) -> list[dict[str, Any]]:
    """Every message waiting, oldest first, as the server will read it."""
    return [json.loads(m.body) for m in spool.pending(10_000)]


def events(spool: Spool, uid: str) -> list[tuple[int, str]]:
    return [(m["seq"], m["kind"]) for m in bodies(spool) if m["type"] == "event" and m["session"] == uid]


def test_messages_come_out_in_the_order_they_went_in_whoever_wrote_them(folder: Path) -> None:
    first, second = Spool(folder), Spool(folder)  # two recordings on one hub: two connections
    a, b = start(first), start(second, started_at_ns=T0_NS + SECOND_NS)
    a.append([hr(first_ns=T0_NS, n=3)])
    b.append([acc(first_ns=T0_NS + SECOND_NS, n=200)])
    a.event("link_lost", "H10 link lost", t_ns=T0_NS + 3 * SECOND_NS)
    b.problem_count(2)
    a.append([hr(first_ns=T0_NS + 3 * SECOND_NS, n=2)])
    b.finish(status="complete", ended_at_ns=T0_NS + 2 * SECOND_NS)
    a.finish(status="complete", ended_at_ns=T0_NS + 5 * SECOND_NS)
    first.close()
    second.close()

    reopened = Spool(folder)  # the hub started again: nothing written is lost, nothing reordered
    pending = reopened.pending(100)
    assert [(json.loads(m.body)["type"], m.session) for m in pending] == [
        ("start", a.uid),
        ("start", b.uid),
        ("chunk", a.uid),
        ("chunk", b.uid),
        ("event", a.uid),
        ("problems", b.uid),
        ("chunk", a.uid),
        ("end", b.uid),
        ("end", a.uid),
    ]
    assert [m.seq for m in pending] == sorted({m.seq for m in pending})
    assert reopened.pending(3) == pending[:3]
    # What the uploader sends is the bodies joined: the server must accept them as they are.
    batch = IngestBatch.model_validate_json('{"messages":[' + ",".join(m.body for m in pending) + "]}")
    (start_a, _, chunk_a, *_) = batch.messages
    assert isinstance(start_a, StartMessage)
    assert (start_a.patient, start_a.started_at_ns, start_a.devices) == (PATIENT, T0_NS, DEVICE)
    assert isinstance(chunk_a, ChunkMessage)
    assert (chunk_a.signal, chunk_a.t_ns[-1], chunk_a.values[2]) == ("hr_bpm", T0_NS + 2 * SECOND_NS, [92.0, 1.0])
    reopened.close()


def test_samples_are_counted_per_session_and_signal(folder: Path, spool: Spool) -> None:
    a, b = start(spool), start(spool)
    a.append([hr(first_ns=T0_NS, n=10), acc(first_ns=T0_NS, n=200)])
    b.append([acc(first_ns=T0_NS, n=150)])
    a.append([hr(first_ns=T0_NS + 10 * SECOND_NS, n=5)])
    a.append([hr(first_ns=T0_NS + SECOND_NS, n=1)])  # a late chunk does not move the session's last time back
    spool.sent(spool.pending(10_000))  # sending does not change what the server must end up with
    reopened = Spool(folder)
    sessions = {s.uid: s for s in reopened.sessions()}
    reopened.close()
    assert {uid: s.samples for uid, s in sessions.items()} == {
        a.uid: {"hr_bpm": 16, "acc_mg": 200},
        b.uid: {"acc_mg": 150},
    }
    assert sessions[a.uid].last_t_ns == T0_NS + 14 * SECOND_NS
    assert sessions[b.uid].last_t_ns == T0_NS + 149 * 5_000_000
    assert (sessions[a.uid].patient, sessions[a.uid].ended) == (PATIENT, False)
    for sink in (a, b):
        sink.finish(status="complete", ended_at_ns=T0_NS + 15 * SECOND_NS)


def test_events_are_numbered_one_two_three_within_each_session(folder: Path, spool: Spool) -> None:
    other_connection = Spool(folder)
    a, b = start(spool), start(other_connection)
    a.event("link_lost", "H10 link lost")
    b.event("link_lost", "strap link lost")
    a.event("link_back", "H10 back")
    b.event("link_back", "strap back")
    a.event("link_lost", "H10 link lost again")
    other_connection.put_event(a.uid, "hub_note", "written by another process", t_ns=None)
    assert events(spool, a.uid) == [(1, "link_lost"), (2, "link_back"), (3, "link_lost"), (4, "hub_note")]
    assert events(spool, b.uid) == [(1, "link_lost"), (2, "link_back")]
    a.finish(status="complete", ended_at_ns=T0_NS + SECOND_NS)
    b.finish(status="complete", ended_at_ns=T0_NS + SECOND_NS)
    other_connection.close()


def test_sent_deletes_what_was_acknowledged_and_forgets_a_session_once_ended_and_sent(
    folder: Path, spool: Spool
) -> None:
    live, ending = start(spool), start(spool)
    live.append([hr(first_ns=T0_NS, n=5)])
    ending.append([hr(first_ns=T0_NS, n=5)])
    ending.finish(status="complete", ended_at_ns=T0_NS + 5 * SECOND_NS)
    acknowledged = spool.pending(10_000)
    live.append([hr(first_ns=T0_NS + 5 * SECOND_NS, n=5)])  # spooled while the batch was on its way
    ending_end = acknowledged.pop()  # the ended session's last message is not acknowledged yet

    spool.sent(acknowledged)
    assert [(m["type"], m["session"]) for m in bodies(spool)] == [("end", ending.uid), ("chunk", live.uid)]
    assert {s.uid for s in spool.sessions()} == {live.uid, ending.uid}  # the ended one still has its end to send
    assert (folder / "sessions" / f"{ending.uid}.lock").exists()

    spool.sent([ending_end])
    assert [s.uid for s in spool.sessions()] == [live.uid]
    assert not (folder / "sessions" / f"{ending.uid}.lock").exists()
    spool.sent(spool.pending(10_000))
    assert spool.pending_count() == 0
    assert [s.uid for s in spool.sessions()] == [live.uid]  # nothing left to send, but it is still recording
    assert (folder / "sessions" / f"{live.uid}.lock").exists()
    live.finish(status="complete", ended_at_ns=T0_NS + 10 * SECOND_NS)


def test_a_refused_message_is_set_aside_with_the_reason_and_the_rest_stays_in_order(folder: Path, spool: Spool) -> None:
    sink = start(spool)
    sink.append([acc(first_ns=T0_NS, n=10)])
    sink.append([hr(first_ns=T0_NS, n=5)])
    start_message, refused, chunk = spool.pending(10)
    spool.reject(refused, status=422, reason="chunk of acc_mg: acc_mg values outside the int16 range" + "!" * 2000)
    assert spool.pending(10) == [start_message, chunk]
    reopened = Spool(folder)
    ((session, status, reason),) = reopened.rejected()
    reopened.close()
    assert (session, status) == (sink.uid, 422)
    assert reason.startswith("chunk of acc_mg: acc_mg values outside the int16 range")
    assert len(reason) == 1000
    sink.finish(status="complete", ended_at_ns=T0_NS + 5 * SECOND_NS)


def test_a_session_whose_last_message_is_refused_is_forgotten_like_a_sent_one(folder: Path, spool: Spool) -> None:
    sink = start(spool)
    sink.finish(status="complete", ended_at_ns=T0_NS + SECOND_NS)
    start_message, end = spool.pending(10)
    spool.sent([start_message])
    spool.reject(end, status=409, reason="session has not been started")
    assert spool.pending_count() == 0
    assert spool.sessions() == []  # else `dosis hub status` counts a session with nothing left to send
    assert not (folder / "sessions" / f"{sink.uid}.lock").exists()
    assert [r[0] for r in spool.rejected()] == [sink.uid]


RECORDING_PROCESS = """
import sys
from pathlib import Path

import numpy as np

from monitor.ingest.spool import PatientOnServer, Spool
from monitor.sinks import SessionChunk

folder, last_t_ns = Path(sys.argv[1]), int(sys.argv[2])
sink = PatientOnServer(Spool(folder), "p-5e0a12").start_session(
    kind="walking", started_at_ns=last_t_ns - 60_000_000_000, source="test", devices="strap"
)
t_ns = last_t_ns - np.arange(5, dtype=np.int64)[::-1] * 1_000_000_000
sink.append([SessionChunk("hr_bpm", "strap", t_ns, np.full((5, 2), [90.0, 1.0]))])
sink.event("link_lost", "strap link lost", t_ns=int(t_ns[0]))
print(sink.uid, flush=True)
sys.stdin.readline()  # recording on until the test kills this process
"""


@pytest.fixture
def recording_elsewhere(folder: Path, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``dosis record`` in another process, its session (one chunk ending at 14:14:02, one event) held open."""
    log = tmp_path / "recording.log"
    with log.open("w") as errors:
        process = subprocess.Popen(
            [sys.executable, "-c", RECORDING_PROCESS, str(folder), str(T0_NS + 42 * SECOND_NS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
    with process:
        assert process.stdout is not None
        uid = process.stdout.readline().strip()
        assert uid, log.read_text()
        yield process, uid
        process.kill()


def test_only_a_session_whose_recording_died_is_ended_and_only_once(
    folder: Path, spool: Spool, recording_elsewhere: tuple[subprocess.Popen[str], str]
) -> None:
    process, elsewhere = recording_elsewhere
    here = start(spool)  # a recording in this very process: its lock is another open file description
    assert spool.close_abandoned() == []
    assert not any(s.ended for s in spool.sessions())

    process.kill()  # a power cut: no chance to end its session
    process.wait()
    assert spool.close_abandoned() == [elsewhere]
    assert spool.close_abandoned() == []  # idempotent: an ended session is left as it is

    assert [s.uid for s in spool.sessions() if not s.ended] == [here.uid]
    assert [m["type"] for m in bodies(spool) if m["session"] == here.uid] == ["start"]
    messages = [m for m in bodies(spool) if m["session"] == elsewhere]
    assert [m["type"] for m in messages] == ["start", "chunk", "event", "event", "end"]
    link_lost, hub_stopped, end = messages[2:]
    last_t_ns = T0_NS + 42 * SECOND_NS
    assert (link_lost["seq"], link_lost["kind"]) == (1, "link_lost")
    assert (hub_stopped["seq"], hub_stopped["kind"], hub_stopped["t_ns"]) == (2, "hub_stopped", last_t_ns)
    assert "stopped recording unexpectedly after 2026-09-21 14:14:02 UTC" in hub_stopped["message"]
    assert (end["status"], end["ended_at_ns"]) == ("interrupted", last_t_ns)
    here.finish(status="complete", ended_at_ns=T0_NS + SECOND_NS)


def test_a_session_ended_and_sent_while_abandoned_ones_are_closed_is_left_alone(folder: Path) -> None:
    """``close_abandoned`` lists the sessions, then locks each: one may end and be sent in between."""
    other_process = Spool(folder)
    recording = start(other_process)

    class ListingThenRacing(Spool):
        def sessions(self) -> list[SpooledSession]:
            listed = super().sessions()
            # Between the listing and the lock: the recording ends and its uploader sends it all.
            recording.finish(status="complete", ended_at_ns=T0_NS + SECOND_NS)
            other_process.sent(other_process.pending(100))
            return listed

    closing = ListingThenRacing(folder)
    assert closing.close_abandoned() == []
    assert Spool.sessions(closing) == []
    assert closing.pending_count() == 0  # no hub_stopped or second end for a session the server already has
    assert list((folder / "sessions").iterdir()) == []
    closing.close()
    other_process.close()
