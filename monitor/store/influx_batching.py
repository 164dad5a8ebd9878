"""Writing to ``/api/v2/write`` through influxdb-client's batching WriteApi, with a flush that waits.

Used by :class:`monitor.store.influx.InfluxSignalStore` when ``api="v2"``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Sequence

from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import WriteOptions
from influxdb_client.rest import ApiException

from monitor.store.signals import SignalStoreUnavailable


class BatchingWriter:
    """influxdb-client's batching WriteApi, with a flush that waits and failed batches kept for the next flush.

    The WriteApi reports each batch to a callback once written, or once its retries are
    spent; this counts the lines still on their way and keeps the failed batches (their
    lines are idempotent to send again).
    """

    def __init__(
        self, url: str, bucket: str, *, token: str | None, org: str, options: WriteOptions, timeout_s: float
    ) -> None:
        self._bucket, self._org = bucket, org
        # The longest the WriteApi can take over a batch: its flush interval and all its retries.
        self._flush_timeout_s = (options.flush_interval + options.max_retry_time) / 1000 + 2 * timeout_s
        self._closing = contextlib.ExitStack()
        client = self._closing.enter_context(
            InfluxDBClient(url=url, token=token or "", org=org, timeout=int(timeout_s * 1000))
        )
        self._api = self._closing.enter_context(
            client.write_api(write_options=options, success_callback=self._written, error_callback=self._not_written)
        )
        self._settled = threading.Condition()
        self._in_flight = 0
        self._failed: list[bytes] = []
        self._error: BaseException | None = None

    def write(self, records: list[str]) -> None:
        if self._failed:
            raise SignalStoreUnavailable(
                f"{sum(map(_line_count, self._failed))} lines of earlier batches are not written yet "
                f"(flush() tries them again): {self._error!r}"
            ) from self._error
        self._submit(records)

    def flush(self) -> None:
        with self._settled:
            retry, self._failed = self._failed, []
        self._submit(retry)
        deadline = time.monotonic() + self._flush_timeout_s
        with self._settled:
            while self._in_flight:
                if not self._settled.wait(deadline - time.monotonic()):
                    raise SignalStoreUnavailable(f"{self._in_flight} lines were not written within the flush timeout")
            if not self._failed:
                return
            error = self._error
            if isinstance(error, ApiException) and error.status is not None and 400 <= error.status < 500:
                lost, self._failed = sum(map(_line_count, self._failed)), []
                raise RuntimeError(f"the server refused {lost} lines: {error}") from error
            raise SignalStoreUnavailable(
                f"{sum(map(_line_count, self._failed))} lines are not written: {error!r}"
            ) from error

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._closing.close()

    def _submit(self, records: Sequence[str | bytes]) -> None:
        if not records:
            return
        with self._settled:
            self._in_flight += sum(map(_line_count, records))
        # The WriteApi's default precision is ns, the store's.
        self._api.write(bucket=self._bucket, org=self._org, record=records)

    def _written(self, _batch: tuple[str, str, str], data: bytes) -> None:
        with self._settled:
            self._in_flight -= _line_count(data)
            self._settled.notify_all()

    def _not_written(self, _batch: tuple[str, str, str], data: bytes, error: BaseException) -> None:
        with self._settled:
            self._in_flight -= _line_count(data)
            self._failed.append(data)
            self._error = error
            self._settled.notify_all()


def _line_count(record: str | bytes) -> int:
    # Records hold lines joined without a trailing newline, and the WriteApi joins records the same way.
    return (record.count("\n") if isinstance(record, str) else record.count(b"\n")) + 1
