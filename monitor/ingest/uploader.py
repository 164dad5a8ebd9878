"""Sending a hub's spool to the server: oldest first, again until acknowledged, outages written down.

One process on a hub sends at a time (it holds ``uploader.lock`` in the spool's folder);
the others only spool. A batch the server acknowledges is deleted from the spool. When the
server cannot be reached, times out, or answers 5xx (its database is down), the uploader
waits with exponential backoff and full jitter and sends the same batch again, which the
server applies idempotently. When it gets through, every session whose messages waited
gets an event saying for how long and why. A message the server refuses for good (4xx)
is found by sending the batch one message at a time, and set aside in the spool with the
server's reason; a refused token stops the uploader, since nothing would get through.
When the spool cannot be written (a full disk), what the server took stays in it and is
sent again, and stored once, when it can.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import IO

import httpx

from monitor.ingest.spool import Spool, Spooled, SpoolUnwritable, lock_file

logger = logging.getLogger(__name__)


class HubRefused(RuntimeError):
    """The server does not accept this hub's token: register the hub (``dosis hub add``) and set it."""


@dataclass
class _Outage:
    started_ns: int
    reason: str
    sessions: set[str] = field(default_factory=set)
    attempts: int = 0


class Uploader:
    def __init__(
        self,
        spool: Spool,
        server_url: str,
        token: str,
        *,
        batch_messages: int = 100,
        batch_bytes: int = 1_000_000,
        initial_delay_s: float = 0.2,
        max_delay_s: float = 10.0,
        timeout_s: float = 15.0,
        rng: random.Random | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """``transport``: how requests reach the server; the network unless given (a test passes the app in-process)."""
        self.spool = spool
        self._client = httpx.AsyncClient(
            base_url=server_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout_s,
            transport=transport,
        )
        self._batch_messages = batch_messages
        self._batch_bytes = batch_bytes
        self._initial_delay_s = initial_delay_s
        self._max_delay_s = max_delay_s
        self._rng = rng or random.Random()
        self._outage: _Outage | None = None
        self._one_at_a_time_through = 0
        """After a refused batch: send single messages up to this spool number, to find the refused one."""
        self._lock: IO[bytes] | None = None
        self._spool_unwritable = False
        self.sent_count = 0
        self.rejected_count = 0

    async def aclose(self) -> None:
        await self._client.aclose()
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    async def patient_known(self, pseudonym: str) -> bool | None:
        """Whether the server knows the patient; None when it cannot be asked now."""
        try:
            response = await self._client.get(f"/api/ingest/patients/{pseudonym}")
        except httpx.TransportError:
            return None
        if response.status_code == 401:
            raise HubRefused(_detail(response))
        if response.status_code in (204, 404):
            return response.status_code == 204
        return None

    async def run(self, stop: asyncio.Event, *, idle_s: float = 0.25) -> None:
        """Send until ``stop`` is set; it returns at once then, leaving the rest spooled."""
        while not stop.is_set():
            if not await self.step():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=idle_s)

    async def drain(self, *, timeout_s: float, sessions: Collection[str] | None = None) -> bool:
        """Send until the spool holds nothing (of ``sessions``); False if ``timeout_s`` passed first.

        Another recording on the hub may go on spooling: with ``sessions``, a finished one
        waits only for its own messages (and those before them: the spool is sent in order).
        """
        deadline = time.monotonic() + timeout_s
        while self.spool.pending_count(sessions):
            if time.monotonic() >= deadline:
                return False
            if not await self.step():
                await asyncio.sleep(0.1)  # another process holds the upload lock and is sending
        return True

    async def step(self) -> bool:
        """Try to send one batch; False when there was nothing this process may send."""
        if self._lock is None:
            self._lock = lock_file(self.spool.folder / "uploader.lock", wait=False)
            if self._lock is None:
                return False
        batch = self._next_batch()
        if not batch:
            return False
        body = '{"messages":[' + ",".join(m.body for m in batch) + "]}"
        try:
            response = await self._client.post(
                "/api/ingest", content=body, headers={"Content-Type": "application/json"}
            )
        except httpx.TransportError as error:
            await self._failed(f"{type(error).__name__}: {error}" if str(error) else type(error).__name__)
            return True
        try:
            await self._answered(batch, response)
        except SpoolUnwritable as error:
            # What the server took stays spooled, is sent again once the spool can be written, and stored once.
            if not self._spool_unwritable:
                logger.error("%s; the uploader waits until it can be written", error)
            self._spool_unwritable = True
            await asyncio.sleep(self._rng.uniform(0, self._max_delay_s))
            return True
        self._spool_unwritable = False
        return True

    async def _answered(self, batch: Sequence[Spooled], response: httpx.Response) -> None:
        """The spool after the server's answer to ``batch``."""
        if response.status_code == 200:
            self._recovered(batch)
            self.spool.sent(batch)
            self.sent_count += len(batch)
        elif response.status_code == 401:
            raise HubRefused(_detail(response))
        elif response.status_code >= 500 or response.status_code in (408, 429):
            await self._failed(f"HTTP {response.status_code}: {_detail(response)}")
        elif len(batch) > 1:
            self._one_at_a_time_through = batch[-1].seq
        else:
            self._recovered(batch)
            logger.error(
                "the server refused a message of session %s for good (HTTP %d: %s); it is kept in the spool",
                batch[0].session,
                response.status_code,
                _detail(response),
            )
            self.spool.reject(batch[0], status=response.status_code, reason=_detail(response))
            self.rejected_count += 1

    def _next_batch(self) -> list[Spooled]:
        pending = self.spool.pending(self._batch_messages)
        if pending and pending[0].seq <= self._one_at_a_time_through:
            return pending[:1]
        batch: list[Spooled] = []
        size = 0
        for message in pending:
            size += len(message.body)
            if batch and size > self._batch_bytes:
                break
            batch.append(message)
        return batch

    async def _failed(self, reason: str) -> None:
        if self._outage is None:
            self._outage = _Outage(time.time_ns(), reason)
            logger.warning("the server cannot take the spool now (%s); retrying", reason)
        outage = self._outage
        # Not only the batch's sessions wait: every session in the spool does, behind it.
        outage.sessions.update(s.uid for s in self.spool.sessions())
        outage.attempts += 1
        ceiling_s = min(self._max_delay_s, self._initial_delay_s * 2 ** min(outage.attempts, 30))
        await asyncio.sleep(self._rng.uniform(0, ceiling_s))

    def _recovered(self, batch: Sequence[Spooled]) -> None:
        """After an outage, each session whose messages waited says so (before its last ones are deleted)."""
        outage, self._outage = self._outage, None
        if outage is None:
            return
        seconds = (time.time_ns() - outage.started_ns) / 1e9
        logger.warning("the server takes the spool again after %.1f s", seconds)
        waiting = {s.uid for s in self.spool.sessions()}
        for uid in sorted(outage.sessions & waiting):
            self.spool.put_event(
                uid,
                "server_unreachable",
                f"the hub could not deliver to the server for {seconds:.1f} s ({outage.reason}); "
                "the data waited in the hub's spool and was sent afterwards",
                t_ns=outage.started_ns,
            )


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text
    return str(detail)[:500]
