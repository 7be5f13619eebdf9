"""The client tests' fixture: a fresh local server per test (fake_server.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fake_server import LocalServer


@pytest.fixture()
def server() -> Iterator[LocalServer]:
    """A fresh local server per test."""
    local = LocalServer()
    yield local
    local.stop()
