"""The worker's pool choice: prefork on CPU, solo or threads on CUDA (no forked CUDA)."""

from __future__ import annotations

import pytest

from nutgraf.settings import Settings
from worker import main


@pytest.fixture(autouse=True)
def no_gpu_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see a machine without an NVIDIA driver unless they say otherwise."""
    monkeypatch.setattr(main, "_nvidia_driver_present", lambda: False)


@pytest.mark.parametrize(
    ("device", "concurrency", "pool"),
    [
        ("cpu", 1, "prefork"),
        ("cpu", 4, "prefork"),
        ("auto", 2, "prefork"),
        ("cuda", 1, "solo"),
        ("cuda:1", 1, "solo"),
        ("cuda", 3, "threads"),
    ],
)
def test_auto_pool_follows_the_device(device: str, concurrency: int, pool: str) -> None:
    settings = Settings(device=device, worker_concurrency=concurrency)
    assert main.choose_pool(settings) == pool


def test_auto_device_with_an_nvidia_driver_avoids_prefork(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(main, "_nvidia_driver_present", lambda: True)
    assert main.choose_pool(Settings(device="auto")) == "solo"
    assert main.choose_pool(Settings(device="auto", worker_concurrency=2)) == "threads"
    # An explicit CPU device keeps prefork even on a GPU machine.
    assert main.choose_pool(Settings(device="cpu")) == "prefork"


def test_an_explicit_pool_wins() -> None:
    assert main.choose_pool(Settings(device="cuda", worker_pool="prefork")) == "prefork"
    assert main.choose_pool(Settings(device="cpu", worker_pool="solo")) == "solo"
