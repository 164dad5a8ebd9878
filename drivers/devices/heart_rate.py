"""Drivers for heart-rate wearables: any standard strap, the Polar H10 and the Verity Sense."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bleak import BleakClient
from bleak.backends.device import BLEDevice
from bleak.exc import BleakError

from drivers.devices.link import LinkEvent, Wearable, WearableError
from drivers.devices.pmd import PmdControl, PmdError
from drivers.gatt import HEART_RATE_MEASUREMENT_UUID
from drivers.polar_pmd import PMD_DATA_UUID, MeasurementStopped, parse_settings, start_request, stop_request
from drivers.readings import PmdStream

H10_ACC_RATES_HZ = (25, 50, 100, 200)
H10_ACC_RANGES_G = (2, 4, 8)


class HeartRateStrap(Wearable):
    """Any device with the Heart Rate Service: heart rate and RR intervals, once a second."""

    model = "heart-rate strap"

    async def _start_streams(self) -> None:
        await self.client.start_notify(
            HEART_RATE_MEASUREMENT_UUID, self.notification_handler(HEART_RATE_MEASUREMENT_UUID)
        )


class PolarWearable(HeartRateStrap):
    """A Polar device: heart rate, plus PMD streams started over its control point.

    PMD needs an ATT MTU of at least 232 (else the start is refused with INVALID_MTU).
    The OS stacks negotiate it themselves (BlueZ, WinRT, CoreBluetooth), and the virtual
    backend asks for 247, so the driver asks for nothing and reports the refusal.
    Every stream is stopped on exit: an H10 left streaming stays on until its battery is
    empty (Polar KnownIssues, H10 #2). A stream the device stops by itself is reported
    and started again.
    """

    def __init__(self, device: str | BLEDevice, **kwargs: Any) -> None:
        super().__init__(device, **kwargs)
        self.pmd = PmdControl(self.client, on_stopped=self._on_stopped)
        self._restarts: set[asyncio.Task[None]] = set()

    def _stream_settings(self) -> dict[str, dict[str, int]]:
        """The PMD measurements to start, each with its start settings."""
        raise NotImplementedError

    def _on_disconnect(self, client: BleakClient) -> None:
        super()._on_disconnect(client)
        self.pmd.link_lost()

    async def _start_streams(self) -> None:
        await super()._start_streams()
        await self.pmd.enable()
        await self.client.start_notify(PMD_DATA_UUID, self.notification_handler(PMD_DATA_UUID))
        for measurement in self._stream_settings():
            await self._start_measurement(measurement)

    async def _start_measurement(self, measurement: str) -> None:
        settings = self._stream_settings()[measurement]
        try:
            response = await self.pmd.request(start_request(measurement, **settings))
        except PmdError as error:
            raise WearableError(f"{self.name}: {error}") from error
        factor = parse_settings(response.params).get("factor", [1.0])[0]
        assert isinstance(factor, float | int)
        if measurement == "acc":
            self.decoder.acc = PmdStream(settings["sample_rate"], settings["resolution"], settings["range"], factor)
        elif measurement == "ecg":
            self.decoder.ecg = PmdStream(settings["sample_rate"], settings["resolution"], None, factor)
        elif measurement == "ppi":
            self.decoder.ppi = True

    async def _stop_streams(self) -> None:
        for measurement in self._stream_settings():
            await self.pmd.request(stop_request(measurement))

    def _on_stopped(self, stopped: MeasurementStopped) -> None:
        self._emit(LinkEvent(self.name, time.time_ns(), "stream_stopped", ", ".join(stopped.measurements)))
        for measurement in set(stopped.measurements) & set(self._stream_settings()):
            task = asyncio.get_running_loop().create_task(self._restart(measurement))
            self._restarts.add(task)
            task.add_done_callback(self._restarts.discard)

    async def _restart(self, measurement: str) -> None:
        self.decoder.reset()
        try:
            await self._start_measurement(measurement)
        except (WearableError, BleakError, TimeoutError) as error:
            self._emit(
                LinkEvent(self.name, time.time_ns(), "stream_stopped", f"restarting {measurement} failed: {error}")
            )


class PolarH10(PolarWearable):
    """A Polar H10 chest strap: heart rate and RR, its accelerometer, and optionally ECG.

    ACC is started at ``acc_rate_hz`` (25/50/100/200; None for no ACC) and ±``acc_range_g``
    (2/4/8 g), 16-bit, as the H10 offers it; ECG, when asked for, at the H10's only
    setting, 130 Hz and 14 bits.
    """

    model = "Polar H10"

    def __init__(
        self,
        device: str | BLEDevice,
        *,
        acc_rate_hz: int | None = 200,
        acc_range_g: int = 8,
        ecg: bool = False,
        **kwargs: Any,
    ) -> None:
        if acc_rate_hz is not None and acc_rate_hz not in H10_ACC_RATES_HZ:
            raise ValueError(f"an H10 samples ACC at {H10_ACC_RATES_HZ} Hz, not {acc_rate_hz}")
        if acc_range_g not in H10_ACC_RANGES_G:
            raise ValueError(f"an H10 measures ±{H10_ACC_RANGES_G} g, not ±{acc_range_g}")
        super().__init__(device, **kwargs)
        self.acc_rate_hz = acc_rate_hz
        self.acc_range_g = acc_range_g
        self.ecg = ecg

    def _stream_settings(self) -> dict[str, dict[str, int]]:
        streams = {}
        if self.acc_rate_hz is not None:
            streams["acc"] = {"range": self.acc_range_g, "sample_rate": self.acc_rate_hz, "resolution": 16}
        if self.ecg:
            streams["ecg"] = {"sample_rate": 130, "resolution": 14}
        return streams


class PolarVeritySense(PolarWearable):
    """A Polar Verity Sense armband: heart rate, compressed ACC at 52 Hz ±8 g, and PPI.

    Pulse-to-pulse intervals are optical: the first arrive about 25 s after the start,
    and the device's skin-contact flag is unreliable (Polar's PPIData.md).
    """

    model = "Polar Verity Sense"

    def _stream_settings(self) -> dict[str, dict[str, int]]:
        return {"acc": {"sample_rate": 52, "resolution": 16, "range": 8, "channels": 3}, "ppi": {}}
