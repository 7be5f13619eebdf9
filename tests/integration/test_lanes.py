"""Lanes with real workers, a real broker and the bundled model: a worker per lane as
`nutgraf serve` runs them, an editor's job that ends while a bulk batch still runs, queued
items that say where they stand, and a DELETE that stops a running generation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from helpers import STORY, TEST_MODEL, WorkerProcess, wait_for
from nutgraf.settings import Settings
from nutgraf.store.server import RedisServer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lane_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A deployment of its own (its own Redis): the session's worker serves both lanes."""
    server = RedisServer(tmp_path_factory.mktemp("lanes-redis"))
    server.start()
    yield Settings(
        redis_url=server.url,
        model=TEST_MODEL,
        data_dir=tmp_path_factory.mktemp("lanes-data"),
        # Small bulk micro-batches: some items of a batch wait while others run.
        batch_size=2,
        task_time_limit_s=240,
        requeue_after_s=5,
        log_level="INFO",
    )
    server.stop()


@pytest.fixture(scope="module")
def lane_workers(
    lane_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, WorkerProcess]]:
    """An interactive worker, and a bulk one at the lowest CPU priority."""
    folder = tmp_path_factory.mktemp("lane-workers")
    workers = {
        "interactive": WorkerProcess(
            lane_settings.model_copy(update={"worker_lanes": ["interactive"]}),
            folder / "interactive.log",
        ),
        "bulk": WorkerProcess(
            lane_settings.model_copy(update={"worker_lanes": ["bulk"], "worker_nice": 19}),
            folder / "bulk.log",
        ),
    }
    for worker in workers.values():
        worker.start()
    yield workers
    for worker in workers.values():
        worker.stop()


@pytest.fixture(scope="module")
def lane_client(lane_settings: Settings) -> FlaskClient:
    from service import create_app

    return create_app(lane_settings).test_client()


def story(tag: str) -> str:
    return STORY.replace("Lakeport", f"Lakeport {tag}")


def job(client: FlaskClient, job_id: str) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"/v1/summaries/{job_id}").get_json()
    return body


def test_an_editors_job_ends_while_the_backfill_runs_and_items_say_where_they_stand(
    lane_client: FlaskClient, lane_workers: dict[str, WorkerProcess]
) -> None:
    items = [{"id": str(i), "text": story(f"bulk {i}"), "length": "short"} for i in range(6)]
    created = lane_client.post("/v1/batches", json={"items": items})
    assert created.status_code == 202
    batch_id = created.get_json()["id"]
    results = lane_client.get(f"/v1/batches/{batch_id}/results").get_json()["items"]
    assert {item["priority"] for item in results} == {"bulk"}
    queued = [item for item in results if item["status"] == "queued"]
    assert queued, "six items cannot all have started at once"
    place = queued[-1]["queue"]
    assert place["lane"] == "bulk" and place["position"] >= 1 and "eta_s" in place
    wait_for(
        lambda: lane_client.get(f"/v1/batches/{batch_id}").get_json()["counts"]["running"],
        120,
        "the bulk worker to start the batch",
    )
    single = lane_client.post("/v1/summaries", json={"text": story("editor"), "length": "short"})
    assert single.status_code == 202
    body = single.get_json()
    assert body["priority"] == "interactive" and body["queue"]["lane"] == "interactive"

    ended = wait_for(
        lambda: (b := job(lane_client, body["id"]))["status"] in ("succeeded", "failed") and b,
        240,
        "the editor's job",
    )
    assert ended["status"] == "succeeded"
    # It did not wait for the backfill: items of the batch were still unfinished.
    batch = lane_client.get(f"/v1/batches/{batch_id}").get_json()
    assert batch["status"] in ("queued", "running"), batch
    wait_for(
        lambda: lane_client.get(f"/v1/batches/{batch_id}").get_json()["status"] == "succeeded",
        400,
        "the whole batch to succeed",
    )


def test_delete_of_a_running_job_stops_its_generation(
    lane_client: FlaskClient, lane_workers: dict[str, WorkerProcess]
) -> None:
    long_text = " ".join(story(f"part {i}") for i in range(6))
    body = lane_client.post("/v1/summaries", json={"text": long_text, "length": "long"}).get_json()
    wait_for(lambda: job(lane_client, body["id"])["status"] == "running", 120, "the job to start")
    cancelled = lane_client.delete(f"/v1/summaries/{body['id']}")
    assert cancelled.status_code == 200
    assert cancelled.get_json()["status"] == "cancelled"
    worker = lane_workers["interactive"]
    wait_for(
        lambda: f"job {body['id']}: cancelled while it runs" in worker.log_tail(20_000),
        30,
        "the worker to see the cancel",
    )
    wait_for(
        lambda: f'"job_id": "{body["id"]}", "status": "cancelled"' in worker.log_tail(20_000),
        60,
        "the worker to drop the stopped job",
    )
    # Told once, never overwritten by the run it cut short.
    assert job(lane_client, body["id"])["status"] == "cancelled"
    # The worker goes on with the next job.
    after = lane_client.post("/v1/summaries", json={"text": story("after"), "length": "short"})
    done = wait_for(
        lambda: (b := job(lane_client, after.get_json()["id"]))["status"] == "succeeded" and b,
        240,
        "the next job",
    )
    assert done["summary"]
