"""The live feed: fan-out, a slow viewer's bounded queue, publishing from threads, each session's preview."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, date, datetime

import numpy as np
import pytest

from drivers.gatt import HEART_RATE_MEASUREMENT_UUID
from drivers.readings import AccelerationBatch, HeartRateReading
from drivers.virtual import Replay
from monitor.analysis.heart_rate import karvonen_bpm
from monitor.composites import STRENGTH_CAPTURE, WALKING_CAPTURE
from monitor.livefeed import (
    CEILING_ALERT_AFTER_S,
    FORGET_AFTER_S,
    NO_DATA_ALERT_AFTER_S,
    LiveFeed,
    LiveSessionInfo,
    LiveUpdate,
    SessionChanged,
    SessionEnded,
    Subscription,
    load_session_info,
)
from monitor.replay import replay_capture
from monitor.sinks import PatientInStore, SessionChunk, StoreSink
from monitor.store import SessionAnalysis, Store
from monitor.store.clinical import add_prescription
from monitor.store.models import ClinicalProfile
from monitor.tolerance import Prescription

T0_NS = 1_790_000_000_000_000_000
S = 1_000_000_000


class Clock:
    """The feed's clock, moved by the test."""

    def __init__(self, now_ns: int) -> None:
        self.now_ns = now_ns

    def __call__(self) -> int:
        return self.now_ns


def info(
    session_id: int = 1, *, patient_id: int = 1, kind: str = "walking", ceiling: float | None = 120.0
) -> LiveSessionInfo:
    return LiveSessionInfo(
        session_id=session_id,
        patient_id=patient_id,
        pseudonym=f"p-{patient_id:04d}",
        kind=kind,
        started_at_ns=T0_NS,
        hr_rest_bpm=60.0,
        hr_max_bpm=180.0,
        ceiling_bpm=ceiling,
    )


def hr(t_s: float, bpm: int, *, contact: bool | None = True) -> HeartRateReading:
    return HeartRateReading("Polar H10 0A1B2C3D", T0_NS + int(t_s * S), bpm, (), contact)


def queued(subscription: Subscription) -> list[LiveUpdate]:
    items = []
    while not subscription.queue.empty():
        items.append(subscription.queue.get_nowait())
    return items


def bpms(updates: list[LiveUpdate]) -> list[float | None]:
    return [u.status.hr_bpm for u in updates if isinstance(u, SessionChanged)]


async def test_every_viewer_gets_every_update_in_order() -> None:
    feed = LiveFeed(clock=Clock(T0_NS + 5 * S))
    watch = feed.open(info())  # opened before anyone watches: nobody is told
    with feed.subscribe() as first, feed.subscribe() as second:
        for k in range(5):
            watch.reading(hr(k, 100 + k))
        await asyncio.sleep(0)  # the viewers' loop runs what the publisher queued for it
        assert bpms(queued(first)) == bpms(queued(second)) == [100, 101, 102, 103, 104]
    watch.reading(hr(5, 105))
    await asyncio.sleep(0)
    assert queued(first) == []  # closed: no longer fed


async def test_a_slow_viewer_loses_its_oldest_updates_and_the_publisher_never_waits() -> None:
    feed = LiveFeed(queue_size=3, clock=Clock(T0_NS + 10 * S))
    watch = feed.open(info())
    with feed.subscribe() as slow:
        for k in range(10):  # a viewer that never reads: publishing returns at once all the same
            watch.reading(hr(k, 100 + k))
        await asyncio.sleep(0)
        assert bpms(queued(slow)) == [107, 108, 109]
        assert slow.dropped == 7
        # What it lost it gets whole from a snapshot.
        assert [s.hr_bpm for s in feed.snapshot()] == [109]


async def test_publishing_from_many_threads_reaches_the_viewer_whole_and_in_order() -> None:
    feed = LiveFeed(queue_size=10_000, clock=Clock(T0_NS + 3 * S))
    watches = [feed.open(info(n, patient_id=n)) for n in range(1, 5)]
    readings = 250
    with feed.subscribe() as viewer:
        start = threading.Barrier(len(watches))

        def publish(n: int) -> None:
            start.wait()
            for k in range(readings):
                watches[n].reading(hr(k * 0.01, 60 + (k + n) % 100))

        threads = [threading.Thread(target=publish, args=(n,)) for n in range(len(watches))]
        for thread in threads:
            thread.start()
        for thread in threads:
            await asyncio.to_thread(thread.join)
        await asyncio.sleep(0)
        updates = [u for u in queued(viewer) if isinstance(u, SessionChanged)]
    assert viewer.dropped == 0
    assert len(updates) == len(watches) * readings
    for n, watch in enumerate(watches):
        mine = [u.status for u in updates if u.status.info is watch.info]
        assert [s.hr_t_ns for s in mine] == [hr(k * 0.01, 0).t_host_ns for k in range(readings)]
        assert [s.hr_bpm for s in mine] == [60 + (k + n) % 100 for k in range(readings)]


async def test_a_session_that_ends_leaves_the_feed_and_every_viewer_is_told_once() -> None:
    feed = LiveFeed(clock=Clock(T0_NS + S))
    walking, strength = feed.open(info(1)), feed.open(info(2, patient_id=2, kind="strength"))
    assert [s.info.session_id for s in feed.snapshot()] == [1, 2]
    assert feed.open(info(1)) is walking  # opening again keeps the session's preview
    with feed.subscribe() as viewer:
        walking.finished("complete")
        walking.finished("complete")
        await asyncio.sleep(0)
        assert queued(viewer) == [SessionEnded(1, 1, "complete")]
    assert [s.info.session_id for s in feed.snapshot()] == [2]
    strength.finished("interrupted")
    assert feed.snapshot() == []


async def test_a_session_silent_for_long_is_forgotten_as_a_hub_that_never_ended_it() -> None:
    clock = Clock(T0_NS)
    feed = LiveFeed(clock=clock)
    watch = feed.open(info())
    watch.reading(hr(0, 90))
    with feed.subscribe() as viewer:
        clock.now_ns = T0_NS + int((FORGET_AFTER_S - 1) * S)
        assert [s.alerts for s in feed.snapshot()] == [("no_data",)]
        clock.now_ns = T0_NS + int((FORGET_AFTER_S + 1) * S)
        assert feed.snapshot() == []
        await asyncio.sleep(0)
        assert queued(viewer) == [SessionEnded(1, 1, "silent")]


def test_heart_rate_zone_and_the_ceiling_alert_after_its_limit() -> None:
    clock = Clock(T0_NS)
    feed = LiveFeed(clock=clock)
    watch = feed.open(info(ceiling=120.0))
    seconds_above = int(CEILING_ALERT_AFTER_S) + 3
    alerted_at = None
    for k in range(seconds_above + 1):
        clock.now_ns = T0_NS + int((k + 0.3) * S)
        watch.reading(hr(k + 0.3, 130))
        status = watch.status()
        assert status.hr_bpm == 130
        if status.alerts and alerted_at is None:
            alerted_at = k
    # Whole seconds above count once the next reading closes them; the alert comes past the limit, not before.
    assert alerted_at == int(CEILING_ALERT_AFTER_S) + 1
    assert watch.status().alerts == ("above_ceiling",)
    assert watch.status().zone == "moderate"  # (130 - 60) / (180 - 60) = 58 % of the reserve
    assert watch.status().time_above_ceiling_s == seconds_above
    clock.now_ns += S
    watch.reading(hr(seconds_above + 1.3, 100))
    watch.reading(hr(seconds_above + 2.3, 100))
    assert watch.status().alerts == ()
    assert watch.status().zone == "light"  # 33 %: below the ceiling again
    assert watch.status().above_ceiling_s == 0


def test_no_data_for_longer_than_the_limit_is_an_alert_and_clears_when_data_comes() -> None:
    clock = Clock(T0_NS + 2 * S)
    feed = LiveFeed(clock=clock)
    watch = feed.open(info())
    watch.reading(hr(1, 95))
    watch.reading(hr(2, 0, contact=False))  # no skin contact: no valid heart rate, but the sensor is there
    assert watch.status().hr_bpm == 95
    assert watch.status().alerts == ()
    clock.now_ns = T0_NS + 2 * S + int((NO_DATA_ALERT_AFTER_S + 0.5) * S)
    assert watch.status().alerts == ("no_data",)
    assert watch.status().hr_bpm is None  # too old to show as now
    watch.reading(hr((clock.now_ns - T0_NS) / S, 97))
    assert watch.status().alerts == ()


def test_a_sensor_that_drops_out_is_an_alert_until_it_reconnects() -> None:
    feed = LiveFeed(clock=Clock(T0_NS + 2 * S))
    watch = feed.open(info())
    watch.reading(hr(1.5, 95))
    watch.event("disconnected", T0_NS + 2 * S)
    assert (watch.status().sensor, watch.status().alerts) == ("dropped_out", ("sensor_dropped_out",))
    watch.event("stream_stopped")  # not about the link: changes nothing
    assert watch.status().sensor == "dropped_out"
    watch.event("reconnected", T0_NS + 2 * S)
    assert (watch.status().sensor, watch.status().alerts) == ("connected", ())


def test_a_hubs_chunks_feed_the_same_preview_and_a_resent_chunk_changes_nothing() -> None:
    feed = LiveFeed(clock=Clock(T0_NS + 10 * S))
    watch = feed.open(info(ceiling=None))
    t_ns = np.array([T0_NS + k * S for k in range(1, 6)], dtype=np.int64)
    chunk = SessionChunk("hr_bpm", "H10", t_ns, np.array([[90 + k, 1] for k in range(5)], dtype=np.float64))
    watch.chunk(chunk)
    first = watch.status()
    assert (first.hr_bpm, first.hr_t_ns, first.zone) == (94, int(t_ns[-1]), "very_light")  # 28 % of the reserve
    watch.chunk(chunk)
    assert watch.status() == first
    assert first.time_above_ceiling_s == 0  # no ceiling prescribed
    assert first.alerts == ()


def test_acceleration_gives_the_walking_cadence_from_the_sensors_own_rate() -> None:
    fs_hz, steps_per_s = 52.0, 1.8
    feed = LiveFeed(clock=Clock(T0_NS))
    watch = feed.open(info())
    samples = int(70 * fs_hz)
    t = np.arange(samples) / fs_hz
    acc_mg = np.column_stack([np.zeros(samples), np.zeros(samples), 1000 + 300 * np.sin(2 * np.pi * steps_per_s * t)])
    for start in range(0, samples, 52):  # one PMD frame a second, as an H10 sends them
        end = min(start + 52, samples)
        t_ns = T0_NS + (t[start:end] * S).astype(np.int64)
        watch.reading(AccelerationBatch("H10", int(t_ns[-1]), t_ns, acc_mg[start:end]))
    assert watch.status().cadence_spm == pytest.approx(steps_per_s * 60, abs=2)
    assert watch.status().reps is None


async def test_a_recorded_session_is_previewed_as_it_goes_and_agrees_with_its_analysis(
    store: Store, patient_id: int
) -> None:
    feed = LiveFeed(queue_size=10_000)
    with feed.subscribe() as viewer:
        walk = await replay_capture(
            WALKING_CAPTURE, PatientInStore(store, patient_id, live=feed), start_at_ns=time.time_ns()
        )
        strength = await replay_capture(
            STRENGTH_CAPTURE, PatientInStore(store, patient_id, live=feed), start_at_ns=time.time_ns()
        )
        await asyncio.sleep(0)
        updates = queued(viewer)
    assert feed.snapshot() == []
    ended = [u for u in updates if isinstance(u, SessionEnded)]
    assert ended == [
        SessionEnded(walk.session.id, patient_id, "complete"),
        SessionEnded(strength.session.id, patient_id, "complete"),
    ]
    previews = {
        session_id: [
            u.status for u in updates if isinstance(u, SessionChanged) and u.status.info.session_id == session_id
        ]
        for session_id in (walk.session.id, strength.session.id)
    }
    # One update as each session opens, then one per heart-rate notification.
    notifications = sum(
        i.characteristic == HEART_RATE_MEASUREMENT_UUID for i in Replay.from_capture(WALKING_CAPTURE).items
    )
    assert len(previews[walk.session.id]) == 1 + notifications
    with store.session() as db:
        walking, lifting = (db.get_one(SessionAnalysis, s.session.id).activity for s in (walk, strength))
    assert previews[walk.session.id][-1].cadence_spm == pytest.approx(
        walking["steps"] / (walking["duration_s"] / 60), rel=0.1
    )
    reps = previews[strength.session.id][-1].reps
    assert reps is not None
    assert abs(reps - lifting["sets"][-1]["reps"]) <= 2


def test_a_stored_sessions_info_has_the_ceiling_prescribed_on_its_day(store: Store, patient_id: int) -> None:
    with store.session() as db:
        db.add(ClinicalProfile(patient_id=patient_id, hr_rest_bpm=64, hr_max_bpm=174, updated_at=datetime.now(UTC)))
        add_prescription(
            db,
            patient_id,
            Prescription(
                sessions_per_week=3,
                kinds=("walking",),
                volume_per_session=20,
                volume_unit="minutes",
                volume_goal=30,
                hr_ceiling_percent_hrr=60,
            ),
            valid_from=date(2020, 1, 6),
            clinician_id=None,
        )
        db.commit()
    sink = StoreSink.create(store, patient_id=patient_id, kind="walking", started_at_ns=T0_NS)
    loaded = load_session_info(store, sink.session_id)
    assert loaded.ceiling_bpm == pytest.approx(karvonen_bpm(hr_rest_bpm=64, hr_max_bpm=174, fraction_hrr=0.6))
    assert (loaded.pseudonym, loaded.kind, loaded.started_at_ns) == ("p-test01", "walking", T0_NS)
    assert (loaded.hr_rest_bpm, loaded.hr_max_bpm) == (64, 174)
