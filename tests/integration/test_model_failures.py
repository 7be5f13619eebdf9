"""A model that cannot be had fails its jobs readably and shows up in /readyz."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import WorkerProcess, poll_job, wait_for
from nutgraf.settings import Settings, env_for_children
from nutgraf.store import JobStore
from service import create_app


@pytest.fixture()
def broken_model(tmp_path: Path) -> Path:
    """A folder that looks like a model (config.json) but has no weights."""
    folder = tmp_path / "broken-model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "bart"}))
    return folder


def test_job_with_unloadable_model_fails_readably(
    settings: Settings, worker: WorkerProcess, broken_model: Path
) -> None:
    served = settings.model_copy(update={"models": [settings.model, str(broken_model)]})
    client = create_app(served).test_client()
    response = client.post(
        "/v1/summaries", json={"text": "A short story. It ends.", "model": str(broken_model)}
    )
    assert response.status_code == 202
    job = poll_job(client, response.get_json()["id"], timeout_s=120)
    assert job["status"] == "failed"
    assert job["error"]["code"] == "model_unavailable"
    assert str(broken_model) in job["error"]["message"]
    assert job["summary"] is None and job["completed_at"]


def test_readyz_says_why_when_the_model_cannot_load(
    settings: Settings, broken_model: Path, tmp_path: Path
) -> None:
    # Its own Redis database, so the session's healthy worker does not answer for it.
    isolated = settings.model_copy(
        update={"redis_url": settings.redis_url.replace("/0", "/5"), "model": str(broken_model)}
    )
    client = create_app(isolated).test_client()
    assert client.get("/readyz").get_json()["error"]["message"] == "no worker is running"
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "nutgraf.cli", "worker"],
            env=env_for_children(isolated),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        store = JobStore.from_url(isolated.redis_url or "", 60, 60)
        failed = wait_for(
            lambda: any(
                m.get("state") == "failed" for w in store.workers() for m in w["models"].values()
            ),
            180,
            "the worker to report its model failure",
        )
        assert failed
        response = client.get("/readyz")
        assert response.status_code == 503
        assert "cannot be loaded" in response.get_json()["error"]["message"]
        lines = [line for line in log_path.read_text().splitlines() if "model unavailable" in line]
        assert len(lines) == 1, log_path.read_text()[-2000:]
    finally:
        process.terminate()
        process.wait(30)
