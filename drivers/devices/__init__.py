"""Device drivers on bleak: each is an async context manager streaming typed events."""

from drivers.devices.heart_rate import HeartRateStrap, PolarH10, PolarVeritySense, PolarWearable
from drivers.devices.link import (
    DeviceEvent,
    LinkEvent,
    MalformedNotification,
    ReconnectPolicy,
    Wearable,
    WearableError,
)
from drivers.devices.pmd import PmdControl, PmdError

__all__ = [
    "DeviceEvent",
    "HeartRateStrap",
    "LinkEvent",
    "MalformedNotification",
    "PmdControl",
    "PmdError",
    "PolarH10",
    "PolarVeritySense",
    "PolarWearable",
    "ReconnectPolicy",
    "Wearable",
    "WearableError",
]
