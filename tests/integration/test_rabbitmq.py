"""RabbitMQ as the broker: a real worker process and the real API (gunicorn) with
NUTGRAF_BROKER_URL=amqp://… on a vhost of this run's own; Redis stays the job store."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import requests
from broker import Admin, QueueRow, rabbitmq_vhost

from helpers import (
    STORY,
    ApiProcess,
    Databases,
    WorkerProcess,
    answers_200,
    wait_for,
)
from nutgraf.settings import Settings
from nutgraf.store.keys import Keys
from nutgraf.store.server import free_port
from service import create_app


@pytest.fixture(scope="module")
def rabbit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Admin, str]]:
    """The AMQP URL of a fresh vhost, the broker's administration, and the vhost's name."""
    with rabbitmq_vhost(tmp_path_factory.mktemp("rabbitmq")) as found:
        yield found


@pytest.fixture(scope="module")
def amqp_settings(
    settings: Settings, databases: Databases, rabbit: tuple[str, Admin, str]
) -> Iterator[Settings]:
    """The test deployment with RabbitMQ as its broker and its own Redis database (so that
    no other worker sweeps its jobs)."""
    with databases.take() as url:
        yield settings.model_copy(update={"redis_url": url, "broker_url": rabbit[0]})


@pytest.fixture(scope="module")
def amqp_worker(
    amqp_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    """One real worker on RabbitMQ for the module; a test that kills it starts it again."""
    process = WorkerProcess(amqp_settings, tmp_path_factory.mktemp("amqp-worker") / "worker.log")
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def api(amqp_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`nutgraf api` (gunicorn) on RabbitMQ, over HTTP on loopback."""
    port = free_port()
    process = ApiProcess(amqp_settings, port, tmp_path_factory.mktemp("amqp-api") / "api.log")
    process.start()
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: answers_200(f"{base}/healthz"), 120, "the API")
        yield base
    finally:
        process.stop()


def _submit(base: str, tag: str, length: str = "short") -> str:
    text = f"{STORY} The meeting ({tag} {uuid.uuid4().hex[:8]}) lasted three hours."
    response = requests.post(
        f"{base}/v1/summaries", json={"text": text, "length": length}, timeout=30
    )
    assert response.status_code == 202, response.text
    job_id: str = response.json()["id"]
    return job_id


def _status(base: str, job_id: str) -> dict[str, Any]:
    body: dict[str, Any] = requests.get(f"{base}/v1/summaries/{job_id}", timeout=10).json()
    return body


def _finished(base: str, job_id: str, timeout_s: float = 240) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        body = _status(base, job_id)
        return body if body["status"] in ("succeeded", "failed") else None

    body: dict[str, Any] = wait_for(ended, timeout_s, f"job {job_id} to end")
    return body


def test_a_job_runs_through_rabbitmq(
    api: str, amqp_worker: WorkerProcess, rabbit: tuple[str, Admin, str]
) -> None:
    _, admin, vhost = rabbit
    ready = requests.get(f"{api}/readyz", timeout=10)
    assert ready.status_code == 200, ready.text

    job_id = _submit(api, "rabbit", length="headline")
    job = _finished(api, job_id)
    assert job["status"] == "succeeded", (job, amqp_worker.log_tail())
    assert job["summary"]

    # The API and the worker are connected to this vhost (the management API's figures
    # lag a few seconds), and the worker consumes both lanes' durable quorum queues.
    wait_for(lambda: admin.connections(vhost) >= 2, 30, "the API's and the worker's connections")
    queues = admin.queues(vhost)
    for lane_queue in ("nutgraf.interactive", "nutgraf.bulk"):
        assert QueueRow(lane_queue, 1, True, "quorum") in queues
        # With the consumer timeout it asked for: above the time limit (240 s here).
        (arguments,) = admin.consumer_arguments(vhost, lane_queue)
        assert arguments["x-consumer-timeout"] > 240 * 1000, arguments
    # Celery saw the quorum queues and turned global QoS off (RabbitMQ refuses a consumer
    # of a quorum queue on a channel with global QoS), and set up no delayed delivery.
    log = amqp_worker.log_tail(200_000)
    assert "Global QoS is disabled" in log
    assert not [queue for queue in queues if queue.name.startswith("celery_delayed")]
    # RabbitMQ before 3.12 ignores it: the worker says so, loudly.
    version = tuple(int(part) for part in admin.version().split(".")[:2])
    warned = "IGNORES x-consumer-timeout" in log
    assert warned == (version < (3, 12)), version


def test_jobs_sent_together_share_a_batch_over_amqp(api: str, amqp_worker: WorkerProcess) -> None:
    ids = [_submit(api, f"batch {index}", length="headline") for index in range(4)]
    for job_id in ids:
        job = _finished(api, job_id)
        assert job["status"] == "succeeded", (job, amqp_worker.log_tail())
    batches = amqp_worker.batches()
    ours = [n for n, members in batches if set(ids) & members]
    assert ours and max(ours) >= 2, batches  # celery-batches buffered AMQP deliveries


def test_a_worker_killed_mid_job_is_redelivered_and_the_job_ends_once(
    api: str, amqp_worker: WorkerProcess, amqp_settings: Settings
) -> None:
    client = redis.Redis.from_url(amqp_settings.redis_url or "", decode_responses=True)
    keys = Keys()
    duplicates_before = int(client.hget(keys.stats_jobs, "duplicate_ends") or 0)
    job_id = _submit(api, "killed")
    wait_for(
        lambda: _status(api, job_id)["status"] == "running",
        120,
        f"job {job_id} to start",
        interval_s=0.05,
    )
    amqp_worker.kill()  # SIGKILL: the connection drops with the job unacknowledged
    amqp_worker.start()
    job = _finished(api, job_id)
    assert job["status"] == "succeeded", (job, amqp_worker.log_tail())
    assert int(str(client.hget(keys.job(job_id), "attempts"))) >= 2
    assert int(client.hget(keys.stats_jobs, "duplicate_ends") or 0) == duplicates_before


def test_connections_the_broker_closes_are_opened_again(
    api: str, amqp_worker: WorkerProcess, rabbit: tuple[str, Admin, str]
) -> None:
    _, admin, vhost = rabbit
    wait_for(lambda: admin.connections(vhost) >= 2, 30, "the API's and the worker's connections")
    admin.close_connections(vhost)  # as a broker restart or a network blip would
    # Same API processes, same worker: both connect again by themselves.
    job_id = _submit(api, "after the blip", length="headline")
    job = _finished(api, job_id)
    assert job["status"] == "succeeded", (job, amqp_worker.log_tail())
    assert amqp_worker.running()


def test_readyz_says_when_the_broker_is_unreachable(settings: Settings) -> None:
    away = settings.model_copy(
        update={"broker_url": f"amqp://guest:guest@127.0.0.1:{free_port()}//"}
    )
    response = create_app(away).test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["error"]["code"] == "unavailable"
    assert "broker is unreachable" in body["error"]["message"]


def test_a_batch_runs_in_the_bulk_lane_over_amqp(api: str, amqp_worker: WorkerProcess) -> None:
    items = [
        {"id": str(n), "text": f"{STORY} Item {n} {uuid.uuid4().hex[:8]}.", "length": "headline"}
        for n in range(3)
    ]
    created = requests.post(f"{api}/v1/batches", json={"items": items}, timeout=30)
    assert created.status_code == 202, created.text
    batch_id = created.json()["id"]
    results = requests.get(f"{api}/v1/batches/{batch_id}/results", timeout=10).json()["items"]
    assert {item["priority"] for item in results} == {"bulk"}

    def ended() -> dict[str, Any] | None:
        body: dict[str, Any] = requests.get(f"{api}/v1/batches/{batch_id}", timeout=10).json()
        return body if body["completed_at"] else None

    batch = wait_for(ended, 240, "the batch to end")
    assert batch["status"] == "succeeded", (batch, amqp_worker.log_tail())
