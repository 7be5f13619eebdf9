"""A model that cannot be had fails its jobs readably and shows up in /readyz."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from werkzeug.test import TestResponse

from helpers import STORY, WorkerProcess, poll_job, wait_for
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
    settings: Settings, broken_model: Path, own_redis_url: str, tmp_path: Path
) -> None:
    # Its own Redis database, so the session's healthy worker does not answer for it.
    isolated = settings.model_copy(update={"redis_url": own_redis_url, "model": str(broken_model)})
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
        message = response.get_json()["error"]["message"]
        assert "cannot be loaded" in message
        # With the fix: the folder to check, or the bundled model.
        assert str(broken_model) in message and "NUTGRAF_MODEL=smollm2-135m" in message
        lines = [line for line in log_path.read_text().splitlines() if "model unavailable" in line]
        assert len(lines) == 1, log_path.read_text()[-2000:]
    finally:
        process.terminate()
        process.wait(30)


FIX = "set NUTGRAF_MODEL=smollm2-135m to use the bundled offline model"


def test_a_model_that_cannot_load_is_refused_at_once(
    settings: Settings, own_redis_url: str, tmp_path: Path
) -> None:
    """A Hub id offline: /readyz and new POSTs say so with the fix, the queued job fails
    with the same message, and no new job is queued for a worker that cannot run it."""
    hub_id = "nutgraf-tests/no-such-model"
    isolated = settings.model_copy(
        update={
            # Its own Redis database: the session's worker must not answer.
            "redis_url": own_redis_url,
            "model": hub_id,
            "models": [hub_id],
        }
    )
    client = create_app(isolated).test_client()
    store = JobStore.from_url(isolated.redis_url or "", 60, 60)
    # Queued before any worker runs: it waits, as jobs do while workers start.
    queued = client.post("/v1/summaries", json={"text": STORY + " (queued first)"})
    assert queued.status_code == 202
    env = {**env_for_children(isolated), "HF_HUB_OFFLINE": "1"}
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "nutgraf.cli", "worker"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        job = poll_job(client, queued.get_json()["id"], timeout_s=180)
        assert job["status"] == "failed", log_path.read_text()[-2000:]
        assert job["error"]["code"] == "model_unavailable"
        assert hub_id in job["error"]["message"] and FIX in job["error"]["message"]

        def reported() -> TestResponse | None:
            response = client.get("/readyz")
            failed = response.status_code == 503 and FIX in response.get_json()["error"]["message"]
            return response if failed else None

        ready = wait_for(reported, 60, "/readyz to report the model failure")
        assert ready.get_json()["error"]["message"] == job["error"]["message"]

        depth = store.queue_depth()
        response = client.post("/v1/summaries", json={"text": STORY + " (after the failure)"})
        assert response.status_code == 503
        error = response.get_json()["error"]
        assert error["code"] == "model_unavailable"
        assert error["message"] == job["error"]["message"]
        assert store.queue_depth() == depth  # nothing was queued for it
        # Extractive mode needs no model: still answered.
        extractive = client.post(
            "/v1/summaries", json={"text": STORY + " (extractive)", "mode": "extractive"}
        )
        assert extractive.status_code == 200
        # A batch's item for it fails at once too, with the same message; the rest run.
        batch = client.post(
            "/v1/batches",
            json={
                "items": [
                    {"id": "model", "text": STORY + " (batch)"},
                    {"id": "extractive", "text": STORY, "mode": "extractive"},
                ]
            },
        )
        assert batch.status_code == 202
        assert batch.get_json()["counts"]["failed"] == 1
        assert batch.get_json()["counts"]["succeeded"] == 1
        assert store.queue_depth() == depth
        items = client.get(f"/v1/batches/{batch.get_json()['id']}/results").get_json()["items"]
        assert items[0]["error"] == {"code": "model_unavailable", "message": error["message"]}
    finally:
        process.terminate()
        process.wait(30)
