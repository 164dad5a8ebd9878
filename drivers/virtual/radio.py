"""One virtual radio per event loop: Bumble's in-process ``LocalLink`` and its central adapters.

``LocalLink``, ``Controller`` and ``AsyncPipeSink`` capture the running loop when they are
built, so everything here is created lazily inside the loop that uses it and kept in a
``WeakKeyDictionary`` keyed by that loop: each pytest-asyncio function-scoped loop gets a
clean virtual world, and closed loops' worlds are dropped when the next one is made.

A *central adapter* is one Bumble host that every scanner and client naming it share, the
way BlueZ's ``hci0`` is shared. Adapters live on the loop's ``LocalLink`` unless a Bumble
transport is named (``bumble={"transport": "usb:0"}`` or ``BUMBLE_TRANSPORT``): then the
adapter is a real controller behind that transport and the virtual peripherals, which only
exist on the ``LocalLink``, are out of its reach.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from typing import TypedDict
from weakref import WeakKeyDictionary

from bumble.controller import Controller
from bumble.device import Device
from bumble.hci import (
    Address,
    HCI_ErrorCode,
    HCI_LE_Connection_Complete_Event,
    HCI_LE_Create_Connection_Cancel_Command,
    HCI_StatusReturnParameters,
    Role,
)
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport import open_transport
from bumble.transport.common import AsyncPipeSink, Transport

LOCAL_TRANSPORT = "local"
"""The transport name for the in-process ``LocalLink`` (the default)."""
TRANSPORT_ENV = "BUMBLE_TRANSPORT"
DEFAULT_ADAPTER = "hci0"
DEFAULT_MTU = 247
"""Requested ATT MTU: what BlueZ and Android negotiate, above the 232 PMD needs."""

# The virtual controller's default 27-byte LE ACL buffers make the host fragment every PDU,
# which costs a factor of 5-7 in notification throughput; real controllers offer 251.
_LE_ACL_PACKET_LENGTH = 251


class BumbleArgs(TypedDict, total=False):
    """The ``bumble={...}`` keyword argument of ``BleakClient`` and ``BleakScanner``."""

    transport: str
    """``"local"`` (the default: the loop's LocalLink) or a Bumble transport such as ``"usb:0"``."""
    adapter: str
    """Which central adapter to use; each name is a separate central (default ``"hci0"``)."""
    mtu: int
    """ATT MTU the client requests after connecting (default 247; 23 skips the exchange)."""


def transport_name(args: BumbleArgs) -> str:
    return args.get("transport") or os.environ.get(TRANSPORT_ENV) or LOCAL_TRANSPORT


class _IndexedLink(LocalLink):
    """Bumble's LocalLink, finding a packet's destination controller by address in a dict.

    LocalLink searches every controller's every connection for the destination of each ACL
    packet: with a central connected to N straps that is O(N) per notification, most of
    the virtual radio's time at a hundred straps. A controller found once is used again
    while it still answers to that address (its own, or a connection's).
    """

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # Bumble leaves it untyped
        self._found: dict[Address, Controller] = {}

    def find_le_controller(self, address: Address) -> Controller | None:
        found = self._found.get(address)
        if found is not None and found in self.controllers and _answers_to(found, address):
            return found
        found = super().find_le_controller(address)
        if found is not None:
            self._found[address] = found
        return found

    def remove_controller(self, controller: Controller) -> None:
        super().remove_controller(controller)
        self._found = {address: c for address, c in self._found.items() if c is not controller}


def _answers_to(controller: Controller, address: Address) -> bool:
    return (
        controller.random_address == address
        or controller.public_address == address
        or any(connection.self_address == address for connection in controller.le_connections.values())
    )


@dataclass
class _World:
    link: LocalLink = field(default_factory=_IndexedLink)
    adapters: dict[tuple[str, str], BumbleAdapter] = field(default_factory=dict)
    adapters_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # The open HCI transports, referenced for as long as the loop lives.
    transports: list[Transport] = field(default_factory=list)


_WORLDS: WeakKeyDictionary[asyncio.AbstractEventLoop, _World] = WeakKeyDictionary()


def _world() -> _World:
    loop = asyncio.get_running_loop()
    world = _WORLDS.get(loop)
    if world is None:
        # A world's Bumble objects hold its loop, so the weak key alone never lets go:
        # drop the worlds of closed loops here.
        for closed in [other for other in _WORLDS if other.is_closed()]:
            del _WORLDS[closed]
        world = _WORLDS[loop] = _World()
    return world


def local_link() -> LocalLink:
    """The running loop's virtual link."""
    return _world().link


class _VirtualController(Controller):
    """Bumble's virtual controller with LE Create Connection Cancel implemented.

    Bumble 0.0.236 acknowledges the cancel but keeps the connection pending: the host,
    after its connect timeout, then waits forever for the outcome, and the connection
    completes out of the blue once the peer advertises again.
    """

    def on_hci_le_create_connection_cancel_command(
        self, _command: HCI_LE_Create_Connection_Cancel_Command
    ) -> HCI_StatusReturnParameters:
        pending, self.pending_le_connection = self.pending_le_connection, None
        if pending is None:
            return HCI_StatusReturnParameters(HCI_ErrorCode.COMMAND_DISALLOWED_ERROR)
        failed = HCI_LE_Connection_Complete_Event(
            status=HCI_ErrorCode.UNKNOWN_CONNECTION_IDENTIFIER_ERROR,
            connection_handle=0,
            role=Role.CENTRAL,
            peer_address_type=pending.peer_address_type,
            peer_address=pending.peer_address,
            connection_interval=0,
            peripheral_latency=0,
            supervision_timeout=0,
            central_clock_accuracy=0,
        )
        # After the Command Complete this handler's return value becomes (Vol 4, Part E, 7.8.13).
        asyncio.get_running_loop().call_soon(self.send_hci_packet, failed)
        return HCI_StatusReturnParameters(HCI_ErrorCode.SUCCESS)


def new_local_device(name: str, address: Address) -> tuple[Device, Controller]:
    """A Bumble device with its own virtual controller on the running loop's link."""
    controller = _VirtualController(name, link=local_link())
    controller.le_acl_data_packet_length = _LE_ACL_PACKET_LENGTH
    device = Device(name=name, address=address, host=Host(controller, AsyncPipeSink(controller)))
    return device, controller


class BumbleAdapter:
    """A central shared by the scanners and clients that name it.

    Bumble allows one pending LE connection per device, so clients take ``connect_lock``
    around ``device.connect``; scanning is reference-counted so that one scanner stopping
    does not end another's scan.
    """

    def __init__(self, device: Device) -> None:
        self.device = device
        self.connect_lock = asyncio.Lock()
        self._scanners = 0

    @classmethod
    async def get(cls, args: BumbleArgs) -> BumbleAdapter:
        """The adapter ``args`` names on the running loop, created and powered on first use."""
        world = _world()
        key = (transport_name(args), args.get("adapter", DEFAULT_ADAPTER))
        async with world.adapters_lock:
            adapter = world.adapters.get(key)
            if adapter is None:
                adapter = cls(await _new_central(world, *key, index=len(world.adapters)))
                await adapter.device.power_on()
                world.adapters[key] = adapter
        return adapter

    async def start_scanning(self, *, active: bool) -> None:
        self._scanners += 1
        if self._scanners == 1:
            await self.device.start_scanning(active=active, filter_duplicates=False)

    async def stop_scanning(self) -> None:
        self._scanners -= 1
        if self._scanners == 0:
            await self.device.stop_scanning()


async def _new_central(world: _World, transport: str, adapter: str, *, index: int) -> Device:
    # A random static address (two top bits set), distinct per adapter of this loop.
    address = Address(f"F0:AD:00:00:00:{index + 1:02X}")
    name = f"dosis-{adapter}"
    if transport == LOCAL_TRANSPORT:
        device, _ = new_local_device(name, address)
        return device
    opened = await open_transport(transport)
    world.transports.append(opened)
    return Device.with_hci(name, address, opened.source, opened.sink)
