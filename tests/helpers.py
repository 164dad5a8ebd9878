"""Shared test helpers (imported by test modules; fixtures live in conftest.py)."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def skip_or_fail(reason: str) -> NoReturn:
    """Skip a test whose prerequisite is missing; in CI (CI=true) fail instead."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)
