"""docker-compose.yml, the Dockerfile and deploy/, checked against the settings Dosis reads.

No Docker engine runs here, so no container starts. Instead the compose file is read as
Compose would read it, Dosis's ``Settings`` are built from the environment and the secrets
files its container would get (made by deploy/make-secrets.sh), and each setting is compared
with the service it points at. The parts that run outside Docker run for real: the secrets
script, PostgreSQL's first-start SQL on a real server, and the health check against a
serving Dosis.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import time
import tomllib
import typing
from collections.abc import Iterator, Mapping
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import psycopg
import pytest
import yaml
from helpers import skip_or_fail
from pydantic import SecretStr
from servers import PostgresServer, _directory, _postgres_bindir, _serving
from sqlalchemy import make_url, text

from monitor.settings import Settings
from monitor.store import Store

ROOT = Path(__file__).resolve().parent.parent
MAKE_SECRETS = ROOT / "deploy" / "make-secrets.sh"
HEALTHCHECK = ROOT / "deploy" / "healthcheck.py"
SECRETS_IN_CONTAINER = "/run/secrets/"
TIMEZONE = "Europe/Copenhagen"
"""What an administrator sets DOSIS_TIMEZONE to, for the compose file's interpolation."""
# The images' defaults where the compose file does not set them.
POSTGRES_PORT = 5432
POSTGRES_DATA = "/var/lib/postgresql/data"
INFLUXDB_PORT = 8086
INFLUXDB_DATA = "/var/lib/influxdb2"

SECRET_FIELDS = {name for name, f in Settings.model_fields.items() if SecretStr in typing.get_args(f.annotation)}


# --- reading the files as Docker does ---------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def interpolate(value: str, variables: Mapping[str, str]) -> str:
    """Compose's ``${NAME}``, ``${NAME:-default}``, ``${NAME:?error}`` and ``$$``."""

    def one(match: re.Match[str]) -> str:
        if match[0] == "$$":
            return "$"
        name, operator, argument = match["name"], match["operator"], match["argument"]
        if variables.get(name):
            return variables[name]
        if operator == ":?":
            raise ValueError(f"{name}: {argument}")
        return argument or ""

    return re.sub(r"\$\$|\$\{(?P<name>\w+)(?:(?P<operator>:[-?])(?P<argument>[^}]*))?\}", one, value)


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    pairs = dict(item.split("=", 1) for item in env) if isinstance(env, list) else env
    return {name: interpolate(str(value), {"DOSIS_TIMEZONE": TIMEZONE}) for name, value in pairs.items()}


def mounted_secrets(service: Mapping[str, Any]) -> dict[str, str]:
    """File name in /run/secrets -> the top-level secret it comes from."""
    mounts = [{"source": s} if isinstance(s, str) else s for s in service.get("secrets", [])]
    return {m.get("target", m["source"]): m["source"] for m in mounts}


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions, continuation lines joined and comments dropped."""
    found, current = [], ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        keyword, _, arguments = (current + stripped).partition(" ")
        found.append((keyword.upper(), arguments.strip()))
        current = ""
    return found


def dockerfile(keyword: str) -> list[str]:
    return [arguments for k, arguments in instructions() if k == keyword]


def dockerfile_env() -> dict[str, str]:
    return dict(item.split("=", 1) for arguments in dockerfile("ENV") for item in shlex.split(arguments))


def copies() -> list[tuple[list[str], str]]:
    """(sources, destination) of each COPY, flags left out."""
    parts = [[p for p in shlex.split(arguments) if not p.startswith("--")] for arguments in dockerfile("COPY")]
    return [(p[:-1], p[-1].rstrip("/") or "/") for p in parts]


def dosis_environment(compose: Mapping[str, Any]) -> dict[str, str]:
    """The Dosis container's environment: the image's ENV overlaid by the compose file's."""
    return dockerfile_env() | environment(compose["services"]["dosis"])


@pytest.fixture(scope="module")
def host_secrets(compose: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Top-level secret name -> the value deploy/make-secrets.sh wrote to its file."""
    folder = tmp_path_factory.mktemp("deploy") / "secrets"
    env = os.environ | {"DOSIS_SECRETS_UID": str(os.getuid())}
    subprocess.run([str(MAKE_SECRETS), str(folder)], env=env, check=True, capture_output=True)
    return {name: (folder / Path(s["file"]).name).read_text() for name, s in compose["secrets"].items()}


def secret_value(compose: Mapping[str, Any], service: str, path: str, host_secrets: Mapping[str, str]) -> str:
    """The value a container of ``service`` reads at ``path``."""
    assert path.startswith(SECRETS_IN_CONTAINER), f"{service}: {path} is not a mounted secret"
    mounts = mounted_secrets(compose["services"][service])
    target = path.removeprefix(SECRETS_IN_CONTAINER)
    assert target in mounts, f"{service} reads {path}, but no secret is mounted there"
    return host_secrets[mounts[target]]


def container_settings(
    compose: Mapping[str, Any], host_secrets: Mapping[str, str], folder: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """Settings as `dosis serve` builds them in its container: its environment and /run/secrets."""
    for name in list(os.environ):
        if name.upper().startswith("DOSIS_"):
            monkeypatch.delenv(name)
    for name, value in dosis_environment(compose).items():
        monkeypatch.setenv(name, value)
    folder.mkdir()
    for target, source in mounted_secrets(compose["services"]["dosis"]).items():
        (folder / target).write_text(host_secrets[source])
    # pydantic-settings' init options, which mypy does not see in the signature it derives from the fields.
    sources: dict[str, Any] = {"_secrets_dir": folder, "_env_file": None}
    return Settings(**sources)


@pytest.fixture
def settings(
    compose: dict[str, Any], host_secrets: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    return container_settings(compose, host_secrets, tmp_path / "run-secrets", monkeypatch)


# --- services, settings and secrets --------------------------------------------------------------


def test_three_services_on_pinned_database_images(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"dosis", "postgres", "influxdb"}
    assert re.fullmatch(r"postgres:16([.-].*)?", services["postgres"]["image"])
    assert re.fullmatch(r"influxdb:2\.7([.-].*)?", services["influxdb"]["image"])
    build = services["dosis"]["build"]
    assert build in (".", {"context": "."}), "Dosis is built from the Dockerfile at the project root"


def test_every_dosis_variable_is_a_setting_that_takes_its_value(compose: dict[str, Any], settings: Settings) -> None:
    env = {k: v for k, v in dosis_environment(compose).items() if k.startswith("DOSIS_")}
    fields = {f"DOSIS_{name.upper()}": name for name in Settings.model_fields}
    assert set(env) <= set(fields), f"not settings: {sorted(set(env) - set(fields))}"
    for variable, value in env.items():
        assert str(getattr(settings, fields[variable])) == value, variable
    # A secret in the environment would show in `docker inspect`.
    assert not {fields[v] for v in env} & SECRET_FIELDS
    assert settings.tzinfo() == ZoneInfo(TIMEZONE)


def test_the_only_value_left_to_the_administrator_is_the_required_timezone() -> None:
    compose_text = (ROOT / "docker-compose.yml").read_text()
    assert re.findall(r"\$\{(\w+)(:[-?])?", compose_text) == [("DOSIS_TIMEZONE", ":?")]
    with pytest.raises(ValueError, match="DOSIS_TIMEZONE"):
        interpolate(yaml.safe_load(compose_text)["services"]["dosis"]["environment"]["DOSIS_TIMEZONE"], {})


def test_database_url_names_the_postgres_service_and_the_role_its_setup_creates(
    compose: dict[str, Any], settings: Settings, host_secrets: dict[str, str]
) -> None:
    assert settings.database_url is not None
    url = make_url(settings.database_url)
    assert url.drivername == "postgresql+psycopg"
    assert url.password is None, "the password comes from the dosis_database_password secret"
    postgres = compose["services"]["postgres"]
    assert url.host == "postgres"
    assert url.port == postgres_port(compose)
    setup_sql = "\n".join(p.read_text() for p in sorted(initdb_folder(compose).glob("*.sql")))
    assert re.search(rf"CREATE ROLE {url.username} LOGIN PASSWORD :'(\w+)'", setup_sql)
    assert re.search(rf"CREATE DATABASE {url.database} OWNER {url.username};", setup_sql)
    password = secret_value(compose, "postgres", environment(postgres)["POSTGRES_PASSWORD_FILE"], host_secrets)
    assert make_url(settings.resolved_database_url()).password == password


def initdb_folder(compose: Mapping[str, Any]) -> Path:
    """The host folder the postgres service mounts as its first-start scripts."""
    mounts: list[list[str]] = [v.split(":") for v in compose["services"]["postgres"]["volumes"]]
    (source,) = [source for source, target, *_ in mounts if target == "/docker-entrypoint-initdb.d"]
    return (ROOT / source).resolve()


def test_influx_settings_match_influxdb_setup(
    compose: dict[str, Any], settings: Settings, host_secrets: dict[str, str]
) -> None:
    influxdb = environment(compose["services"]["influxdb"])
    assert settings.influx_url is not None
    url = urlsplit(settings.influx_url)
    assert (url.scheme, url.hostname, url.port) == ("http", "influxdb", influxdb_port(compose))
    assert (settings.influx_api, settings.influx_server) == ("v2", "influxdb")
    assert influxdb["DOCKER_INFLUXDB_INIT_MODE"] == "setup"
    assert settings.influx_org == influxdb["DOCKER_INFLUXDB_INIT_ORG"]
    # With no "/" in the bucket's name, InfluxQL's database of that name maps to it.
    assert settings.influx_database == influxdb["DOCKER_INFLUXDB_INIT_BUCKET"]
    assert "/" not in settings.influx_database
    assert settings.influx_token is not None
    token_file = influxdb["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN_FILE"]
    assert settings.influx_token.get_secret_value() == secret_value(compose, "influxdb", token_file, host_secrets)
    for required in ("USERNAME", "PASSWORD"):
        assert {f"DOCKER_INFLUXDB_INIT_{required}", f"DOCKER_INFLUXDB_INIT_{required}_FILE"} & set(influxdb)


def influxdb_port(compose: Mapping[str, Any]) -> int:
    bind = environment(compose["services"]["influxdb"]).get("INFLUXD_HTTP_BIND_ADDRESS", f":{INFLUXDB_PORT}")
    return int(bind.rsplit(":", 1)[1])


def test_dosis_gets_exactly_the_secrets_its_settings_need(compose: dict[str, Any], settings: Settings) -> None:
    targets = set(mounted_secrets(compose["services"]["dosis"]))
    needed = {"influx_token"} if settings.influx_url else set()
    if settings.database_url and make_url(settings.database_url).get_backend_name() != "sqlite":
        needed.add("database_password")
    assert needed <= SECRET_FIELDS
    assert targets == {f"dosis_{field}" for field in needed}
    assert all(getattr(settings, field) is not None for field in needed)


def test_every_secret_is_a_file_from_the_secrets_script_and_every_file_variable_names_a_mounted_one(
    compose: dict[str, Any], host_secrets: dict[str, str]
) -> None:
    declared = compose["secrets"]
    assert {(ROOT / s["file"]).resolve().parent for s in declared.values()} == {ROOT / "deploy" / "secrets"}
    used = {source for s in compose["services"].values() for source in mounted_secrets(s).values()}
    assert used == set(declared) == set(host_secrets)
    for name, service in compose["services"].items():
        for variable, path in environment(service).items():
            if variable.endswith("_FILE"):
                secret_value(compose, name, path, host_secrets)


def test_no_secret_is_in_an_environment_variable(compose: dict[str, Any]) -> None:
    variables = dockerfile_env() | {v: x for s in compose["services"].values() for v, x in environment(s).items()}
    for variable, value in variables.items():
        if re.search("PASSWORD|TOKEN|SECRET", variable):
            assert variable.endswith("_FILE"), variable
            assert value.startswith(SECRETS_IN_CONTAINER), variable


def test_health_checks_and_start_order(compose: dict[str, Any], settings: Settings) -> None:
    services = compose["services"]
    for name, service in services.items():
        assert service["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name
        assert service["restart"] in ("always", "unless-stopped"), name
    assert services["dosis"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "influxdb": {"condition": "service_healthy"},
    }
    # The image's own check, which asks the port the settings give.
    (healthcheck,) = dockerfile("HEALTHCHECK")
    assert services["dosis"]["healthcheck"]["test"] == ["CMD", *json.loads(healthcheck.split(" CMD ", 1)[1])]
    # The databases' checks ask the final servers, not those their images run during first setup.
    postgres = services["postgres"]["healthcheck"]["test"]
    assert "--host=127.0.0.1" in postgres
    assert f"--port={postgres_port(compose)}" in postgres
    assert services["influxdb"]["healthcheck"]["test"][-2:] == ["--host", f"http://127.0.0.1:{influxdb_port(compose)}"]


def postgres_port(compose: Mapping[str, Any]) -> int:
    return int(environment(compose["services"]["postgres"]).get("PGPORT", POSTGRES_PORT))


def test_only_dosis_is_published_on_loopback_at_the_port_it_listens_on(
    compose: dict[str, Any], settings: Settings
) -> None:
    services = compose["services"]
    assert [name for name, s in services.items() if s.get("ports")] == ["dosis"]
    (port,) = services["dosis"]["ports"]
    # Plain HTTP with health data, and Dosis believes forwarded headers (FORWARDED_ALLOW_IPS):
    # only a reverse proxy on this host, adding TLS, may reach it.
    assert port["host_ip"] == "127.0.0.1"
    assert int(port["target"]) == settings.port == int(dockerfile("EXPOSE")[0])
    assert settings.host == "0.0.0.0"
    assert "command" not in services["dosis"], "the image's `dosis serve` listens where the settings say"
    networks = compose["networks"]
    for database in ("postgres", "influxdb"):
        assert all(networks[n].get("internal") for n in services[database]["networks"]), database
        assert set(services[database]["networks"]) & set(services["dosis"]["networks"]), database
    # Nor may another container: the network with a way out is Dosis's alone.
    for network in services["dosis"]["networks"]:
        if not networks[network].get("internal"):
            assert [name for name, s in services.items() if network in s["networks"]] == ["dosis"]


def test_data_lives_in_declared_named_volumes(compose: dict[str, Any], settings: Settings) -> None:
    named = {}
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source, target, *_ = volume.split(":")
            if not source.startswith((".", "/")):
                named[source] = (name, target)
    assert set(named) == set(compose["volumes"])
    targets = set(named.values())
    assert {("dosis", str(settings.data_dir)), ("postgres", POSTGRES_DATA), ("influxdb", INFLUXDB_DATA)} <= targets


# --- the image ---------------------------------------------------------------------------------


def test_dockerfile_installs_the_project_and_serves_as_a_user() -> None:
    assert dockerfile("FROM") == ["python:3.11-slim"]
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {p.split(".")[0].rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    copied = {source: destination for sources, destination in copies() for source in sources}
    (project,) = {d for sources, d in copies() if "pyproject.toml" in sources}
    assert pyproject["project"]["readme"] in copied
    assert {p: copied.get(p) for p in packages} == {p: f"{project}/{p}" for p in packages}
    installs = [shlex.split(run) for run in dockerfile("RUN") if "pip install" in run]
    assert any(project in words and not {"-e", "--editable"} & set(words) for words in installs)
    (user,) = dockerfile("USER")
    uid = user.split(":")[0]
    assert uid not in ("root", "0")
    assert re.search(rf"useradd .*--uid {uid}\b", " ".join(dockerfile("RUN")))
    assert json.loads(dockerfile("CMD")[0]) == ["dosis", "serve"]
    (healthcheck,) = dockerfile("HEALTHCHECK")
    command = json.loads(healthcheck.split(" CMD ", 1)[1])[0]
    assert copied.get(str(HEALTHCHECK.relative_to(ROOT))) == f"/usr/local/bin/{command}"


def dockerignore_regex(pattern: str) -> re.Pattern[str]:
    parts = re.split(r"(\*\*/|\*\*|\*|\?|\[[^]]*\])", pattern)
    wildcards = {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}
    return re.compile("".join(wildcards.get(p, p if p.startswith("[") else re.escape(p)) for p in parts))


def dockerignored(path: str) -> bool:
    """Whether .dockerignore keeps ``path`` out of the build: the last pattern matching it or a parent wins."""
    ignored = False
    prefixes = ["/".join(path.split("/")[:i]) for i in range(1, path.count("/") + 2)]
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            regex = dockerignore_regex(line.removeprefix("!").strip("/"))
            if any(regex.fullmatch(p) for p in prefixes):
                ignored = not line.startswith("!")
    return ignored


def test_the_build_gets_what_the_dockerfile_copies_and_no_secrets() -> None:
    for sources, _ in copies():
        for source in sources:
            path = ROOT / source
            files = (
                [f for f in path.rglob("*") if f.is_file() and "__pycache__" not in f.parts]
                if path.is_dir()
                else [path]
            )
            assert files, source
            assert not [f for f in files if dockerignored(str(f.relative_to(ROOT)))], source
    for secret in ("deploy/secrets/dosis_database_password", ".env", ".git/config", ".venv/bin/python"):
        assert dockerignored(secret), secret
    assert dockerignored("monitor/__pycache__/settings.cpython-311.pyc")


# --- what runs outside Docker ------------------------------------------------------------------


def test_make_secrets_writes_private_random_files_once(tmp_path: Path) -> None:
    folder = tmp_path / "secrets"
    env = os.environ | {"DOSIS_SECRETS_UID": str(os.getuid())}
    first = subprocess.run([str(MAKE_SECRETS), str(folder)], env=env, capture_output=True, text=True, check=True)
    values = {f.name: f.read_text() for f in folder.iterdir()}
    assert folder.stat().st_mode & 0o777 == 0o700
    assert {f.stat().st_mode & 0o777 for f in folder.iterdir()} == {0o400}
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", v) for v in values.values())
    assert len(set(values.values())) == len(values)
    second = subprocess.run([str(MAKE_SECRETS), str(folder)], env=env, capture_output=True, text=True, check=True)
    assert {f.name: f.read_text() for f in folder.iterdir()} == values
    assert first.stdout.count("created") == second.stdout.count("kept") == len(values)


def test_make_secrets_gives_the_files_dosis_reads_to_the_uid_of_its_image(
    tmp_path: Path, compose: dict[str, Any]
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DOSIS_SECRETS_UID", "SUDO_UID")}
    done = subprocess.run([str(MAKE_SECRETS), str(tmp_path / "s")], env=env, capture_output=True, text=True)
    uid = int(dockerfile("USER")[0].split(":")[0])
    if os.getuid() != 0:
        assert done.returncode != 0
        assert f"uid {uid}" in done.stderr
        return
    assert done.returncode == 0, done.stderr
    owners = {f.name: f.stat().st_uid for f in (tmp_path / "s").iterdir()}
    read_by_dosis = set(mounted_secrets(compose["services"]["dosis"]).values())
    files = {name: Path(s["file"]).name for name, s in compose["secrets"].items()}
    assert {name for name, file in files.items() if owners[file] == uid} == read_by_dosis
    assert {owners[files[name]] for name in set(files) - read_by_dosis} == {0}


class ImagePostgres(PostgresServer):
    """A cluster whose superuser is ``postgres``, as in the postgres image."""

    user_name = "postgres"


@pytest.fixture
def image_postgres() -> Iterator[ImagePostgres]:
    bindir = _postgres_bindir()
    if bindir is None:
        skip_or_fail("PostgreSQL's initdb and postgres are not installed (Debian package postgresql)")
    user = None
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            skip_or_fail("running as root with no 'postgres' user to run PostgreSQL as")
    with _directory("postgres-image", user) as directory, _serving(ImagePostgres(bindir, directory, user)) as server:
        yield server


def test_postgres_first_start_gives_dosis_a_role_that_migrates_but_is_no_superuser(
    compose: dict[str, Any],
    host_secrets: dict[str, str],
    image_postgres: ImagePostgres,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    postgres = environment(compose["services"]["postgres"])
    # The image reads POSTGRES_PASSWORD_FILE into POSTGRES_PASSWORD, then runs each script as below.
    env = os.environ | {
        "POSTGRES_PASSWORD": secret_value(compose, "postgres", postgres["POSTGRES_PASSWORD_FILE"], host_secrets),
        "PGPASSWORD": image_postgres.password,
    }
    psql = shutil.which("psql", path=str(_postgres_bindir())) or shutil.which("psql")
    assert psql is not None
    for script in sorted(initdb_folder(compose).glob("*.sql")):
        connection = ["--host=127.0.0.1", f"--port={image_postgres.port}", "--username=postgres", "--dbname=postgres"]
        command = [psql, "-v", "ON_ERROR_STOP=1", "--no-psqlrc", "--no-password", *connection, "-f", str(script)]
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    settings = container_settings(compose, host_secrets, tmp_path / "run-secrets", monkeypatch)
    url = make_url(settings.resolved_database_url()).set(host="127.0.0.1", port=image_postgres.port)
    store = Store(url.render_as_string(hide_password=False), tz=settings.tzinfo())
    try:
        with store.engine.connect() as db:
            role = db.execute(
                text(
                    "SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles r "
                    "WHERE rolname = current_user"
                )
            ).one()
            owners = set(db.scalars(text("SELECT tableowner FROM pg_tables WHERE schemaname = 'public'")))
            tables = set(db.scalars(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")))
    finally:
        store.close()
    assert tuple(role) == (False, False, False, False)
    assert owners == {url.username}
    assert {"alembic_version", "patient", "training_session"} <= tables
    # The superuser kept no password: from outside its container it cannot sign in.
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(
            host="127.0.0.1", port=image_postgres.port, user="postgres", password=image_postgres.password
        ).close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_healthcheck(port: int, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOSIS_")} | {"DOSIS_PORT": str(port)}
    return subprocess.run([sys.executable, str(HEALTHCHECK)], env=env, cwd=cwd, capture_output=True, text=True)


def test_healthcheck_passes_only_when_dosis_answers_healthz(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOSIS_")}
    env |= {"DOSIS_DATA_DIR": str(tmp_path), "DOSIS_PORT": str(port)}
    dosis = Path(sys.executable).parent / "dosis"
    server = subprocess.Popen(
        [str(dosis), "serve"], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 30
        while (result := run_healthcheck(port, tmp_path)).returncode != 0:
            assert server.poll() is None, server.communicate()[1]
            assert time.monotonic() < deadline, result.stderr
            time.sleep(0.2)
    finally:
        server.terminate()
        server.communicate(timeout=30)
    # Nothing listening now.
    refused = run_healthcheck(port, tmp_path)
    assert refused.returncode == 1
    assert f"http://127.0.0.1:{port}/healthz" in refused.stderr


def test_healthcheck_fails_on_an_answer_other_than_200(tmp_path: Path) -> None:
    # A real HTTP server with no /healthz: it answers 404.
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            result = run_healthcheck(server.server_address[1], tmp_path)
        finally:
            server.shutdown()
            thread.join()
    assert result.returncode == 1
    assert "404" in result.stderr
