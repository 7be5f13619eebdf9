"""The reliability suite: the real stack under load while faults are injected.

A private redis-server with an AOF, a real worker process, the API under gunicorn and a
small real model (a random-weight BART: real architecture, fast on 2 cores). 1,000 jobs of
every kind (model jobs, repeats answered from the cache or joined in flight, extractive
ones, batch items) are submitted by 8 client threads while the worker is SIGKILLed twice
and Redis is restarted once. Then every accepted job must end, none may run twice, and no
request may get a 5xx. The figures are printed (`pytest -s`) for docs/reliability.md.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from helpers import STORY, ApiProcess, WorkerProcess, answers_200, wait_for
from nutgraf.settings import Settings
from nutgraf.store import Keys
from nutgraf.store.server import RedisServer, free_port

MODEL_JOBS = 400
REPEATS = 200
EXTRACTIVE = 200
BATCHES, BATCH_ITEMS = 4, 50  # 200 items
CLIENT_THREADS = 8
# Submissions are paced (as a newsroom's clients would be, not a burst) so that every fault
# lands while work is still arriving: 804 submissions (a batch is one) take about 32 s.
SUBMISSIONS_PER_S = 25
# Faults fire when this many submissions have been answered.
FAULTS = {200: "kill worker", 400: "restart redis", 600: "kill worker"}
END_DEADLINE_S = 420
TERMINAL = {"succeeded", "failed", "cancelled"}


def story(tag: str) -> str:
    """A distinct article, short enough for the tiny model's window in one pass."""
    return f"{STORY.split('. Opponents')[0]}. Report {tag}."


@dataclass
class Load:
    """HTTP clients that remember every status they got and every job they were given."""

    base: str
    statuses: Counter[int] = field(default_factory=Counter)
    jobs: set[str] = field(default_factory=set)
    batches: set[str] = field(default_factory=set)
    answered: int = 0
    connection_errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    local: threading.local = field(default_factory=threading.local)

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One request; a dropped connection is retried (and counted), never hidden."""
        session = getattr(self.local, "session", None)
        if session is None:
            session = self.local.session = requests.Session()
        for attempt in range(5):
            try:
                response = session.request(method, self.base + path, timeout=60, **kwargs)
            except requests.ConnectionError:
                with self.lock:
                    self.connection_errors += 1
                time.sleep(0.2 * (attempt + 1))
                continue
            with self.lock:
                self.statuses[response.status_code] += 1
            return response
        raise AssertionError(f"{method} {path}: no answer after 5 tries")

    def submit(self, path: str, body: dict[str, Any]) -> None:
        """POST work, record the job or batch id it was given, and read it back once (as a
        polling client would: reads meet the faults too)."""
        response = self.call("POST", path, json=body)
        assert response.status_code in (200, 202), (response.status_code, response.text)
        created = response.json()["id"]
        with self.lock:
            (self.batches if path.endswith("batches") else self.jobs).add(created)
            self.answered += 1
        kind = "batches" if path.endswith("batches") else "summaries"
        assert self.call("GET", f"/v1/{kind}/{created}").status_code == 200

    def job_statuses(self) -> dict[str, str]:
        """Every job's status now, single jobs and batch items alike."""
        found = {j: self.call("GET", f"/v1/summaries/{j}").json()["status"] for j in self.jobs}
        for batch_id in self.batches:
            cursor: int | None = 0
            while cursor is not None:
                page = self.call("GET", f"/v1/batches/{batch_id}/results?cursor={cursor}").json()
                found.update({item["job_id"]: item["status"] for item in page["items"]})
                cursor = page["next_cursor"]
        return found


def work(load: Load, seed: int) -> list[Callable[[], None]]:
    """1,000 jobs of every kind, shuffled: each a call that submits it."""
    tags = [uuid.uuid4().hex[:10] for _ in range(MODEL_JOBS)]
    plan: list[Callable[[], None]] = []
    for tag in tags:
        body = {"text": story(tag), "length": "headline"}
        plan.append(lambda body=body: load.submit("/v1/summaries", body))
    rng = random.Random(seed)
    for tag in rng.sample(tags, REPEATS):  # a cache hit, or joined while in flight
        body = {"text": story(tag), "length": "headline"}
        plan.append(lambda body=body: load.submit("/v1/summaries", body))
    for _ in range(EXTRACTIVE):
        body = {"text": story(uuid.uuid4().hex[:10]), "mode": "extractive", "length": "short"}
        plan.append(lambda body=body: load.submit("/v1/summaries", body))
    for _ in range(BATCHES):
        items = [
            {"id": str(i), "text": story(uuid.uuid4().hex[:10])}
            | ({"mode": "extractive"} if i % 3 == 0 else {})
            for i in range(BATCH_ITEMS)
        ]
        body = {"items": items, "length": "headline"}
        plan.append(lambda body=body: load.submit("/v1/batches", body))
    rng.shuffle(plan)
    return plan


@pytest.fixture()
def stack(tmp_path: Path, tiny_bart_dir: Path) -> Iterator[tuple[RedisServer, WorkerProcess, str]]:
    """redis-server (AOF, fsync every second), a worker and the API, all this test's own."""
    server = RedisServer(tmp_path / "redis", fsync="everysec")
    server.start()
    settings = Settings(
        redis_url=server.url,
        model=str(tiny_bart_dir),
        data_dir=tmp_path / "data",
        task_time_limit_s=120,
        requeue_after_s=5,
        max_queue=100_000,
        log_level="INFO",
    )
    worker = WorkerProcess(settings, tmp_path / "worker.log")
    port = free_port()
    api = ApiProcess(settings, port, tmp_path / "api.log")
    try:
        worker.start()
        api.start()
        wait_for(lambda: answers_200(f"http://127.0.0.1:{port}/healthz"), 120, "the API")
        yield server, worker, f"http://127.0.0.1:{port}"
    finally:
        api.stop()
        worker.stop()
        server.stop()


def test_every_job_ends_once_through_worker_kills_and_a_redis_restart(
    stack: tuple[RedisServer, WorkerProcess, str],
) -> None:
    server, worker, base = stack
    load = Load(base)
    plan = work(load, seed=13)
    faults: list[str] = []
    started = time.monotonic()
    client = redis.Redis.from_url(server.url, decode_responses=True)
    keys = Keys()

    def in_flight() -> str:
        return f"{client.scard(keys.queued)} queued, {client.scard(keys.running_jobs)} running"

    def inject() -> None:
        for at, fault in FAULTS.items():
            wait_for(lambda at=at: load.answered >= at, 600, f"{at} submissions")
            faults.append(f"{fault} at {load.answered} submissions ({in_flight()})")
            if fault == "kill worker":
                worker.kill()
                worker.start()  # as a supervisor would; the dead one's jobs are orphans
            else:
                server.stop()
                server.start()

    injector = threading.Thread(target=inject, daemon=True)
    injector.start()

    def paced(index: int, step: Callable[[], None]) -> None:
        time.sleep(max(0.0, started + index / SUBMISSIONS_PER_S - time.monotonic()))
        step()

    with ThreadPoolExecutor(CLIENT_THREADS) as pool:
        for future in [pool.submit(paced, i, step) for i, step in enumerate(plan)]:
            future.result()
    injector.join(600)
    assert len(faults) == len(FAULTS), faults
    assert load.answered == len(plan)
    submitted_s = time.monotonic() - started

    def all_ended() -> dict[str, str] | None:
        statuses = load.job_statuses()
        return statuses if set(statuses.values()) <= TERMINAL else None

    try:
        statuses = wait_for(all_ended, END_DEADLINE_S, "every job to end", interval_s=2)
    except AssertionError:
        left = Counter(load.job_statuses().values())
        raise AssertionError(f"jobs left: {left}\n{worker.log_tail()}") from None
    run_twice = int(client.hget(keys.stats_jobs, "duplicate_ends") or 0)
    figures = {
        "accepted": MODEL_JOBS + REPEATS + EXTRACTIVE + BATCHES * BATCH_ITEMS,
        "jobs": len(statuses),
        "faults": faults,
        "lost": sum(1 for s in statuses.values() if s not in TERMINAL),
        "run_twice": run_twice,
        "http_5xx": sum(n for code, n in load.statuses.items() if code >= 500),
        "http": dict(sorted(load.statuses.items())),
        "connection_errors": load.connection_errors,
        "statuses": dict(Counter(statuses.values())),
        "submitted_s": round(submitted_s, 1),
        "all_ended_s": round(time.monotonic() - started, 1),
    }
    print("reliability figures:", json.dumps(figures))
    # Repeats may share their original's job (joined in flight): fewer ids than requests.
    assert MODEL_JOBS + EXTRACTIVE + BATCHES * BATCH_ITEMS <= len(statuses) <= 1000
    assert figures["run_twice"] == 0, figures
    assert figures["http_5xx"] == 0, figures
    assert figures["statuses"] == {"succeeded": len(statuses)}, figures
