"""Shared test helpers (imported by test modules; fixtures live in conftest.py)."""

from __future__ import annotations

import asyncio
import gzip
import os
from pathlib import Path
from typing import NoReturn

import numpy as np
import pytest
from bleak.backends.characteristic import BleakGATTCharacteristic

from drivers.gatt import HEART_RATE_MEASUREMENT_UUID
from drivers.polar_pmd import PMD_DATA_UUID, PmdDataFrame
from drivers.virtual import Replay


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
