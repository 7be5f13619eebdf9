"""bench/ is a folder of scripts, not a package: its tests import each script by path."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def load_script(name: str) -> ModuleType:
    """bench/<name>.py imported as module `name`."""
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def pair() -> ModuleType:
    """bench/precision_pair.py as a module."""
    return load_script("precision_pair")


@pytest.fixture(scope="module")
def capacity() -> ModuleType:
    """bench/capacity.py as a module."""
    return load_script("capacity")


@pytest.fixture(scope="module")
def retries() -> ModuleType:
    """bench/retries.py as a module."""
    return load_script("retries")
