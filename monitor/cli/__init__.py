"""The ``dosis`` command line; each module adds its commands to one typer app."""

from monitor.cli import devices, exporting, hubs, maintenance, serving, sessions, users
from monitor.cli.common import app

__all__ = ["app", "devices", "exporting", "hubs", "main", "maintenance", "serving", "sessions", "users"]


def main() -> None:
    app()
