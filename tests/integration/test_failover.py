"""Past one machine, as issue 27's "done when" has it: an API and two workers as separate
processes, each with its own data folder, on RabbitMQ (quorum queues) and on a Redis
primary and replica watched by three Sentinels. 40 single jobs are submitted over about
20 s; after 10 are accepted the Redis primary is SIGKILLed, after 25 the worker that leads
the reconciler's sweep, with all its processes. Every accepted job ends succeeded, no job
runs again unless its worker died, both workers did work, the sweep's lead moved to the
surviving worker, and the API answered nothing but 2xx and 503 with Retry-After."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from broker import rabbitmq_vhost
from sentinels import MASTER, SentinelSet, close_client, started_sentinels, wait_until

from helpers import (
    STORY,
    ApiProcess,
    WorkerProcess,
    answers_200,
    reconciler_leader,
)
from nutgraf.settings import Settings
from nutgraf.store import JobStore
from nutgraf.store.server import free_port

pytestmark = pytest.mark.integration

JOBS = 40
SPACING_S = 0.5  # 40 jobs over about 20 s
KILL_PRIMARY_AFTER = 10
KILL_WORKER_AFTER = 25


def _deployment(base: Settings, sentinels: SentinelSet, amqp: str, data: Path) -> Settings:
    """The base test settings on the Sentinels and RabbitMQ, with a data folder of its own."""
    return Settings(
        **(
            base.model_dump()
            | {
                "redis_url": None,
                "redis_sentinels": sentinels.addresses,
                "redis_sentinel_master": MASTER,
                "broker_url": amqp,
                # No accepted job lost: every 2xx waits for the replica.
                "redis_min_replicas": 1,
                "data_dir": data,
            }
        )
    )


class Chaos:
    """The Redis failover, in a thread of its own so that submissions go on meanwhile: the
    primary SIGKILLed, the replica promoted, the old primary started again (the Sentinels
    make it a replica of the new one, as a restarted host would come back)."""

    def __init__(self, sentinels: SentinelSet) -> None:
        self.sentinels = sentinels
        self.failover_s: float | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        started = time.monotonic()
        self.sentinels.primary.kill()
        wait_until(
            lambda: self.sentinels.master_port() == self.sentinels.replica.port,
            60,
            "the Sentinels to promote the replica",
        )
        self.failover_s = time.monotonic() - started
        self.sentinels.primary.start()


def _submit(api: str, n: int, statuses: list[int]) -> str:
    """POST one article until it is accepted, as a client would: 503s are retried after
    their Retry-After; any other status fails the test."""
    text = f"{STORY} Report {n} ({uuid.uuid4().hex[:8]}) followed."
    while True:
        response = requests.post(
            f"{api}/v1/summaries", json={"text": text, "length": "headline"}, timeout=60
        )
        statuses.append(response.status_code)
        if response.status_code in (200, 202):
            job_id: str = response.json()["id"]
            return job_id
        assert response.status_code == 503, (response.status_code, response.text)
        assert int(response.headers["Retry-After"]) > 0
        time.sleep(0.5)


def _ended(api: str, job_id: str) -> dict[str, Any] | None:
    response = requests.get(f"{api}/v1/summaries/{job_id}", timeout=30)
    if response.status_code != 200:
        return None
    body: dict[str, Any] = response.json()
    return body if body["status"] in ("succeeded", "failed", "cancelled") else None


def _ends(
    api: str, accepted: list[str], store: JobStore, workers: list[WorkerProcess]
) -> dict[str, dict[str, Any]]:
    """Every accepted job's end, waited for 300 s in all; else the test fails with the
    records of the jobs that did not end and the workers' last log lines."""
    deadline = time.monotonic() + 300
    ends: dict[str, dict[str, Any]] = {}
    while len(ends) < len(accepted) and time.monotonic() < deadline:
        for job_id in accepted:
            if job_id not in ends:
                with contextlib.suppress(requests.RequestException):
                    if body := _ended(api, job_id):
                        ends[job_id] = body
        time.sleep(0.2)
    if len(ends) < len(accepted):
        records: dict[str, Any] = {}
        with contextlib.suppress(redis.RedisError):
            records |= {
                job_id: store.redis.hgetall(store.keys.job(job_id))
                for job_id in accepted
                if job_id not in ends
            }
            records["queued set"] = sorted(store.redis.smembers(store.keys.queued))
            records["running set"] = sorted(store.redis.smembers(store.keys.running_jobs))
        tails = "\n".join(f"--- {w.log_path.name}:\n{w.log_tail(4000)}" for w in workers)
        pytest.fail(f"{len(accepted) - len(ends)} jobs did not end in 300 s: {records}\n{tails}")
    return ends


@pytest.mark.timeout(900)
def test_a_redis_failover_and_a_worker_killed_lose_no_accepted_job(
    settings: Settings, tmp_path: Path
) -> None:
    with (
        rabbitmq_vhost(tmp_path / "rabbitmq") as (amqp, _, _),
        started_sentinels(tmp_path / "redis") as sentinels,
    ):
        deployment = _deployment(settings, sentinels, amqp, tmp_path / "api")
        store = JobStore.from_settings(deployment, patient=True)
        workers = []
        for n in (1, 2):
            own = _deployment(settings, sentinels, amqp, tmp_path / f"worker-{n}")
            worker = WorkerProcess(own, tmp_path / f"worker-{n}.log")
            worker.store = JobStore.from_settings(own)  # not NUTGRAF_REDIS_URL's host
            workers.append(worker)
        port = free_port()
        api_process = ApiProcess(deployment, port, tmp_path / "api.log")
        api = f"http://127.0.0.1:{port}"
        try:
            for worker in workers:
                worker.start()
            api_process.start()
            wait_until(lambda: answers_200(f"{api}/readyz"), 120, "the API to be ready")

            chaos = Chaos(sentinels)
            statuses: list[int] = []
            accepted: list[str] = []
            killed = survivor = workers[1]
            for n in range(JOBS):
                accepted.append(_submit(api, n, statuses))
                if len(accepted) == KILL_PRIMARY_AFTER:
                    chaos.thread.start()
                if len(accepted) == KILL_WORKER_AFTER:
                    # The sweep's leader (the lease may be renewing on the new primary).
                    killed = wait_until(
                        lambda: reconciler_leader(store, workers), 30, "a sweep leader"
                    )
                    survivor = next(worker for worker in workers if worker is not killed)
                    killed.kill()  # SIGKILL to its process group: every pool process
                time.sleep(SPACING_S)
            chaos.thread.join(90)
            # Its lease lapses (15 s) and the survivor, asking every 5 s, takes it.
            wait_until(lambda: reconciler_leader(store, [survivor]), 60, "the lead to move")

            ends = _ends(api, accepted, store, workers)
            failed = {j: body for j, body in ends.items() if body["status"] != "succeeded"}
            assert not failed, (failed, workers[0].log_tail())

            started = [worker.started_jobs() for worker in (survivor, killed)]
            assert all(started), "both workers did work"
            attempts = {
                job_id: int(store.redis.hget(store.keys.job(job_id), "attempts") or 0)
                for job_id in accepted
            }
            again = {job_id for job_id, count in attempts.items() if count > 1}
            # Only the killed worker's jobs run again.
            assert again <= started[1], (again - started[1], attempts)
            duplicates = int(store.redis.hget(store.keys.stats_jobs, "duplicate_ends") or 0)
            assert duplicates == 0
            assert set(statuses) <= {200, 202, 503}, statuses
            print(
                f"\nfailover {chaos.failover_s:.1f} s; {statuses.count(503)} answers 503 of "
                f"{len(statuses)}; run again: {len(again)} (the killed worker started "
                f"{len(started[1])}, the other {len(started[0])})"
            )
        finally:
            api_process.stop()
            for worker in workers:
                worker.stop()
                close_client(worker.store.redis)
            close_client(store.redis)
