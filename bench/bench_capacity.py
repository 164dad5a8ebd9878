"""Capacity: how many Polar H10 sessions one machine records and shows live at once.

Run with `.venv/bin/python bench/bench_capacity.py` (10 minutes at each of 50, 100, 150,
200, 250 and 300 sessions, stopping after the first that fails; `--minutes 1`
to try it, `--sessions 50` for one size, `--keep-going` to run every size). Prints the
command, a row per size as it finishes, then a markdown table and the largest number of
sessions that held. The full run takes hours.

Each size runs in a fresh process (so its memory is its own), with the whole chain of
issue 8 inside it: N virtual Polar H10s (drivers/virtual) replay the bundled walking
capture (heart rate once a second, ACC at 200 Hz in 36-sample frames) in a loop over
Bumble's in-process virtual link; bleak and the PolarH10 driver receive them, the live
recorder (monitor.live, as `dosis demo` records) stores them in SQLite (the default store)
and publishes them to the dashboard's LiveFeed; uvicorn serves the dashboard, and a few
viewers (real HTTP clients, httpx, each in a process of its own) follow
`/api/live/stream` as the live page does. The recorder runs in a thread with an event loop
of its own beside uvicorn's (tests/live_recording.py), as in bench/bench_live.py.

Why one process: the issue's chain is bleak → drivers → sessions → store → SSE viewers on
one machine, and the live feed that carries readings to viewers is in-process (a hub that
streams to a server goes through ingest instead, bench/bench_ingest.py). So the recorder,
the store and the server share one Python process and its GIL: about one core of Python
at most, whatever the machine has. The virtual straps' radio (Bumble's controllers, the
peripherals' host stacks and GATT servers, all pure Python) also runs in that process,
which real straps and a Bluetooth controller would do in hardware: CPU is reported for
the whole process, so it is an upper bound on what the chain itself needs. The viewers
stand for browsers on other machines: their CPU is reported apart.

Measured over the steady part of each run (after every session has started and every
viewer is connected, for the chosen minutes):

- latency: from each strap's heart-rate notification (the wall-clock time it sent it,
  tests/live_recording.TimedH10) to the first SSE event, at each viewer, carrying that
  reading for that session (an update, or the once-a-second snapshot); a notification a
  viewer never saw counts as infinitely late. p50/p95/p99/max over all viewers.
- loss: at the end the straps fall silent, the pipeline drains, the sessions end, and
  every session's stored heart rates must equal the values its strap sent, in order, and
  its stored ACC samples the samples in the frames it sent; no notification malformed.
- CPU: this process's CPU time over wall time (all its threads), and per session;
  memory: resident size at the end of the window; per session: the slope of that over N.

A size holds when p99 ≤ 250 ms, nothing is lost and every update reached every viewer.

Not measured: the start. Every strap is found by its own scan (monitor.demo.train_live),
so N scanners each see N straps advertising and starting takes O(N²) (10 s at 100 straps,
3.5 minutes at 200, 7 at 250); it is reported, not judged. The sessions end `interrupted` (cancelled
once the window is over), with everything received stored.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from live_chain import ViewerLog, live_chain, losses
from live_recording import latencies_ms
from proc_stats import cpu_s, rss_mb

SESSION_COUNTS = (50, 100, 150, 200, 250, 300)
P99_LIMIT_MS = 250.0
"""Issue 8: p99 from notification to SSE event."""
VIEWERS = 3
"""A few clinicians' screens on the live page."""
WARM_UP_S = 10.0
"""After the last session started: viewers connect and the first pass of starting work settles."""
SAMPLE_EVERY_S = 5.0
END_S_PER_SESSION = 10.0
"""Ending allowance per session: each is summarised and analysed from the store as it ends."""


def start_timeout_s(sessions: int) -> float:
    """Start-up allowance: every strap's scan sees every strap advertising, so it grows as N² (see above)."""
    return 60.0 + 90.0 * (sessions / 100) ** 2


@dataclass
class RunResult:
    sessions: int
    viewers: int
    seconds: float
    updates_expected: int
    """Heart-rate notifications sent in the window, times viewers."""
    updates_missed: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    hr_sent: int
    hr_lost: int
    acc_sent: int
    acc_lost: int
    malformed: int
    cpu_share: float
    """CPU seconds of the recording and serving process per wall-clock second."""
    viewer_cpu_share: float
    """Of all viewer processes together."""
    rss_start_mb: float
    rss_end_mb: float
    rss_max_mb: float
    start_s: float
    """From the first strap powering on to every session recording."""
    end_s: float
    """From ending the sessions to all of them stored with their summaries."""
    load_average: float

    @property
    def held(self) -> bool:
        lost = self.hr_lost + self.acc_lost + self.malformed + self.updates_missed
        return self.p99_ms <= P99_LIMIT_MS and lost == 0


def run(sessions: int, seconds: float, viewers: int) -> RunResult:
    """One size, in this process."""
    started = time.monotonic()
    with live_chain(sessions, viewers=viewers, start_timeout_s=start_timeout_s(sessions)) as chain:
        start_s = time.monotonic() - started
        window_start_s = time.time() + WARM_UP_S
        window_end_s = window_start_s + seconds
        follows = chain.watch(viewers, until_s=window_end_s + 2 * SAMPLE_EVERY_S)
        time.sleep(max(0.0, window_start_s - time.time()))
        cpu_start, wall_start = cpu_s(), time.monotonic()
        rss = [rss_mb()]
        while (left := window_end_s - time.time()) > 0:
            time.sleep(min(SAMPLE_EVERY_S, left))
            rss.append(rss_mb())
        cpu_share = (cpu_s() - cpu_start) / (time.monotonic() - wall_start)
        load_average = os.getloadavg()[0]
        chain.fall_silent()
        logs = [follow.result() for follow in follows]
        ending = time.monotonic()
        chain.end(timeout_s=60.0 + END_S_PER_SESSION * sessions)
        end_s = time.monotonic() - ending
        lost = losses(chain)
        expected, missed, latencies = _latencies(
            logs, chain.sent(), (int(window_start_s * 1e9), int(window_end_s * 1e9))
        )
    ms = np.array(latencies + [np.inf] * missed)
    p50, p95, p99 = np.percentile(ms, [50, 95, 99]) if len(ms) else (np.nan,) * 3
    top = ms.max() if len(ms) else np.nan  # inf when an update never came
    return RunResult(
        sessions=sessions,
        viewers=viewers,
        seconds=seconds,
        updates_expected=expected,
        updates_missed=missed,
        p50_ms=float(p50),
        p95_ms=float(p95),
        p99_ms=float(p99),
        max_ms=float(top),
        hr_sent=lost.hr_sent,
        hr_lost=lost.hr_lost,
        acc_sent=lost.acc_sent,
        acc_lost=lost.acc_lost,
        malformed=lost.malformed,
        cpu_share=cpu_share,
        viewer_cpu_share=sum(log.cpu_s for log in logs) / (window_end_s - window_start_s + WARM_UP_S),
        rss_start_mb=rss[0],
        rss_end_mb=rss[-1],
        rss_max_mb=max(rss),
        start_s=start_s,
        end_s=end_s,
        load_average=load_average,
    )


def _latencies(
    logs: list[ViewerLog], sent: dict[int, list[tuple[int, int]]], window_ns: tuple[int, int]
) -> tuple[int, int, list[float]]:
    """(notifications × viewers expected, of them never seen, latencies in ms of those seen) in the window."""
    in_window = {(sid, t_ns) for sid, notes in sent.items() for t_ns, _ in notes if window_ns[0] <= t_ns < window_ns[1]}
    latencies: list[float] = []
    for log in logs:
        seen = {(s.session_id, s.sent_ns): s for s in latencies_ms(log.records, sent)}
        for key in in_window:
            if key in seen:
                assert float(seen[key].text) == seen[key].bpm, f"the viewer showed {seen[key]} for another value"
                latencies.append(seen[key].latency_ms)
    expected = len(in_window) * len(logs)
    return expected, expected - len(latencies), latencies


# The sizes, each in a fresh process, and the report.


def run_in_child(sessions: int, seconds: float, viewers: int) -> tuple[RunResult, Path]:
    """One size in a fresh process; its result, and the file that holds what it logged.

    What the child logs goes to a file, not the terminal: at a few hundred sessions, the
    virtual straps' Bumble stacks log a traceback for each confirmation that arrives after
    its strap was cancelled at the end (bumble.gatt_server), thousands of lines.
    """
    command = [sys.executable, __file__, "--one", str(sessions), "--seconds", str(seconds), "--viewers", str(viewers)]
    log = Path(tempfile.gettempdir()) / f"dosis-bench-capacity-{sessions}.log"
    with log.open("w") as stderr:
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=stderr, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{sessions} sessions: the run failed ({done.returncode}); its log: {log}")
    return RunResult(**json.loads(done.stdout.strip().splitlines()[-1])), log


def table(results: list[RunResult]) -> str:
    lines = [
        "| sessions | p50 | p95 | p99 | max | updates missed | HR lost / sent | ACC samples lost / sent "
        "| CPU (process) | CPU per session | RSS end | viewers' CPU | held |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.sessions} | {r.p50_ms:.0f} ms | {r.p95_ms:.0f} ms | {r.p99_ms:.0f} ms | {r.max_ms:.0f} ms "
            f"| {r.updates_missed} of {r.updates_expected} | {r.hr_lost} / {r.hr_sent} | {r.acc_lost} / {r.acc_sent} "
            f"| {r.cpu_share:.0%} of a core | {r.cpu_share / r.sessions:.1%} | {r.rss_end_mb:.0f} MiB "
            f"| {r.viewer_cpu_share:.0%} | {'yes' if r.held else 'no'} |"
        )
    return "\n".join(lines)


def memory_per_session_mb(results: list[RunResult]) -> float | None:
    if len(results) < 2:
        return None
    slope, _ = np.polyfit([r.sessions for r in results], [r.rss_end_mb for r in results], 1)
    return float(slope)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", default=",".join(map(str, SESSION_COUNTS)), help="sizes to run, in order")
    parser.add_argument("--minutes", type=float, default=10.0, help="measured minutes at each size")
    parser.add_argument("--viewers", type=int, default=VIEWERS)
    parser.add_argument("--keep-going", action="store_true", help="run every size even after one fails")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:  # a size in this fresh process: its result as JSON on the last line
        print(json.dumps(asdict(run(args.one, args.seconds, args.viewers))))
        return
    print(f"$ {shlex.join(['.venv/bin/python', 'bench/bench_capacity.py', *sys.argv[1:]])}", flush=True)
    print(f"{os.cpu_count()} cores; {args.viewers} viewers; {args.minutes:g} min measured at each size.", flush=True)
    results: list[RunResult] = []
    for sessions in (int(n) for n in args.sessions.split(",")):
        result, log = run_in_child(sessions, args.minutes * 60, args.viewers)
        results.append(result)
        logged = len(log.read_text().splitlines())
        print(
            f"{sessions} sessions: p99 {result.p99_ms:.0f} ms, {result.updates_missed} updates missed, "
            f"{result.hr_lost + result.acc_lost} samples lost, CPU {result.cpu_share:.0%}, "
            f"RSS {result.rss_end_mb:.0f} MiB (start {result.start_s:.0f} s, end {result.end_s:.0f} s, "
            f"load {result.load_average:.2f}, {logged} lines logged in {log}): {'held' if result.held else 'FAILED'}",
            flush=True,
        )
        if not result.held and not args.keep_going:
            break
    print()
    print(table(results))
    held = [r.sessions for r in results if r.held]
    per_session = memory_per_session_mb(results)
    print()
    if per_session is not None:
        print(f"Memory per session (slope of RSS over sessions): {per_session:.1f} MiB.")
    print(f"Largest number of sessions that held: {max(held) if held else 'none'}.")


if __name__ == "__main__":
    main()
