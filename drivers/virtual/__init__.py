"""Virtual wearables: a bleak backend over Bumble and peripherals bleak cannot tell from real ones.

Pass the backend classes to bleak (``backend_classes()``); start virtual peripherals in
the same event loop, and bleak's public API finds, connects to and streams from them as
from real devices. ``README.md`` beside this file has the details and the limitations.
"""

from __future__ import annotations

from drivers.virtual.client import BleakClientBumble
from drivers.virtual.heart_rate import VirtualHeartRateStrap
from drivers.virtual.peripheral import VirtualPeripheral
from drivers.virtual.polar import VirtualPolarH10
from drivers.virtual.radio import BumbleArgs
from drivers.virtual.replay import Replay
from drivers.virtual.scanner import BleakScannerBumble
from drivers.virtual.verity import VirtualVeritySense, verity_replay


def backend_classes() -> tuple[type[BleakClientBumble], type[BleakScannerBumble]]:
    """The (client, scanner) classes to pass as ``backend=`` to ``BleakClient``/``BleakScanner``."""
    return BleakClientBumble, BleakScannerBumble


__all__ = [
    "BleakClientBumble",
    "BleakScannerBumble",
    "BumbleArgs",
    "Replay",
    "VirtualHeartRateStrap",
    "VirtualPeripheral",
    "VirtualPolarH10",
    "VirtualVeritySense",
    "backend_classes",
    "verity_replay",
]
