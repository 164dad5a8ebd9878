"""Finding wearables nearby and telling what kind each is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner

from drivers.devices.heart_rate import HeartRateStrap, PolarH10, PolarVeritySense
from drivers.devices.link import Wearable
from drivers.gatt import HEART_RATE_SERVICE_UUID, sig_uuid
from drivers.polar_pmd import PMD_SERVICE_UUID

RUNNING_SPEED_CADENCE_SERVICE_UUID = sig_uuid(0x1814)
WearableKind = Literal["polar_h10", "polar_verity_sense", "heart_rate_strap", "footpod"]


@dataclass(frozen=True, slots=True)
class DiscoveredWearable:
    kind: WearableKind
    name: str
    address: str
    rssi_dbm: int | None
    services: tuple[str, ...]
    device: BLEDevice


def classify(name: str | None, service_uuids: list[str] | tuple[str, ...]) -> WearableKind | None:
    """The kind of wearable an advertisement comes from, or None for anything else.

    Polar devices advertise their model in the name ("Polar H10 0A1B2C3D", "Polar Sense
    …" for a Verity Sense); other straps are known by the Heart Rate Service, footpods
    by Running Speed and Cadence.
    """
    services = {uuid.lower() for uuid in service_uuids}
    label = name or ""
    if label.startswith("Polar H10"):
        return "polar_h10"
    if label.startswith("Polar Sense") or (PMD_SERVICE_UUID in services and HEART_RATE_SERVICE_UUID not in services):
        return "polar_verity_sense"
    if HEART_RATE_SERVICE_UUID in services:
        return "heart_rate_strap"
    if RUNNING_SPEED_CADENCE_SERVICE_UUID in services:
        return "footpod"
    return None


async def scan(*, timeout_s: float = 5.0, backend: type[BaseBleakScanner] | None = None) -> list[DiscoveredWearable]:
    """Wearables advertising within ``timeout_s``, strongest signal first."""
    if backend is None:
        found = await BleakScanner.discover(timeout=timeout_s, return_adv=True)
    else:
        found = await BleakScanner.discover(timeout=timeout_s, return_adv=True, backend=backend)
    wearables = [_discovered(device, advertisement) for device, advertisement in found.values()]
    known = [w for w in wearables if w is not None]
    return sorted(known, key=lambda w: -(w.rssi_dbm if w.rssi_dbm is not None else -999))


def _discovered(device: BLEDevice, advertisement: AdvertisementData) -> DiscoveredWearable | None:
    name = advertisement.local_name or device.name
    kind = classify(name, advertisement.service_uuids)
    if kind is None:
        return None
    return DiscoveredWearable(
        kind, name or "", device.address, advertisement.rssi, tuple(advertisement.service_uuids), device
    )


def find(wearables: list[DiscoveredWearable], name_or_address: str) -> DiscoveredWearable | None:
    """The wearable with this address, or whose name is or ends with the given text."""
    wanted = name_or_address.lower()
    for wearable in wearables:
        if wearable.address.lower() == wanted or wearable.name.lower() == wanted:
            return wearable
    matches = [w for w in wearables if w.name.lower().endswith(wanted)]
    return matches[0] if len(matches) == 1 else None


def driver_for(wearable: DiscoveredWearable, **kwargs: Any) -> Wearable:
    """The driver that streams this kind of wearable."""
    if wearable.kind == "polar_h10":
        return PolarH10(wearable.device, name=wearable.name, **kwargs)
    if wearable.kind == "polar_verity_sense":
        return PolarVeritySense(wearable.device, name=wearable.name, **kwargs)
    if wearable.kind == "heart_rate_strap":
        return HeartRateStrap(wearable.device, name=wearable.name, **kwargs)
    raise ValueError(f"{wearable.name}: recording a {wearable.kind.replace('_', ' ')} is not supported yet")
