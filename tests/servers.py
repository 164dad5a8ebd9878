"""Real database servers for the tests: PostgreSQL, InfluxDB 1.x and VictoriaMetrics.

Each runs from its Debian package's binary (``postgresql``, ``influxdb``,
``victoria-metrics``) on free loopback ports, with all its files in a temporary
directory, once per test session. The ``*_server`` fixtures give the server object:
``stop()`` shuts it down cleanly and ``start()`` brings it back on the same port over the
same data, so a test can take a server away under a running client. The ``*_url``
fixtures start the server again if an earlier test left it stopped.
"""

from __future__ import annotations

import abc
import contextlib
import itertools
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg
import pytest
from helpers import skip_or_fail
from influxdb_client.client.influxdb_client import InfluxDBClient
from psycopg import sql
from sqlalchemy import URL

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0


def free_ports(count: int) -> list[int]:
    """Loopback ports nobody listens on now; held together so that they differ."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]


class RunningServer(abc.ABC):
    """A server process over a fixed data directory and port that can be stopped and started again."""

    name = "server"
    stop_signal = signal.SIGTERM
    """The signal on which the server flushes its data and exits."""

    def __init__(
        self,
        directory: Path,
        command: list[str],
        url: str,
        user: pwd.struct_passwd | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.directory = directory
        self.url = url
        self._command = command
        self._user = user
        self._env = env
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        """The server's output over all its starts."""
        return self.directory / "server.log"

    def start(self) -> None:
        """Start the server unless it is running, and return once it answers."""
        if self._process is not None and self._process.poll() is None:
            return
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                self._command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
                env=self._env,
                **_as_user(self._user),
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.ready():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} did not start; its log {self.log} ends:\n{self._log_tail()}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Shut the server down cleanly and wait until it has exited; nothing if it is not running."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(self.stop_signal)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise RuntimeError(f"{self.name} did not stop within {STOP_TIMEOUT_S} s and was killed") from None

    def kill(self) -> None:
        """Kill the server as a power cut or the OOM killer would: no chance to finish anything."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    @abc.abstractmethod
    def ready(self) -> bool:
        """Whether the server answers requests."""

    def _log_tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])


def _as_user(user: pwd.struct_passwd | None) -> dict[str, Any]:
    """Popen arguments that run a process as ``user`` (only root can), without root's groups."""
    if user is None:
        return {}
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


class PostgresServer(RunningServer):
    """A PostgreSQL cluster of its own; the superuser ``dosis`` signs in with a password (SCRAM).

    ``url`` is its maintenance database ``postgres``; tests get a database of their own
    from ``create_database``. Nothing is synced to disk (``fsync``, ``full_page_writes``
    off), which only a crash of the machine could notice: a stopped or killed server keeps
    every committed row, since commits still wait for the kernel to have the WAL. The
    server's time zone is America/St_Johns (UTC−3:30 or −2:30), so that code that assumes
    the database hands back UTC fails here rather than on a clinic's server.
    """

    name = "PostgreSQL"
    stop_signal = signal.SIGINT  # "fast" shutdown: SIGTERM would wait for every client a test left connected
    user_name = "dosis"
    _databases = itertools.count(1)

    def __init__(self, bindir: Path, directory: Path, user: pwd.struct_passwd | None) -> None:
        (self.port,) = free_ports(1)
        self.password = secrets.token_urlsafe(18)
        data = directory / "data"
        password_file = directory / "password"
        password_file.write_text(self.password)
        if user is not None:
            os.chown(password_file, user.pw_uid, user.pw_gid)
        initdb = [
            str(bindir / "initdb"),
            *("-D", str(data), "-U", self.user_name, f"--pwfile={password_file}", "--auth=scram-sha-256"),
            *("--encoding=UTF8", "--no-locale", "--no-sync", "--no-instructions"),
        ]
        done = subprocess.run(initdb, cwd=directory, capture_output=True, text=True, check=False, **_as_user(user))
        password_file.unlink()
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{done.stdout}{done.stderr}")
        command = [
            str(bindir / "postgres"),
            *("-D", str(data), "-h", "127.0.0.1", "-p", str(self.port), "-k", str(directory)),
            *("-c", "fsync=off", "-c", "full_page_writes=off"),
            *("-c", "timezone=America/St_Johns"),
        ]
        super().__init__(directory, command, self.database_url("postgres"), user)

    def database_url(self, database: str) -> str:
        """SQLAlchemy URL of one database on this server, for psycopg 3."""
        url = URL.create("postgresql+psycopg", self.user_name, self.password, "127.0.0.1", self.port, database)
        return url.render_as_string(hide_password=False)

    def _connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=self.user_name,
            password=self.password,
            dbname="postgres",
            autocommit=True,
            connect_timeout=2,
        )

    def ready(self) -> bool:
        try:
            with self._connect():
                return True
        except psycopg.OperationalError:
            return False

    def create_database(self) -> str:
        """A new empty database; its name."""
        name = f"test_{next(self._databases)}"
        with self._connect() as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return name

    def drop_database(self, name: str) -> None:
        """Drop a database, closing connections a test left open to it."""
        with self._connect() as connection:
            connection.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


class InfluxDB1Server(RunningServer):
    """InfluxDB 1.x with its HTTP API on loopback, every other listener and phoning home off.

    It serves the v1 ``/write`` and ``/query`` (InfluxQL) endpoints. 1.6 has no
    ``/api/v2/write`` (that came with 1.8), so influxdb-client's WriteApi gets 404 here.
    """

    name = "InfluxDB"
    _databases = itertools.count(1)

    def __init__(self, binary: str, directory: Path) -> None:
        http_port, rpc_port = free_ports(2)
        config = directory / "influxdb.conf"
        config.write_text(
            _toml(
                {
                    "reporting-disabled": True,
                    # The RPC service for backup and restore; influxd always opens it.
                    "bind-address": f"127.0.0.1:{rpc_port}",
                    "meta": {"dir": str(directory / "meta")},
                    "data": {
                        "dir": str(directory / "data"),
                        "wal-dir": str(directory / "wal"),
                        "query-log-enabled": False,
                    },
                    "monitor": {"store-enabled": False},
                    "http": {"bind-address": f"127.0.0.1:{http_port}", "log-enabled": False},
                    "continuous_queries": {"enabled": False},
                    "subscriber": {"enabled": False},
                }
            )
            + "".join(
                f"[[{listener}]]\n  enabled = false\n" for listener in ("graphite", "collectd", "opentsdb", "udp")
            )
        )
        super().__init__(directory, [binary, "run", "-config", str(config)], f"http://127.0.0.1:{http_port}")

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/ping", timeout=2).status_code == 204
        except httpx.TransportError:
            return False

    def create_database(self) -> str:
        """A new empty database; its name."""
        name = f"test_{next(self._databases)}"
        response = httpx.post(f"{self.url}/query", data={"q": f'CREATE DATABASE "{name}"'}, timeout=10)
        response.raise_for_status()
        if "error" in (result := response.json()["results"][0]):
            raise RuntimeError(f"CREATE DATABASE {name}: {result['error']}")
        return name


def _toml(config: dict[str, Any]) -> str:
    """Top-level keys, then one table per dict; JSON strings, numbers and booleans are TOML too."""
    keys = [f"{k} = {json.dumps(v)}" for k, v in config.items() if not isinstance(v, dict)]
    tables = [
        f"[{name}]\n" + "".join(f"  {k} = {json.dumps(v)}\n" for k, v in table.items())
        for name, table in config.items()
        if isinstance(table, dict)
    ]
    return "\n".join(keys) + "\n" + "".join(tables)


class VictoriaMetricsServer(RunningServer):
    """VictoriaMetrics single-node: takes InfluxDB line protocol on ``/write`` and ``/api/v2/write``.

    A line ``m,tag=v f1=1,f2=2 t`` becomes the series ``m_f1{tag="v"}`` and
    ``m_f2{tag="v"}``; the v2 ``bucket`` adds no label, the v1 ``?db=`` adds ``db``.
    Only numbers are kept (a string field is stored as 0), and in milliseconds: nanosecond
    times are cut down (not rounded) to the millisecond. Two flags make it hold what an
    InfluxDB would: a retention of 100 years (the default, one month, silently drops older
    samples such as replayed sessions), and deduplication per millisecond, so that a batch
    written twice is stored once, as InfluxDB keeps one point per series and time.
    """

    name = "VictoriaMetrics"

    def __init__(self, binary: str, directory: Path) -> None:
        (port,) = free_ports(1)
        command = [
            binary,
            f"-storageDataPath={directory / 'data'}",
            f"-httpListenAddr=127.0.0.1:{port}",
            "-retentionPeriod=100y",
            "-dedup.minScrapeInterval=1ms",
            "-loggerLevel=WARN",
        ]
        super().__init__(directory, command, f"http://127.0.0.1:{port}")

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health", timeout=2).text == "OK"
        except httpx.TransportError:
            return False

    def export(self, selector: str) -> list[dict[str, Any]]:
        """Every stored sample of the series ``selector`` matches (``{metric, values, timestamps}`` each).

        Written samples become searchable only when VictoriaMetrics flushes its buffers (about
        every second), so this flushes first.
        """
        httpx.get(f"{self.url}/internal/force_flush", timeout=10).raise_for_status()
        response = httpx.post(f"{self.url}/api/v1/export", data={"match[]": selector}, timeout=10)
        response.raise_for_status()
        series = [json.loads(line) for line in response.text.splitlines()]
        return sorted(series, key=lambda s: sorted(s["metric"].items()))


_Server = TypeVar("_Server", bound=RunningServer)


@contextlib.contextmanager
def _serving(server: _Server) -> Iterator[_Server]:
    try:
        server.start()
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def _directory(kind: str, owner: pwd.struct_passwd | None = None) -> Iterator[Path]:
    # Not pytest's tmp_path: its /tmp/pytest-of-root is closed to the user PostgreSQL runs as.
    directory = Path(tempfile.mkdtemp(prefix=f"dosis-{kind}-"))
    try:
        if owner is not None:
            os.chown(directory, owner.pw_uid, owner.pw_gid)
        yield directory
    finally:
        shutil.rmtree(directory)


def _postgres_bindir() -> Path | None:
    candidates = []
    if pg_config := shutil.which("pg_config"):
        done = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(Path(done.stdout.strip()))
    # Debian keeps the server binaries off PATH, one directory per major version.
    debian = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(debian, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True)
    return next((d for d in candidates if (d / "initdb").is_file() and (d / "postgres").is_file()), None)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bindir = _postgres_bindir()
    if bindir is None:
        skip_or_fail("PostgreSQL's initdb and postgres are not installed (Debian package postgresql)")
    user = None
    if os.geteuid() == 0:
        # PostgreSQL refuses to run as root; the Debian package creates this user.
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            skip_or_fail("running as root with no 'postgres' user to run PostgreSQL as")
    with _directory("postgres", user) as directory, _serving(PostgresServer(bindir, directory, user)) as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """SQLAlchemy URL of a new empty database, dropped after the test."""
    postgres_server.start()
    name = postgres_server.create_database()
    yield postgres_server.database_url(name)
    postgres_server.start()
    postgres_server.drop_database(name)


@pytest.fixture(scope="session")
def influxdb1_server() -> Iterator[InfluxDB1Server]:
    binary = shutil.which("influxd")
    if binary is None:
        skip_or_fail("influxd is not installed (Debian package influxdb)")
    version = subprocess.run([binary, "version"], capture_output=True, text=True, check=False).stdout
    if not version.startswith("InfluxDB v1."):
        skip_or_fail(f"influxd is not InfluxDB 1.x but {version.strip()!r}")
    with _directory("influxdb") as directory, _serving(InfluxDB1Server(binary, directory)) as server:
        yield server


@pytest.fixture
def influxdb1_url(influxdb1_server: InfluxDB1Server) -> str:
    """Base URL of the running InfluxDB 1.x (``/write``, ``/query``, ``/ping``)."""
    influxdb1_server.start()
    return influxdb1_server.url


@pytest.fixture
def influxdb1_database(influxdb1_server: InfluxDB1Server) -> str:
    """Name of a new empty database on the InfluxDB at ``influxdb1_url``."""
    influxdb1_server.start()
    return influxdb1_server.create_database()


@pytest.fixture(scope="session")
def victoriametrics_server() -> Iterator[VictoriaMetricsServer]:
    binary = shutil.which("victoria-metrics")
    if binary is None:
        skip_or_fail("victoria-metrics is not installed (Debian package victoria-metrics)")
    with _directory("victoriametrics") as directory, _serving(VictoriaMetricsServer(binary, directory)) as server:
        yield server


@pytest.fixture
def victoriametrics_url(victoriametrics_server: VictoriaMetricsServer) -> str:
    """Base URL of the running VictoriaMetrics; tests share it, so each writes series of its own."""
    victoriametrics_server.start()
    return victoriametrics_server.url


@dataclass(frozen=True)
class InfluxDB2Bucket:
    """A bucket on an InfluxDB 2.x, with what a client needs to reach it."""

    url: str
    token: str
    org: str
    bucket: str
    """Also the database InfluxQL on ``/query`` reads it as (its automatic DBRP mapping)."""


@pytest.fixture
def influxdb2_bucket() -> Iterator[InfluxDB2Bucket]:
    """A new empty bucket on the InfluxDB 2 at ``INFLUXDB_URL``, deleted after the test.

    ``INFLUXDB_TOKEN`` needs the rights to create and delete buckets in ``INFLUXDB_ORG``
    (default ``dosis``), e.g. the operator token of ``influxd``'s setup. No InfluxDB 2 can be
    installed here (Debian packages 1.x only), so without these variables the test skips, with
    CI=true too.
    """
    url, token = os.environ.get("INFLUXDB_URL"), os.environ.get("INFLUXDB_TOKEN")
    if not url or not token:
        pytest.skip("no InfluxDB 2: set INFLUXDB_URL and INFLUXDB_TOKEN (and INFLUXDB_ORG, default dosis) to test it")
    org = os.environ.get("INFLUXDB_ORG", "dosis")
    with InfluxDBClient(url=url, token=token, org=org) as client:
        buckets = client.buckets_api()
        # No retention rules: the bucket keeps points of any age.
        bucket = buckets.create_bucket(bucket_name=f"dosis-test-{secrets.token_hex(6)}", org=org)
        try:
            yield InfluxDB2Bucket(url, token, org, bucket.name)
        finally:
            buckets.delete_bucket(bucket)


DOSIS_COMMAND = str(Path(sys.executable).with_name("dosis"))
"""The console script of the Dosis this test run imports."""


class DosisServer(RunningServer):
    """``dosis serve`` over a data folder; ``env`` adds settings (``DOSIS_*``) to this process's environment."""

    name = "dosis serve"

    def __init__(self, directory: Path, env: dict[str, str]) -> None:
        (port,) = free_ports(1)
        url = f"http://127.0.0.1:{port}"
        env = os.environ | {"DOSIS_DATA_DIR": str(directory)} | env
        super().__init__(directory, [DOSIS_COMMAND, "serve", "--port", str(port)], url, env=env)

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False
