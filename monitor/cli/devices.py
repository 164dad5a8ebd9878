"""Live wearables: scan for them, record a session, write a capture."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from bleak.backends.client import BaseBleakClient
from bleak.backends.scanner import BaseBleakScanner
from bleak.exc import BleakError
from rich.table import Table

from drivers.devices import Wearable, WearableError
from drivers.devices.discovery import DiscoveredWearable, driver_for, find, scan
from drivers.gatt import HEART_RATE_MEASUREMENT_UUID
from drivers.polar_pmd import PMD_CONTROL_POINT_UUID, PMD_DATA_UUID
from monitor.capture import CaptureDevice, CaptureHeader, CaptureWriter, PmdStreamSettings
from monitor.cli.common import SESSION_KINDS, app, console, fail, open_store, patient_id
from monitor.cli.hubs import DrainOption, ServerOption, streaming
from monitor.cli.sessions import print_session
from monitor.composites import STRENGTH_CAPTURE, WALKING_CAPTURE
from monitor.ingest.spool import PatientOnServer
from monitor.live import record_session
from monitor.settings import Settings
from monitor.sinks import PatientInStore

DeviceOption = Annotated[str, typer.Option("--device", help="name, end of name (e.g. 0A1B2C3D) or address")]
AccRateOption = Annotated[int, typer.Option("--acc-rate", help="Polar H10 accelerometer rate: 25, 50, 100 or 200 Hz")]
EcgOption = Annotated[bool, typer.Option("--ecg", help="also stream a Polar H10's ECG (130 Hz)")]
ScanOption = Annotated[float, typer.Option("--scan-timeout", min=0.1, help="seconds to look for the device")]


@dataclass(frozen=True, slots=True)
class Bluetooth:
    client: type[BaseBleakClient] | None
    scanner: type[BaseBleakScanner] | None


@contextlib.asynccontextmanager
async def bluetooth(settings: Settings) -> AsyncIterator[Bluetooth]:
    """The system's Bluetooth, or with ``DOSIS_BLE=virtual`` two virtual wearables nearby.

    The virtual ones are a Polar H10 replaying the bundled walking capture and a plain
    heart-rate strap replaying the strength capture, both on Bumble's in-process link.
    """
    if settings.ble != "virtual":
        yield Bluetooth(None, None)
        return
    from drivers.virtual import Replay, VirtualHeartRateStrap, VirtualPolarH10, backend_classes

    client, scanner = backend_classes()
    async with (
        VirtualPolarH10(Replay.from_capture(WALKING_CAPTURE)),
        VirtualHeartRateStrap(Replay.from_capture(STRENGTH_CAPTURE)),
    ):
        yield Bluetooth(client, scanner)


async def _find(ble: Bluetooth, device: str, timeout_s: float) -> DiscoveredWearable:
    wearables = await scan(timeout_s=timeout_s, backend=ble.scanner)
    found = find(wearables, device)
    if found is None:
        nearby = ", ".join(f"{w.name} ({w.address})" for w in wearables) or "none"
        raise fail(f"no single wearable matches {device!r} within {timeout_s:g} s; nearby: {nearby}")
    return found


def _driver(found: DiscoveredWearable, ble: Bluetooth, acc_rate_hz: int, ecg: bool, **kwargs: Any) -> Wearable:
    if ecg and found.kind != "polar_h10":
        raise fail(f"--ecg needs a Polar H10; {found.name} is a {found.kind.replace('_', ' ')}")
    options = {"acc_rate_hz": acc_rate_hz, "ecg": ecg} if found.kind == "polar_h10" else {}
    try:
        return driver_for(found, backend=ble.client, **options, **kwargs)
    except ValueError as error:
        raise fail(str(error)) from error


def _run(coroutine: Any) -> Any:
    """Run a command's work; Bluetooth failures become clear errors, Ctrl-C a clean stop."""
    try:
        return asyncio.run(coroutine)
    except WearableError as error:
        raise fail(str(error)) from error
    except BleakError as error:
        raise fail(f"Bluetooth: {error}") from error


@app.command("scan")
def scan_command(timeout: Annotated[float, typer.Option(min=0.1, help="seconds to listen")] = 5.0) -> None:
    """List the wearables nearby: kind, name, address, signal strength, services."""

    async def run() -> list[DiscoveredWearable]:
        async with bluetooth(Settings()) as ble:
            return await scan(timeout_s=timeout, backend=ble.scanner)

    wearables: list[DiscoveredWearable] = _run(run())
    table = Table(title=f"Wearables nearby ({len(wearables)})")
    for column in ("kind", "name", "address", "signal", "services"):
        table.add_column(column)
    for w in wearables:
        signal = "" if w.rssi_dbm is None else f"{w.rssi_dbm} dBm"
        table.add_row(w.kind.replace("_", " "), w.name, w.address, signal, "\n".join(w.services))
    console.print(table)


@app.command()
def record(
    device: DeviceOption,
    patient: Annotated[str, typer.Option("--patient", help="patient pseudonym; created if new")],
    kind: Annotated[str, typer.Option("--kind", help="walking or strength")],
    duration: Annotated[float | None, typer.Option(min=0.1, help="seconds; default: until Ctrl-C")] = None,
    acc_rate: AccRateOption = 200,
    ecg: EcgOption = False,
    scan_timeout: ScanOption = 10.0,
    server: ServerOption = None,
    drain_timeout: DrainOption = 60.0,
) -> None:
    """Record a live session from a wearable into the database, or stream it to a Dosis server."""
    if kind not in SESSION_KINDS:
        raise fail(f"--kind must be walking or strength, not {kind!r}")
    settings = Settings()

    async def connect(ble: Bluetooth) -> Wearable:
        found = await _find(ble, device, scan_timeout)
        console.print(f"Recording from {found.name}" + (f" for {duration:g} s" if duration else "; Ctrl-C ends"))
        return _driver(found, ble, acc_rate, ecg)

    async def stream() -> None:
        async with (
            streaming(settings, server, patient=patient, drain_timeout_s=drain_timeout) as spool,
            bluetooth(settings) as ble,
        ):
            await record_session(PatientOnServer(spool, patient), [await connect(ble)], kind=kind, duration_s=duration)

    async def run() -> None:
        store = open_store(settings)
        target = PatientInStore(store, patient_id(store, patient))
        async with bluetooth(settings) as ble:
            session = await record_session(target, [await connect(ble)], kind=kind, duration_s=duration)
            print_session(session, patient)

    with contextlib.suppress(KeyboardInterrupt):
        _run(stream() if server or settings.server_url else run())


@app.command()
def capture(
    device: DeviceOption,
    out: Annotated[Path, typer.Option("--out", help="capture file to write (.jsonl or .jsonl.gz)")],
    duration: Annotated[float, typer.Option(min=0.1, help="seconds to record")] = 60.0,
    acc_rate: AccRateOption = 200,
    ecg: EcgOption = False,
    scan_timeout: ScanOption = 10.0,
) -> None:
    """Write every notification of a wearable to a capture file, for replay and tests."""
    if out.exists():
        raise fail(f"{out} exists; not overwriting it")

    async def run() -> int:
        async with bluetooth(Settings()) as ble:
            found = await _find(ble, device, scan_timeout)
            h10 = found.kind == "polar_h10"
            header = CaptureHeader(
                description=f"Recorded from a {found.kind.replace('_', ' ')} with dosis capture.",
                devices=[
                    CaptureDevice(
                        id=found.name,
                        model="Polar H10" if h10 else "heart-rate strap",
                        name=found.name,
                        address=found.address,
                        characteristics=[HEART_RATE_MEASUREMENT_UUID]
                        + ([PMD_CONTROL_POINT_UUID, PMD_DATA_UUID] if h10 else []),
                        acc=PmdStreamSettings(sample_rate_hz=acc_rate, resolution_bits=16, range_g=8) if h10 else None,
                        ecg=PmdStreamSettings(sample_rate_hz=130, resolution_bits=14) if ecg else None,
                    )
                ],
            )
            with CaptureWriter(out, header) as writer:
                driver = _driver(found, ble, acc_rate, ecg, tap=writer.write)
                async with driver:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(duration):
                            async for _ in driver:
                                pass
                return writer.count

    count: int = _run(run())
    console.print(f"{out}: {count} notifications")
