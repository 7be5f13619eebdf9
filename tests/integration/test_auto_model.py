"""Plain `nutgraf serve` (no NUTGRAF_MODEL) offline serves the bundled model, and says why."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from helpers import STORY, answers_200, wait_for
from nutgraf.settings import Settings, env_for_children
from nutgraf.store.server import free_port
from service import create_app

OFFLINE = "offline: bundled model"


def test_serve_without_a_model_chooses_the_bundled_one_offline(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUTGRAF_")}
    (tmp_path / "hf-hub").mkdir()
    env.update(
        # No Hub and an empty cache: what a machine without network has.
        HF_HUB_OFFLINE="1",
        HF_HUB_CACHE=str(tmp_path / "hf-hub"),
        NUTGRAF_DATA_DIR=str(tmp_path / "data"),
        NUTGRAF_PORT=str(port),
        NUTGRAF_API_WORKERS="1",
        NUTGRAF_LOG_FORMAT="text",
    )
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        serve = subprocess.Popen(
            [sys.executable, "-m", "nutgraf.cli", "serve"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(lambda: answers_200(f"{base}/readyz"), 300, "readyz 200", interval_s=0.5)
        ready = requests.get(f"{base}/readyz", timeout=5).json()
        assert ready["model"] == "smollm2-135m" and ready["auto"] == OFFLINE

        listed = requests.get(f"{base}/v1/models", timeout=5).json()["models"]
        assert [m["name"] for m in listed] == ["smollm2-135m"]
        assert listed[0]["default"] and listed[0]["bundled"] and listed[0]["auto"] == OFFLINE

        response = requests.post(
            f"{base}/v1/summaries",
            json={"text": STORY + " (auto)", "length": "headline"},
            headers={"Prefer": "wait=120"},
            timeout=150,
        )
        job = response.json()

        def ended() -> dict[str, object] | None:
            body = requests.get(f"{base}/v1/summaries/{job['id']}", timeout=5).json()
            return body if body["status"] in ("succeeded", "failed") else None

        if job["status"] not in ("succeeded", "failed"):
            job = wait_for(ended, 240, "the job to finish")
        # The job names the real model, not `auto`.
        assert job["status"] == "succeeded", log_path.read_text()[-3000:]
        assert job["model"]["name"] == "smollm2-135m"

        # Decided once, in `nutgraf serve`: its children inherit the choice.
        text = log_path.read_text()
        assert text.count("NUTGRAF_MODEL=auto chose smollm2-135m (offline: bundled model)") == 1
    finally:
        os.killpg(serve.pid, signal.SIGINT)
        try:
            serve.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(serve.pid, signal.SIGKILL)
            serve.wait()


def test_a_worker_and_an_api_started_alone_agree(
    settings: Settings, own_redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`nutgraf worker` and the API, each deciding `auto` at its own start, on one machine."""
    (tmp_path / "hf-hub").mkdir()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-hub"))
    alone = settings.model_copy(
        update={
            # A database of its own: the session's worker stays out.
            "redis_url": own_redis_url,
            "model": "auto",
            "models": ["auto"],
        }
    )
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "nutgraf.cli", "worker"],
            env=env_for_children(alone),  # NUTGRAF_MODEL=auto, and the HF_* above
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        client = create_app(alone).test_client()
        ready = wait_for(
            lambda: client.get("/readyz").status_code == 200, 300, "readyz 200", interval_s=0.5
        )
        assert ready, log_path.read_text()[-3000:]
        body = client.get("/readyz").get_json()
        assert body["model"] == "smollm2-135m" and body["auto"] == OFFLINE
        (listed,) = client.get("/v1/models").get_json()["models"]
        assert listed["name"] == "smollm2-135m" and listed["auto"] == OFFLINE
        assert "NUTGRAF_MODEL=auto chose smollm2-135m (offline: bundled model)" in (
            log_path.read_text()
        )
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
