"""Faults lose no job: a worker killed mid-job, a pool process killed, Redis restarted."""

from __future__ import annotations

import os
import signal
import uuid

import redis
from flask.testing import FlaskClient

from helpers import WorkerProcess, poll_job, wait_for
from nutgraf import models
from nutgraf.contract import SummaryOptions
from nutgraf.settings import Settings
from nutgraf.store import JobStore
from nutgraf.store.server import RedisServer


def _submit_unique(client: FlaskClient, article: str, length: str = "short") -> str:
    text = f"{article}\n\nUpdate {uuid.uuid4()}: this story was corrected."
    response = client.post("/v1/summaries", json={"text": text, "length": length})
    assert response.status_code == 202, response.get_json()
    job_id: str = response.get_json()["id"]
    return job_id


# A job killed mid-run starts over, and a whole-article draft of the bundled model that fails
# its checks (the sample's are stitched) is written twice: in float32 on 2 shared cores that
# took 219 s of the old 240 s bound, and more on a loaded machine.
REDELIVERED_JOB_S = 450  # under the suite's 600 s per-test timeout


def _wait_running(client: FlaskClient, job_id: str) -> None:
    wait_for(
        lambda: client.get(f"/v1/summaries/{job_id}").get_json()["status"] == "running",
        120,
        f"job {job_id} to start",
        interval_s=0.05,
    )


def test_worker_killed_mid_job_loses_nothing(
    client: FlaskClient,
    worker: WorkerProcess,
    redis_client: redis.Redis,
    sample_article: str,
) -> None:
    job_id = _submit_unique(client, sample_article)
    _wait_running(client, job_id)
    worker.kill()  # the main process and its pool child, no chance to clean up
    assert client.get(f"/v1/summaries/{job_id}").get_json()["status"] == "running"

    worker.start()
    job = poll_job(client, job_id, timeout_s=REDELIVERED_JOB_S)
    assert job["status"] == "succeeded", (job, worker.log_tail())
    assert job["summary"]
    assert int(str(redis_client.hget(f"nutgraf:job:{job_id}", "attempts"))) >= 2


def test_pool_process_killed_mid_job_is_redelivered(
    client: FlaskClient,
    worker: WorkerProcess,
    redis_client: redis.Redis,
    sample_article: str,
) -> None:
    job_id = _submit_unique(client, sample_article)
    _wait_running(client, job_id)
    owner = str(redis_client.hget(f"nutgraf:job:{job_id}", "worker"))
    child_pid = int(owner.split(":")[-2])  # hostname:pid:nonce
    assert worker.process is not None and child_pid != worker.process.pid
    os.kill(child_pid, signal.SIGKILL)

    job = poll_job(client, job_id, timeout_s=REDELIVERED_JOB_S)
    assert job["status"] == "succeeded", (job, worker.log_tail())
    assert worker.running()  # Celery replaced the pool process; the worker lived on
    assert int(str(redis_client.hget(f"nutgraf:job:{job_id}", "attempts"))) >= 2


def test_redis_down_is_503_and_service_recovers_without_restarts(
    client: FlaskClient,
    worker: WorkerProcess,
    redis_server: RedisServer,
    sample_article: str,
) -> None:
    redis_server.stop()
    try:
        response = client.post("/v1/summaries", json={"text": "Redis is down. " * 5})
        assert response.status_code == 503
        assert response.get_json()["error"]["code"] == "unavailable"
        assert int(response.headers["Retry-After"]) > 0
        assert client.get("/v1/summaries/anything").status_code == 503
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert "redis" in ready.get_json()["error"]["message"]
    finally:
        redis_server.start()

    # Same API object, same worker process: both reconnect by themselves.
    job_id = _submit_unique(client, sample_article, length="headline")
    job = poll_job(client, job_id)
    assert job["status"] == "succeeded", (job, worker.log_tail())
    assert worker.running()


def test_a_job_whose_message_was_lost_is_sent_again_by_the_reconciler(
    client: FlaskClient, worker: WorkerProcess, settings: Settings, sample_article: str
) -> None:
    # The record is written and no message sent: the API died in between, or Redis
    # stopped with the message in a dead worker's prefetch. Nothing else would run it.
    store = JobStore.from_url(settings.redis_url or "", 600, 600)
    text = f"{sample_article}\n\nUpdate {uuid.uuid4()}: never sent."
    job = store.submit(
        text, None, models.resolve(settings.model), SummaryOptions(length="headline")
    )
    assert job.outcome == "created"
    body = poll_job(client, job.job_id, timeout_s=120)
    assert body["status"] == "succeeded", (body, worker.log_tail())
    assert "sent again" in worker.log_tail()
