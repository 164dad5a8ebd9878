"""The ``dosis`` command line; each module adds its commands to one typer app."""

from monitor.cli import devices, hubs, serving, sessions
from monitor.cli.common import app

__all__ = ["app", "devices", "hubs", "main", "serving", "sessions"]


def main() -> None:
    app()
