"""Soak: one live session streaming for hours, and whether memory and open handles stay flat.

Run with `.venv/bin/python bench/bench_soak.py` (2 hours of session at 8× real time: 15
minutes), `--hours 2 --speed 1` for the real two hours, `--hours 0.25` to try it.

The chain is bench_capacity.py's (bench/live_chain.py): a virtual Polar H10 loops the
bundled walking capture (heart rate, 200 Hz ACC) over Bumble's virtual link; bleak, the
PolarH10 driver and the live recorder store it in SQLite and publish it to the LiveFeed;
uvicorn serves the dashboard and one viewer (its own process) follows
`/api/live/stream` throughout.

Accelerated time: the strap replays ``--speed`` times faster than real time (its
``speed``: it sends that many times more notifications a second, each frame still
carrying its 36 samples and its own sensor timestamp, so the sensor clock runs that many
times faster than the host's). So every per-reading path (the driver's decoding, the
recorder's buffers and chunks, the clock alignment, the live preview and its publishing,
the SQLite writes) handles ``--hours`` of data; what runs on the wall clock (the SSE
stream's 1 s snapshots, its sign-in re-checks, the drivers' watchdog) runs for
``--hours`` / ``--speed`` of it. The clock alignment sees a sensor clock ``--speed`` times
fast and keeps resetting its fit (its bounded path for a clock that jumps); the stored
times are then wrong, which this benchmark does not look at. Data stays exact: at the end
the strap falls silent, the session ends, and what the store holds is checked against
every heart rate and ACC sample the strap sent.

Every ``--every`` seconds it samples this process's resident memory (RSS), its open file
descriptors (/proc/self/fd), its threads, and the asyncio tasks in the recording's event
loop. It passes when, after the first tenth of the run (imports, caches, the first SQLite
pages, the allocator's arenas settle), RSS grows by at most ``RSS_TOLERANCE_MB`` and
neither file descriptors, threads nor tasks end above where they were then, and nothing
was lost. The strap's own record of what it sent (a tuple per heart rate: about 0.35 MiB an
hour of data) is part of the RSS and of the tolerance.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import shlex
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from live_chain import Chain, live_chain, losses
from proc_stats import open_fds, rss_mb

RSS_TOLERANCE_MB = 10.0
"""How much RSS may grow after the warm-up: a leak of a few hundred bytes per reading would exceed it within the run."""
WARM_UP_SHARE = 0.1
VIEWER_SETTLE_S = 5.0
"""Before the first sample: the viewer's process starts and connects (a thread and a pipe of the pool's)."""
MEASURES = (
    ("RSS", "MiB", "rss_mb"),
    ("open file descriptors", "", "fds"),
    ("threads", "", "threads"),
    ("asyncio tasks (recording loop)", "", "tasks"),
)
"""(what, unit, Sample attribute)."""


@dataclass(frozen=True)
class Sample:
    t_s: float
    """Wall-clock seconds since the measuring began."""
    rss_mb: float
    fds: int
    threads: int
    tasks: int


def recording_tasks(chain: Chain) -> int:
    """The asyncio tasks of the recording's event loop now."""
    answer: concurrent.futures.Future[int] = concurrent.futures.Future()
    chain.recording.call(lambda: answer.set_result(len(asyncio.all_tasks())))
    return answer.result(timeout=10.0)


def sample(chain: Chain, t_s: float) -> Sample:
    return Sample(t_s, rss_mb(), open_fds(), threading.active_count(), recording_tasks(chain))


def soak(hours: float, speed: float, every_s: float) -> tuple[list[Sample], str]:
    wall_s = hours * 3600 / speed
    with live_chain(1, viewers=1, speed=speed) as chain:
        follow = chain.watch(1, until_s=time.time() + VIEWER_SETTLE_S + wall_s + every_s)[0]
        time.sleep(VIEWER_SETTLE_S)
        started = time.time()
        samples = [sample(chain, 0.0)]
        while (left := started + wall_s - time.time()) > 0:
            time.sleep(min(every_s, left))
            samples.append(sample(chain, time.time() - started))
        chain.fall_silent()
        log = follow.result()
        chain.end(timeout_s=600.0)
        lost = losses(chain)
    verdict = (
        f"{lost.hr_sent} heart rates and {lost.acc_sent} ACC samples sent, {lost.hr_lost + lost.acc_lost} lost, "
        f"{lost.malformed} malformed; the viewer got {log.events.get('session', 0)} updates and "
        f"{log.events.get('snapshot', 0)} snapshots."
    )
    return samples, verdict if lost.hr_lost == lost.acc_lost == lost.malformed == 0 else f"LOST DATA: {verdict}"


def table(samples: list[Sample], speed: float) -> tuple[str, bool]:
    """The markdown table of start, end, max and slope for each measure; and whether it passed."""
    settled = [s for s in samples if s.t_s >= samples[-1].t_s * WARM_UP_SHARE]
    hours = np.array([s.t_s * speed / 3600 for s in settled])
    rows = []
    held = True
    for name, unit, attribute in MEASURES:
        every = [float(getattr(s, attribute)) for s in samples]
        values = np.array([float(getattr(s, attribute)) for s in settled])
        slope = float(np.polyfit(hours, values, 1)[0]) if len(values) > 1 else 0.0
        growth = float(values[-1] - values[0])
        ok = growth <= (RSS_TOLERANCE_MB if unit == "MiB" else 0)
        held &= ok
        rows.append(
            f"| {name} | {every[0]:.0f} | {values[0]:.0f} | {every[-1]:.0f} | {max(every):.0f} "
            f"| {growth:+.1f} | {slope:+.2f} {unit}/h | {'yes' if ok else 'no'} |"
        )
    head = [
        "| measure | start | after warm-up | end | max | growth after warm-up | slope (per hour of data) | flat |",
        "|---|---|---|---|---|---|---|---|",
    ]
    return "\n".join(head + rows), held


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=2.0, help="hours of session data")
    parser.add_argument("--speed", type=float, default=8.0, help="times faster than real time")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    args = parser.parse_args()
    print(f"$ {shlex.join(['.venv/bin/python', 'bench/bench_soak.py', *sys.argv[1:]])}", flush=True)
    print(f"{args.hours:g} h of one session at {args.speed:g}× real time: {args.hours * 60 / args.speed:.0f} min.")
    samples, verdict = soak(args.hours, args.speed, args.every)
    text, held = table(samples, args.speed)
    print()
    print(text)
    print()
    print(verdict)
    print(f"{len(samples)} samples, every {args.every:g} s; RSS tolerance {RSS_TOLERANCE_MB:g} MiB after the warm-up.")
    print("Flat: yes." if held and not verdict.startswith("LOST") else "Flat: NO.")


if __name__ == "__main__":
    main()
