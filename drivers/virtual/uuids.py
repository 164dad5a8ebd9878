"""UUIDs between Bumble's objects and bleak's strings."""

from __future__ import annotations

import uuid

from bumble import core


def bleak_uuid(bumble_uuid: core.UUID) -> str:
    """A Bumble UUID as bleak spells it: 128-bit, lowercase, dashed."""
    return str(uuid.UUID(bytes=bytes(reversed(bumble_uuid.uuid_128_bytes))))


_SIG_BASE_SUFFIX = "-0000-1000-8000-00805f9b34fb"


def bumble_uuid(uuid_str: str) -> core.UUID:
    """A bleak UUID string as Bumble's UUID, 16-bit when it is a SIG-assigned number.

    Servers declare SIG attributes with their 16-bit form, as real devices do.
    """
    uuid_str = uuid_str.lower()
    if uuid_str.startswith("0000") and uuid_str.endswith(_SIG_BASE_SUFFIX):
        return core.UUID.from_16_bits(int(uuid_str[4:8], 16))
    return core.UUID(uuid_str)
