r"""Signals in InfluxDB, one point per sample; or in VictoriaMetrics, which takes the same writes.

One measurement per signal of ``SIGNALS``, its columns as fields, ns timestamps and three
tags, sorted as InfluxDB wants them::

    acc_mg,device=Polar\ H10\ 0A1B2C3D,patient=p-7f3c,session=412 x=-12i,y=998i,z=40i 1793610000005000000

``int16`` signals are integer fields of counts (times ``scale`` on reading), ``float32``
signals float fields holding the float32 value exactly. The tags are the patient's
pseudonym, the session id and the device, never a name: tags are indexed and listed by
``SHOW TAG VALUES``. The pseudonym comes from the ``patient_for_session`` callable, so this
store never queries the relational database itself.

A server keeps one point per series and time, so writes are idempotent by nature: a
retried chunk overwrites itself. Two samples of one chunk at the same time would overwrite
each other, so such a chunk is refused (the SQL store would keep both).

Paths, chosen by configuration:

- writing, ``api``: ``"v1"`` posts line protocol to ``/write?db=`` with httpx in requests of
  at most ``batch_lines`` lines and returns once the server has it, with no retries of its
  own (InfluxDB 1.x, and 1.8+, 2.x and 3.x through their v1 compatibility). ``"v2"`` hands
  each append to influxdb-client's batching ``WriteApi`` for ``/api/v2/write`` (InfluxDB
  1.8+, 2.x, 3.x, VictoriaMetrics), which writes in the background, ``batch_appends``
  appends or ``flush_interval_ms`` at a time, and retries; ``flush()`` waits for it, and a
  batch that still failed is kept and sent again by the next ``flush()``.
- everything else, ``server``: ``"influxdb"`` reads with InfluxQL on ``/query`` (1.x, and 2.x
  and 3.x through v1 compatibility, which maps a 2.x bucket to the database of its name),
  decimates with ``GROUP BY time()`` and min/max on the server, lists a session's devices with
  ``count() ... GROUP BY "device"``, and counts what retention removes with ``count()``.
  Deleting differs by version, which the store asks the server once, from the
  ``X-Influxdb-Version`` header of ``/ping`` (no setting can then disagree with the server):
  1.x (``1.8.10``) deletes with InfluxQL, ``DROP SERIES`` and ``DELETE ... WHERE time <``;
  2.x (``v2.7.11``, and InfluxDB Cloud, which sends no version) takes only SELECT and SHOW on
  ``/query``, so it deletes through influxdb-client's ``DeleteApi`` on ``/api/v2/delete``: one
  request per session (``session="412"``; its predicates have no OR) over all of time, and
  for retention one per signal measurement with points before the cut-off. 3.x deletes whole
  tables only, so deleting there raises ``RuntimeError`` before anything is sent.
  ``"victoriametrics"``: it has no InfluxQL (its ``/query`` answers every query with a fixed
  ``SHOW DATABASES`` result), so reads and the list of devices go to ``/api/v1/export``,
  decimation is a read and ``decimate()``, deletion is ``/api/v1/admin/tsdb/delete_series``,
  and retention is the server's ``-retentionPeriod``: its delete API takes no time range
  (1.79 answers 400), so ``apply_retention`` removes nothing and returns 0.

``apply_retention`` returns the points it removes as counted just before deleting them, on
1.x and 2.x alike (2.x's delete API returns no count); points written before the cut-off
between the count and the deletion are removed without being counted.

What VictoriaMetrics keeps differs from InfluxDB: a field ``x`` of ``acc_mg`` becomes the
series ``acc_mg_x``; times are cut down (not rounded) to the millisecond, so samples of one
series less than 1 ms apart collapse into one; a retried write is stored once only with
``-dedup.minScrapeInterval=1ms``; samples more than two days in the future are dropped
although the write succeeds; and values are kept as decimals of about 14 significant digits
scaled per block of samples, so a float32 value comes back exactly after rounding to float32
unless it is many orders of magnitude below its neighbours (not so for Dosis's signals:
integer counts, whole µV, intervals in 1/1024 s).

A server that cannot be reached, or answers 5xx or 429, raises :class:`SignalStoreUnavailable`
(a caller spools and retries: writes and deletions are idempotent); one that refuses a request
(4xx, an InfluxQL error) raises ``RuntimeError``, since retrying would not help.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal, cast

import httpx
import numpy as np
import numpy.typing as npt
from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import WriteOptions
from influxdb_client.rest import ApiException
from urllib3.exceptions import HTTPError

from monitor.store.influx_batching import BatchingWriter
from monitor.store.signals import (
    SIGNALS,
    Chunk,
    Decimated,
    Signal,
    SignalSpec,
    SignalStoreUnavailable,
    decimate,
    encode_chunk,
)

Api = Literal["v1", "v2"]
Server = Literal["influxdb", "victoriametrics"]

_TAG_ESCAPES = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ "})
# The export API's default end is now; a hub's clock may run ahead of the server's.
_EXPORT_END_NS = 2**62
# The earliest and latest times InfluxDB stores and /api/v2/delete takes (MinNanoTime, MaxNanoTime).
_MIN_TIME_NS, _MAX_TIME_NS = -(2**63) + 2, 2**63 - 2


class InfluxSignalStore:
    """The :class:`~monitor.store.signals.SignalStore` on InfluxDB or VictoriaMetrics (see the module)."""

    def __init__(
        self,
        url: str,
        database: str,
        patient_for_session: Callable[[int], str],
        *,
        api: Api = "v1",
        server: Server = "influxdb",
        token: str | None = None,
        org: str = "-",
        batch_lines: int = 5_000,
        batch_appends: int = 25,
        flush_interval_ms: int = 1_000,
        max_retries: int = 5,
        timeout_s: float = 10.0,
    ) -> None:
        """``database`` is the v1 database or v2 bucket; ``token`` an InfluxDB 2/3 token or 1.8 ``user:password``.

        ``org`` is for the v2 writer and InfluxDB 2's delete API; ``batch_appends``, ``flush_interval_ms``
        and ``max_retries`` concern the v2 writer only.
        """
        self._database = database
        self._patient_for_session = patient_for_session
        self._pseudonyms: dict[int, str] = {}
        self._server = server
        self._batch_lines = batch_lines
        headers = {"Authorization": f"Token {token}"} if token else {}
        self._closing = contextlib.ExitStack()
        self._http = self._closing.enter_context(httpx.Client(base_url=url, headers=headers, timeout=timeout_s))
        self._org = org
        # For /api/v2/delete only; it connects on its first request.
        self._client = self._closing.enter_context(
            InfluxDBClient(url=url, token=token or "", org=org, timeout=int(timeout_s * 1000))
        )
        self._influxdb_major: int | None = None
        """InfluxDB's major version once asked (2 for InfluxDB Cloud, which does not say)."""
        self._writer = (
            BatchingWriter(
                url,
                database,
                token=token,
                org=org,
                options=WriteOptions(
                    batch_size=batch_appends,
                    flush_interval=flush_interval_ms,
                    retry_interval=5_000,
                    max_retries=max_retries,
                    max_retry_delay=30_000,
                    exponential_base=2,
                ),
                timeout_s=timeout_s,
            )
            if api == "v2"
            else None
        )

    def append(self, session_id: int, signal: str, device: str, t_ns: npt.ArrayLike, values: npt.ArrayLike) -> None:
        self.append_many([Chunk(session_id, signal, device, t_ns, values)])

    def append_many(self, chunks: Iterable[Chunk]) -> None:
        """Every chunk is checked before any is written; a failed write may leave part of them stored."""
        lines = [line for chunk in chunks for line in self._lines(chunk)]
        if self._writer is not None:
            self._writer.write(_bodies(lines, self._batch_lines))
            return
        for body in _bodies(lines, self._batch_lines):
            with self._reaching():
                response = self._http.post(
                    "/write", params={"db": self._database, "precision": "ns"}, content=body.encode()
                )
            _check(response, "write")

    def flush(self) -> None:
        """Wait until everything appended is written; batches that failed before are tried again first."""
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        """Flush and close the connections (they are closed even when flushing fails)."""
        try:
            if self._writer is not None:
                self._writer.close()
        finally:
            self._closing.close()

    def read(
        self,
        session_id: int,
        signal: str,
        *,
        device: str | None = None,
        t_from_ns: int | None = None,
        t_to_ns: int | None = None,
    ) -> Signal:
        """Samples with ``t_from_ns <= t <= t_to_ns`` in time order; devices' samples at one time in no set order."""
        spec = SIGNALS[signal]
        if self._server == "victoriametrics":
            times, values = self._export(session_id, signal, device, t_from_ns, t_to_ns)
        else:
            fields = ",".join(_identifier(c) for c in spec.columns)
            where = _where(session_id, device, t_from_ns, t_to_ns)
            (rows,) = self._influxql([f"SELECT {fields} FROM {_identifier(signal)} WHERE {where}"])
            times = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
            # The time column, cut to float64 here, is dropped; a missing field becomes NaN.
            values = np.array(rows, dtype=np.float64).reshape(len(rows), spec.channels + 1)[:, 1:]
        return Signal(times, _in_unit(signal, values))

    def read_decimated(
        self,
        session_id: int,
        signal: str,
        *,
        max_points: int,
        channel: int = 0,
        device: str | None = None,
        t_from_ns: int | None = None,
        t_to_ns: int | None = None,
    ) -> Decimated:
        """The buckets of :func:`~monitor.store.signals.decimate`, computed by InfluxDB where it can."""
        if max_points < 1:
            raise ValueError(f"max_points must be at least 1, got {max_points}")
        if self._server == "victoriametrics":
            full = self.read(session_id, signal, device=device, t_from_ns=t_from_ns, t_to_ns=t_to_ns)
            return decimate(full, max_points=max_points, channel=channel, t_from_ns=t_from_ns, t_to_ns=t_to_ns)
        empty = Decimated(np.empty(0, np.int64), np.empty(0), np.empty(0), 1)
        field = _identifier(SIGNALS[signal].columns[channel])
        measurement = _identifier(signal)
        where = _where(session_id, device, t_from_ns, t_to_ns)
        start, end = t_from_ns, t_to_ns
        if start is None or end is None:
            # decimate() spans the data when a bound is missing: its first and last sample.
            first, last = self._influxql(
                [f"SELECT {edge}({field}) FROM {measurement} WHERE {where}" for edge in ("first", "last")]
            )
            if not first:
                return empty
            start = int(first[0][0]) if start is None else start
            end = int(last[0][0]) if end is None else end
        bucket_ns = max(1, -(-(end - start + 1) // max_points))
        # InfluxQL aligns buckets to the epoch plus an offset; this offset makes one start at ``start``.
        (rows,) = self._influxql(
            [
                f"SELECT min({field}), max({field}) FROM {measurement} WHERE {_where(session_id, device, start, end)} "
                f"GROUP BY time({bucket_ns}ns, {start % bucket_ns}ns) fill(none)"
            ]
        )
        if not rows:
            return empty
        extremes = _in_unit(signal, np.array([row[1:] for row in rows], dtype=np.float64))
        return Decimated(np.array([row[0] for row in rows], dtype=np.int64), extremes[:, 0], extremes[:, 1], bucket_ns)

    def delete_session(self, session_id: int) -> None:
        self.delete_sessions([session_id])

    def delete_sessions(self, session_ids: Iterable[int]) -> None:
        """Every sample of these sessions, and their series with the pseudonym in the server's index."""
        ids = [int(s) for s in session_ids]
        if not ids:
            return
        if self._server == "victoriametrics":
            sessions = "|".join(str(s) for s in ids)
            selector = f'{{__name__=~"{_metric_names(SIGNALS)}",session=~"{sessions}"}}'
            with self._reaching():
                response = self._http.post("/api/v1/admin/tsdb/delete_series", data={"match[]": selector})
            _check(response, "delete_series")
            return
        if self._deletes_with_influxql():
            sessions = " OR ".join(f'"session"={_string(str(s))}' for s in ids)
            self._influxql([f"DROP SERIES FROM {_measurements(SIGNALS)} WHERE {sessions}"])
            return
        for session_id in ids:
            self._delete_points(f'session="{session_id}"', start_ns=_MIN_TIME_NS, stop_ns=_MAX_TIME_NS)

    def apply_retention(self, *, older_than_ns: int) -> int:
        """Points before ``older_than_ns``, counted, then deleted; on VictoriaMetrics none (``-retentionPeriod``)."""
        if self._server == "victoriametrics":
            return 0
        counts = self._influxql(
            [
                f"SELECT count({_identifier(spec.columns[0])}) FROM {_identifier(name)} WHERE time < {older_than_ns}"
                for name, spec in SIGNALS.items()
            ]
        )
        # Only measurements with points to remove: a daily run that finds none sends no deletion.
        expiring = [name for name, rows in zip(SIGNALS, counts, strict=True) if rows]
        if not expiring:
            return 0
        if self._deletes_with_influxql():
            self._influxql([f"DELETE FROM {_measurements(expiring)} WHERE time < {older_than_ns}"])
        else:
            for name in expiring:
                # The delete API's range includes its stop.
                stop_ns = min(older_than_ns - 1, _MAX_TIME_NS)
                self._delete_points(f'_measurement="{name}"', start_ns=_MIN_TIME_NS, stop_ns=stop_ns)
        return sum(int(rows[0][1]) for rows in counts if rows)

    def devices(self, session_id: int, signal: str) -> list[str]:
        """The devices with samples of ``signal`` in the session, sorted; KeyError for an unknown signal."""
        spec = SIGNALS[signal]
        if self._server == "victoriametrics":
            # The first channel's samples, as read() finds them: /api/v1/label/device/values
            # (1.79) still lists the devices of deleted series.
            selector = f'{{__name__="{signal}_{spec.columns[0]}",session="{int(session_id)}"}}'
            params = {"match[]": selector, "start": _seconds(0), "end": _seconds(_EXPORT_END_NS)}
            with self._reaching():
                response = self._http.post("/api/v1/export", data=params)
            _check(response, "export")
            return sorted({json.loads(line)["metric"]["device"] for line in response.text.splitlines()})
        # Counted points rather than SHOW TAG VALUES: a server's index may keep tags of deleted
        # points, and InfluxDB 3 shows the tags of the last day only.
        (series,) = self._influxql_series(
            [
                f"SELECT count({_identifier(spec.columns[0])}) FROM {_identifier(signal)} "
                f'WHERE {_where(session_id, None, None, None)} GROUP BY "device"'
            ]
        )
        return sorted({s["tags"]["device"] for s in series})

    def _lines(self, chunk: Chunk) -> list[str]:
        """The chunk in line protocol; raises ValueError as the SQL store does, and on what InfluxDB cannot hold."""
        # The SQL store's checks and encoding, so that both hold the same numbers.
        encoded = encode_chunk(chunk.signal, chunk.t_ns, chunk.values)
        spec = SIGNALS[chunk.signal]
        times = np.asarray(chunk.t_ns, dtype=np.int64)
        if np.any(np.diff(times) == 0):
            raise ValueError(f"{chunk.signal} has two samples at one time; InfluxDB keeps one point per time")
        stored = np.frombuffer(cast(bytes, encoded["values"]), dtype="<i2" if spec.encoding == "int16" else "<f4")
        if not np.all(np.isfinite(stored)):
            raise ValueError(f"{chunk.signal} has NaN or infinite values, which line protocol cannot carry")
        suffix = "i" if spec.encoding == "int16" else ""
        fields = ",".join(f"{column}={{}}{suffix}" for column in spec.columns) + " {}"
        prefix = f"{chunk.signal},{self._tags(chunk.session_id, chunk.device)} "
        numbers = stored.reshape(len(times), spec.channels).tolist()
        return [prefix + fields.format(*row, t) for row, t in zip(numbers, times.tolist(), strict=True)]

    def _tags(self, session_id: int, device: str) -> str:
        # One look-up per session, not one per chunk: a session's patient never changes.
        if session_id not in self._pseudonyms:
            self._pseudonyms[session_id] = self._patient_for_session(session_id)
        return f"device={_tag(device)},patient={_tag(self._pseudonyms[session_id])},session={int(session_id)}"

    def _influxql(self, statements: Sequence[str]) -> list[list[list[Any]]]:
        """The rows of each statement, of all its series."""
        return [[row for s in series for row in s["values"]] for series in self._influxql_series(statements)]

    def _influxql_series(self, statements: Sequence[str]) -> list[list[dict[str, Any]]]:
        """The series of each statement; results come chunked, so no server row limit cuts them short.

        A chunk may hold part of a series, so one series can come in several parts.
        """
        series: list[list[dict[str, Any]]] = [[] for _ in statements]
        params = {"db": self._database, "epoch": "ns", "chunked": "true", "chunk_size": "10000"}
        with (
            self._reaching(),
            self._http.stream("POST", "/query", params=params, data={"q": ";\n".join(statements)}) as response,
        ):
            if response.is_error:
                response.read()
                _check(response, "query")
            for line in response.iter_lines():
                payload = json.loads(line) if line else {}
                for result in [payload, *payload.get("results", [])]:
                    if "error" in result:
                        raise RuntimeError(f"InfluxQL {'; '.join(statements)!r}: {result['error']}")
                    if "series" in result:
                        series[result["statement_id"]] += result["series"]
        return series

    def _deletes_with_influxql(self) -> bool:
        """Whether the server is InfluxDB 1.x; raises RuntimeError on InfluxDB 3, which cannot delete points."""
        if self._influxdb_major is None:
            with self._reaching():
                response = self._http.get("/ping")
            _check(response, "ping")
            # "1.8.10", "1.11.8-c1.11.8" (Enterprise), "v2.7.11", "3.0.1"; InfluxDB Cloud sends none.
            version = response.headers.get("X-Influxdb-Version", "v2")
            major = version.removeprefix("v").split(".")[0]
            if not major.isdigit():
                raise RuntimeError(f"{response.url} says it is InfluxDB {version!r}, a version this store cannot read")
            self._influxdb_major = int(major)
        if self._influxdb_major >= 3:
            raise RuntimeError(
                f"InfluxDB {self._influxdb_major} deletes whole tables only, not one session's or old points; "
                "keep signals in InfluxDB 1.x or 2.x, VictoriaMetrics or the relational database"
            )
        return self._influxdb_major == 1

    def _delete_points(self, predicate: str, *, start_ns: int, stop_ns: int) -> None:
        """Points ``predicate`` selects with ``start_ns <= t <= stop_ns``, through /api/v2/delete."""
        where = f"/api/v2/delete of {predicate} in {self._database!r} at {self._http.base_url}"
        try:
            self._client.delete_api().delete(
                _rfc3339(start_ns), _rfc3339(stop_ns), predicate, bucket=self._database, org=self._org
            )
        except ApiException as error:
            if error.status is None or error.status >= 500 or error.status == 429:
                raise SignalStoreUnavailable(f"{where} failed: {error.status} {error.message}") from error
            raise RuntimeError(f"{where} was refused: {error.status} {error.message}") from error
        except HTTPError as error:
            raise SignalStoreUnavailable(f"{where} failed, the server cannot be reached: {error!r}") from error

    def _export(
        self, session_id: int, signal: str, device: str | None, t_from_ns: int | None, t_to_ns: int | None
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Times (whole ms, in ns) and values of each device's samples, from VictoriaMetrics's per-field series."""
        spec = SIGNALS[signal]
        labels = f'__name__=~"{_metric_names({signal: spec})}",session="{int(session_id)}"'
        if device is not None:
            labels += f",device={_label(device)}"
        start = 0 if t_from_ns is None else t_from_ns
        end = _EXPORT_END_NS if t_to_ns is None else t_to_ns
        params = {"match[]": f"{{{labels}}}", "start": _seconds(start), "end": _seconds(end)}
        with self._reaching():
            response = self._http.post("/api/v1/export", data=params)
        _check(response, "export")
        # Gathered per device and column, so that a series sent in several lines (as the export format allows) joins up.
        samples: dict[str, list[tuple[int, list[int], list[float]]]] = {}
        for line in response.text.splitlines():
            series = json.loads(line)
            column = spec.columns.index(series["metric"]["__name__"][len(signal) + 1 :])
            samples.setdefault(series["metric"]["device"], []).append((column, series["timestamps"], series["values"]))
        times, values = [], []
        for parts in samples.values():
            t_ms = np.unique(np.concatenate([np.asarray(t, dtype=np.int64) for _, t, _ in parts]))
            table = np.full((len(t_ms), spec.channels), np.nan)
            for column, t, v in parts:
                table[np.searchsorted(t_ms, t), column] = v
            times.append(t_ms * 1_000_000)
            values.append(table)
        if not times:
            return np.empty(0, np.int64), np.empty((0, spec.channels))
        all_times, all_values = np.concatenate(times), np.concatenate(values)
        keep = (all_times >= start) & (all_times <= end)
        order = np.argsort(all_times[keep], kind="stable")
        return all_times[keep][order], all_values[keep][order]

    @contextlib.contextmanager
    def _reaching(self) -> Iterator[None]:
        try:
            yield
        except httpx.TransportError as error:
            raise SignalStoreUnavailable(f"{self._http.base_url} cannot be reached: {error!r}") from error


def _bodies(lines: list[str], size: int) -> list[str]:
    """Lines joined into request bodies of at most ``size`` lines (InfluxDB refuses bodies over 25 MB)."""
    return ["\n".join(lines[i : i + size]) for i in range(0, len(lines), size)]


def _check(response: httpx.Response, what: str) -> None:
    if response.status_code >= 500 or response.status_code == 429:
        raise SignalStoreUnavailable(f"{what} at {response.url} failed: {response.status_code} {response.text}")
    if response.is_error:
        raise RuntimeError(f"{what} at {response.url} was refused: {response.status_code} {response.text}")


def _in_unit(signal: str, values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    spec = SIGNALS[signal]
    if spec.encoding == "int16":
        return values * spec.scale
    # Rounding to float32 gives back the value written, also from a server that kept fewer digits.
    return values.astype(np.float32).astype(np.float64)


def _tag(value: str) -> str:
    if not value or "\n" in value or "\\" in value:
        raise ValueError(f"{value!r} cannot be a tag value in line protocol (empty, a newline or a backslash)")
    return value.translate(_TAG_ESCAPES)


def _identifier(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _label(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _where(session_id: int, device: str | None, t_from_ns: int | None, t_to_ns: int | None) -> str:
    conditions = [f'"session"={_string(str(int(session_id)))}']
    if device is not None:
        conditions.append(f'"device"={_string(device)}')
    if t_from_ns is not None:
        conditions.append(f"time >= {int(t_from_ns)}")
    if t_to_ns is not None:
        conditions.append(f"time <= {int(t_to_ns)}")
    return " AND ".join(conditions)


def _measurements(names: Iterable[str]) -> str:
    return ",".join(_identifier(name) for name in names)


def _metric_names(signals: Mapping[str, SignalSpec]) -> str:
    """VictoriaMetrics's names of the fields of ``signals``, as an alternation (its regexes are anchored)."""
    return "|".join(f"{name}_{column}" for name, spec in signals.items() for column in spec.columns)


def _rfc3339(t_ns: int) -> str:
    """A time as RFC 3339 in UTC to the nanosecond, as /api/v2/delete takes it."""
    return f"{np.datetime_as_string(np.datetime64(t_ns, 'ns'), unit='ns')}Z"


def _seconds(t_ns: int) -> str:
    """Unix seconds to the millisecond, as VictoriaMetrics takes them; VictoriaMetrics keeps whole ms."""
    ms = t_ns // 1_000_000
    return f"{ms // 1000}.{ms % 1000:03d}"
