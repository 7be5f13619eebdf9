"""NUTGRAF_MODEL=auto: the production model where it can be had, else the bundled one."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from nutgraf.models import auto
from nutgraf.settings import Settings, env_for_children

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture()
def hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hugging Face cache of this test's own, and no Hub to ask."""
    cache = tmp_path / "hf-hub"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return cache


def cache_distilbart(cache: Path, files: tuple[str, ...]) -> None:
    """Lay out `files` of distilbart in `cache` the way huggingface_hub downloads them."""
    repo = cache / "models--sshleifer--distilbart-cnn-12-6"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    for name in files:
        (snapshot / name).write_text("{}")


def test_cached_weights_choose_distilbart(hub_cache: Path) -> None:
    cache_distilbart(hub_cache, ("config.json", "vocab.json", "merges.txt", "pytorch_model.bin"))
    assert auto.choose() == auto.AutoChoice("distilbart-cnn-12-6", "distilbart cached")
    settled = auto.settle(Settings(model="auto"))
    assert settled.model == "distilbart-cnn-12-6"
    assert settled.models == ["distilbart-cnn-12-6"]
    assert settled.model_auto == "distilbart cached"


def test_a_config_without_weights_is_not_cached(hub_cache: Path) -> None:
    cache_distilbart(hub_cache, ("config.json", "vocab.json", "merges.txt"))
    assert auto.choose() == auto.AutoChoice("smollm2-135m", "offline: bundled model")


def test_offline_and_uncached_choose_the_bundled_model(hub_cache: Path) -> None:
    settled = auto.settle(Settings(model="auto", models=["auto", "t5-small"]))
    assert settled.model == "smollm2-135m"
    assert settled.models == ["smollm2-135m", "t5-small"]
    assert settled.model_auto == "offline: bundled model"


def test_the_choice_travels_to_child_processes(hub_cache: Path) -> None:
    env = env_for_children(auto.settle(Settings(model="auto")))
    assert env["NUTGRAF_MODEL"] == "smollm2-135m"
    assert env["NUTGRAF_MODEL_AUTO"] == "offline: bundled model"


def test_an_explicit_model_is_left_alone(hub_cache: Path) -> None:
    cache_distilbart(hub_cache, ("config.json", "vocab.json", "merges.txt", "pytorch_model.bin"))
    for name in ("sshleifer/distilbart-cnn-12-6", "smollm2-135m", "t5-small"):
        settings = Settings(model=name)
        assert auto.settle(settings) is settings
        assert settings.model_auto is None


class _Hub(http.server.BaseHTTPRequestHandler):
    """Answers a file metadata request as the Hub does (enough of it)."""

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header("ETag", '"abc"')
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("Content-Length", "2")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture()
def local_hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A Hub stand-in on loopback, named by HF_ENDPOINT."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    yield endpoint
    server.shutdown()
    server.server_close()


def test_a_reachable_hub_chooses_distilbart(
    hub_cache: Path, local_hub: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE")
    # huggingface_hub read HF_HUB_OFFLINE at its import, under another test's setting.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    assert auto.choose() == auto.AutoChoice("distilbart-cnn-12-6", "Hub reachable")


def test_hf_hub_offline_is_respected(hub_cache: Path, local_hub: str) -> None:
    # The Hub would answer, but HF_HUB_OFFLINE=1 says not to ask it.
    assert auto.choose() == auto.AutoChoice("smollm2-135m", "offline: bundled model")


def test_a_hub_that_never_answers_counts_as_offline(
    hub_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)

    # Listens, never answers: the check gives up at its own bound.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    try:
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{silent.getsockname()[1]}")
        assert not auto.hub_answers(auto.PRODUCTION, timeout_s=0.5)
    finally:
        silent.close()
