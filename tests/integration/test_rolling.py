"""Rolling deploys (issue 27): SIGTERM, as Kubernetes and Docker send it to a container's
first process, makes a worker finish the micro-batch it runs and hand back at once every
message it holds but has not started, on Redis and on RabbitMQ; makes the API answer
/readyz 503 while it drains, then exit. And when the worker that leads the reconciler's
sweep is killed, a surviving worker takes the lead."""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from broker import rabbitmq_vhost

from helpers import (
    TEST_MODEL,
    ApiProcess,
    Databases,
    WorkerProcess,
    poll_job,
    reconciler_leader,
    wait_for,
)
from nutgraf import models
from nutgraf.settings import Settings
from nutgraf.store import JobStore
from nutgraf.store.server import free_port
from service import create_app
from worker.queue import create_producer, ready_messages

pytestmark = pytest.mark.integration

BATCH = 2
# The worker's whole prefetch (two batches per pool process): one batch runs, the rest waits.
JOBS = 2 * BATCH
# Generous bounds: a batch of real articles on two shared cores, then the worker's exit.
STOP_BOUND_S = 240


@pytest.fixture(params=["redis", "rabbitmq"])
def deployment(
    request: pytest.FixtureRequest, settings: Settings, databases: Databases, tmp_path: Path
) -> Iterator[Settings]:
    """The test deployment on a Redis database of its own (no other worker takes its jobs),
    with small batches, and Redis or RabbitMQ as the broker."""
    with databases.take() as url:
        own = settings.model_copy(update={"redis_url": url, "batch_size": BATCH})
        if request.param == "rabbitmq":
            with rabbitmq_vhost(tmp_path / "rabbitmq") as (amqp, _, _):
                yield own.model_copy(update={"broker_url": amqp})
        else:
            yield own


@pytest.mark.timeout(900)
def test_a_stopped_worker_finishes_its_batch_and_hands_back_what_it_holds(
    deployment: Settings, tmp_path: Path, sample_article: str
) -> None:
    client = create_app(deployment).test_client()
    store = JobStore.from_settings(deployment)
    producer = create_producer(deployment)
    first = WorkerProcess(deployment, tmp_path / "first.log")
    second = WorkerProcess(deployment, tmp_path / "second.log")
    try:
        first.start()
        ids = []
        for n in range(JOBS):
            text = f"{sample_article}\n\nReport {n} ({uuid.uuid4().hex[:8]})."
            # Headlines of the whole article: a batch of two still runs for seconds, long
            # past the hand-back, at half the model time of short summaries.
            response = client.post("/v1/summaries", json={"text": text, "length": "headline"})
            assert response.status_code == 202, response.get_json()
            ids.append(response.get_json()["id"])

        def fields(job_id: str) -> dict[str, str]:
            return store.redis.hgetall(store.keys.job(job_id))  # type: ignore[no-any-return]

        def holding() -> tuple[list[str], list[str]] | None:
            records = {job_id: fields(job_id) for job_id in ids}
            running = [j for j, r in records.items() if r["status"] == "running"]
            held = [j for j, r in records.items() if r["status"] == "queued" and r.get("held_by")]
            return (running, held) if running and len(running) + len(held) == JOBS else None

        running, held = wait_for(holding, 120, "a batch running and the rest prefetched")
        assert held, "the worker holds a prefetched message"
        assert first.process is not None
        # To the worker's main process only, as Kubernetes and Docker signal a container.
        os.kill(first.process.pid, signal.SIGTERM)

        def handed_back() -> list[str] | None:
            # Read in one go: the held messages are in the broker again while the batch
            # still runs (not once the worker closes its connection, after the batch).
            statuses = [fields(j)["status"] for j in running]
            return statuses if ready_messages(producer) == len(held) else None

        statuses = wait_for(handed_back, 60, "the held jobs back in the broker")
        assert statuses == ["running"] * len(running), "handed back after the batch ended"

        first.process.wait(STOP_BOUND_S)
        assert first.process.returncode == 0, first.log_tail()
        for job_id in running:
            assert fields(job_id)["status"] == "succeeded", first.log_tail()
        for job_id in held:
            # Queued and held by nobody: the sweep does not send it again as abandoned.
            record = fields(job_id)
            assert record["status"] == "queued" and not record.get("held_by"), record

        second.start()
        ends = {job_id: poll_job(client, job_id) for job_id in ids}
        assert {body["status"] for body in ends.values()} == {"succeeded"}, ends
        assert first.started_jobs() == set(running), first.log_tail()
        assert second.started_jobs() == set(held), second.log_tail()
        assert {int(fields(job_id)["attempts"]) for job_id in ids} == {1}
        assert not store.redis.hget(store.keys.stats_jobs, "duplicate_ends")
        # Nothing was ever missing from the broker, nor held by a worker gone: the sweep
        # had no job to send a second time.
        for worker in (first, second):
            assert "sent again" not in worker.log_tail(2_000_000), worker.log_tail()
    finally:
        first.stop()
        second.stop()
        store.redis.close()


@pytest.mark.timeout(180)
def test_a_stopped_api_answers_readyz_503_while_it_drains_then_exits(
    settings: Settings, own_redis_url: str, tmp_path: Path
) -> None:
    deployment = settings.model_copy(update={"redis_url": own_redis_url, "drain_s": 4})
    store = JobStore.from_settings(deployment)
    # A worker with the model loaded, as its heartbeat says: /readyz is 200 until the stop.
    ready = {"models": {models.resolve(TEST_MODEL).name: {"state": "ready"}}}
    store.heartbeat("test-worker", ready, 120)
    port = free_port()
    api = ApiProcess(deployment, port, tmp_path / "api.log")
    base = f"http://127.0.0.1:{port}"
    api.start()
    try:
        wait_for(lambda: _answers(f"{base}/readyz") == 200, 60, "the API to be ready")
        assert api.process is not None
        os.kill(api.process.pid, signal.SIGTERM)  # gunicorn's master, as Kubernetes does

        def draining() -> dict[str, Any] | None:
            response = requests.get(f"{base}/readyz", timeout=10)
            return response.json() if response.status_code == 503 else None

        body = wait_for(draining, 30, "/readyz to answer 503")
        assert "shutting down" in body["error"]["message"], body
        # Still serving meanwhile: the load balancer moves clients away, none is refused.
        assert requests.get(f"{base}/healthz", timeout=5).status_code == 200
        assert api.process.wait(60) == 0, api.log_path.read_text()
    finally:
        api.stop()
        store.redis.close()


def _answers(url: str) -> int | None:
    """The status of a GET of `url`; None while nothing answers (a first request to a
    process that just started may take a while on a busy machine)."""
    try:
        return requests.get(url, timeout=10).status_code
    except requests.RequestException:
        return None


@pytest.mark.timeout(600)
def test_the_reconciler_lead_moves_to_a_survivor_when_its_worker_is_killed(
    settings: Settings, own_redis_url: str, tmp_path: Path
) -> None:
    deployment = settings.model_copy(update={"redis_url": own_redis_url})
    store = JobStore.from_settings(deployment)
    workers = [WorkerProcess(deployment, tmp_path / f"worker-{n}.log") for n in (1, 2)]
    try:
        for worker in workers:
            worker.start()

        def leader() -> WorkerProcess | None:
            return reconciler_leader(store, workers)

        first = wait_for(leader, 60, "a worker to lead the sweep")
        first.kill()  # SIGKILL, every process of it: the lease is never given up
        survivor = next(worker for worker in workers if worker is not first)
        # The lease lasts 15 s unless renewed; the survivor asks every 5 s.
        assert wait_for(leader, 60, "the lead to move") is survivor
    finally:
        for worker in workers:
            worker.stop()
        store.redis.close()
