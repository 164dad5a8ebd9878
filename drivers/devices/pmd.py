"""Requests to a Polar device's PMD control point, each matched to its response."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.exc import BleakError

from drivers.errors import MalformedPayload
from drivers.polar_pmd import (
    PMD_CONTROL_POINT_UUID,
    ControlPointResponse,
    MeasurementStopped,
    Opcode,
    ResponseAssembler,
    parse_control_point_indication,
    status_text,
)


class PmdError(RuntimeError):
    """The device refused a PMD request; the message names the request and the status."""

    def __init__(self, response: ControlPointResponse) -> None:
        self.response = response
        super().__init__(
            f"{Opcode(response.opcode).name.replace('_', ' ').lower()} for {response.measurement} "
            f"refused: {status_text(response.status)}"
        )


class PmdControl:
    """Writes requests and awaits the indication that answers each, matched by opcode.

    Responses arrive as indications, not as reads (polar-ble-sdk#360), so indications
    must be enabled before the first request; indications for an opcode nobody waits
    for are dropped, as the SDK does.
    """

    def __init__(self, client: BleakClient, *, on_stopped: Callable[[MeasurementStopped], None]) -> None:
        self._client = client
        self._on_stopped = on_stopped
        self._waiting: dict[int, asyncio.Future[ControlPointResponse]] = {}
        self._assembler = ResponseAssembler()

    async def enable(self) -> None:
        self._assembler = ResponseAssembler()
        await self._client.start_notify(PMD_CONTROL_POINT_UUID, self._on_indication)

    def _on_indication(self, _: BleakGATTCharacteristic, data: bytearray) -> None:
        try:
            message = parse_control_point_indication(bytes(data))
            if isinstance(message, MeasurementStopped):
                self._on_stopped(message)
                return
            response = self._assembler.add(message)
        except MalformedPayload:
            self._assembler = ResponseAssembler()
            return
        if response is not None:
            waiting = self._waiting.pop(response.opcode, None)
            if waiting is not None and not waiting.done():
                waiting.set_result(response)

    def link_lost(self) -> None:
        """Fail the requests waiting for an answer: none comes over a link that is gone.

        Without this a reconnect that loses the link again while it starts a stream waits
        out the whole timeout before it tries again, and the device streams nothing meanwhile.
        """
        for waiting in self._waiting.values():
            if not waiting.done():
                waiting.set_exception(BleakError("the link was lost before the device answered"))

    async def request(self, payload: bytes, *, timeout_s: float = 5.0) -> ControlPointResponse:
        """Send a request; returns the successful response or raises :class:`PmdError`."""
        opcode = payload[0]
        answer: asyncio.Future[ControlPointResponse] = asyncio.get_running_loop().create_future()
        self._waiting[opcode] = answer
        try:
            await self._client.write_gatt_char(PMD_CONTROL_POINT_UUID, payload, response=True)
            response = await asyncio.wait_for(answer, timeout_s)
        finally:
            self._waiting.pop(opcode, None)
        if not response.ok:
            raise PmdError(response)
        return response
