"""Redis Sentinel: a primary, a replica and three Sentinels as private processes on free
ports; the store, the rate limits' storage and the Celery broker (kombu's sentinel
transport) keep working after the primary is SIGKILLed and the Sentinels promote the
replica."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
from limits import RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from nutgraf.contract import SummaryOptions
from nutgraf.models.specs import ModelSpec
from nutgraf.settings import Settings
from nutgraf.store import JobStore
from nutgraf.store.jobstore import connect_to, primary_address
from nutgraf.store.server import find_redis_server, free_port
from service.security import limiter_storage
from worker.queue import create_producer, enqueue, ready_messages

MASTER = "nutgraf"
HOST = "127.0.0.1"
STARTUP_S = 15.0
FAILOVER_S = 60.0
MODEL = ModelSpec("tiny", "test/tiny", "main", "seq2seq")
OPTIONS = SummaryOptions(length="short")


def wait_until(check: Callable[[], Any], timeout_s: float, what: str) -> Any:
    """check()'s first truthy answer; fails the test after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(redis.RedisError, OSError):
            if answer := check():
                return answer
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.1)


@dataclass
class Node:
    """One redis-server process (a data node or a Sentinel), its config in its folder."""

    port: int
    folder: Path
    args: list[str]
    process: subprocess.Popen[bytes] | None = field(default=None)

    def start(self) -> None:
        """Start the process and wait until it answers PING."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / "log.txt").open("ab") as log:
            self.process = subprocess.Popen(
                [find_redis_server(), *self.args],
                cwd=self.folder,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        client = redis.Redis(host=HOST, port=self.port, socket_timeout=1)
        wait_until(client.ping, STARTUP_S, f"redis on port {self.port}")

    def kill(self) -> None:
        """SIGKILL, as a crashed host would stop."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def client(self) -> redis.Redis:
        return redis.Redis(host=HOST, port=self.port, socket_timeout=2, decode_responses=True)


@dataclass
class SentinelSet:
    """A primary, a replica of it, and three Sentinels watching them."""

    primary: Node
    replica: Node
    sentinels: list[Node]

    @property
    def addresses(self) -> list[str]:
        return [f"{HOST}:{node.port}" for node in self.sentinels]

    def master_port(self) -> int:
        """The primary's port as the first Sentinel names it now."""
        _, port = self.sentinels[0].client().sentinel_get_master_addr_by_name(MASTER)
        return int(port)

    def nodes(self) -> list[Node]:
        return [self.primary, self.replica, *self.sentinels]


def _data_node(folder: Path, port: int, replica_of: int | None = None) -> Node:
    args = ["--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no"]
    args += ["--dir", str(folder), "--daemonize", "no"]
    if replica_of is not None:
        args += ["--replicaof", HOST, str(replica_of)]
    return Node(port, folder, args)


def _sentinel(folder: Path, port: int, primary_port: int) -> Node:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "sentinel.conf"  # Sentinel rewrites it: a file of its own, writable
    config.write_text(
        f"port {port}\nbind {HOST}\ndaemonize no\ndir {folder}\n"
        f"sentinel monitor {MASTER} {HOST} {primary_port} 2\n"
        f"sentinel down-after-milliseconds {MASTER} 1000\n"
        f"sentinel failover-timeout {MASTER} 10000\n"
        f"sentinel parallel-syncs {MASTER} 1\n"
    )
    return Node(port, folder, [str(config), "--sentinel"])


@pytest.fixture()
def sentinel_set(tmp_path: Path) -> Iterator[SentinelSet]:
    """Started, the replica in sync and every Sentinel aware of the others."""
    primary_port, replica_port = free_port(), free_port()
    primary = _data_node(tmp_path / "primary", primary_port)
    replica = _data_node(tmp_path / "replica", replica_port, replica_of=primary_port)
    sentinels = [
        _sentinel(tmp_path / f"sentinel-{n}", free_port(), primary_port) for n in (1, 2, 3)
    ]
    found = SentinelSet(primary, replica, sentinels)
    try:
        for node in found.nodes():
            node.start()
        wait_until(
            lambda: primary.client().info("replication")["connected_slaves"] == 1,
            STARTUP_S,
            "the replica to connect",
        )
        for node in sentinels:
            wait_until(
                lambda node=node: (
                    int(node.client().sentinel_master(MASTER)["num-other-sentinels"]) == 2
                ),
                STARTUP_S,
                "the Sentinels to find each other",
            )
        yield found
    finally:
        for node in found.nodes():
            node.kill()


def _settings(found: SentinelSet) -> Settings:
    return Settings(
        redis_sentinels=",".join(found.addresses),
        redis_sentinel_master=MASTER,
        job_ttl_s=600,
        cache_ttl_s=600,
    )


def _fail_over(found: SentinelSet) -> None:
    """SIGKILL the primary (after its writes reached the replica) and wait for the
    Sentinels to promote the replica."""
    primary = found.primary.client()
    assert primary.wait(1, 5000) == 1  # everything written so far is on the replica
    found.primary.kill()
    wait_until(
        lambda: found.master_port() == found.replica.port,
        FAILOVER_S,
        "the Sentinels to promote the replica",
    )


def test_settings_without_a_master_name_are_refused() -> None:
    with pytest.raises(ValueError, match="NUTGRAF_REDIS_SENTINEL_MASTER"):
        Settings(redis_sentinels="h1:26379")
    with pytest.raises(ValueError, match="host:port"):
        Settings(redis_sentinels="h1", redis_sentinel_master=MASTER)


def test_the_store_limits_and_broker_follow_the_primary_through_a_failover(
    sentinel_set: SentinelSet,
) -> None:
    settings = _settings(sentinel_set)
    # The store: a job written through Lua (submit.lua), read back.
    store = JobStore.from_settings(settings, patient=True)
    assert primary_address(store.redis) == f"{HOST}:{sentinel_set.primary.port}"
    before = store.submit(f"an article {uuid.uuid4().hex}", None, MODEL, OPTIONS)
    assert store.get(before.job_id) is not None
    # The rate limits' storage, as service.security builds it.
    uri, options = limiter_storage(settings)
    limiter = MovingWindowRateLimiter(storage_from_string(uri, **options))
    per_minute = RateLimitItemPerMinute(100)
    assert limiter.hit(per_minute, "key")
    # The broker: kombu's sentinel transport, as the API and the workers build it.
    producer = create_producer(settings)
    enqueue(producer, "job-before")
    assert ready_messages(producer) == 1

    _fail_over(sentinel_set)

    # The same clients go on, now on the promoted replica; the scripts load there again
    # (its script cache is empty: NOSCRIPT, then SCRIPT LOAD).
    after = store.submit(f"another article {uuid.uuid4().hex}", None, MODEL, OPTIONS)
    assert store.get(before.job_id) is not None and store.get(after.job_id) is not None
    assert primary_address(store.redis) == f"{HOST}:{sentinel_set.replica.port}"
    promoted = sentinel_set.replica.client()
    assert promoted.info("replication")["role"] == "master"
    assert promoted.exists(store.keys.job(after.job_id))
    assert wait_until(lambda: limiter.hit(per_minute, "key"), 30, "the limiter")
    assert limiter.get_window_stats(per_minute, "key").remaining == 98
    enqueue(producer, "job-after")
    assert ready_messages(producer) == 2


def test_a_fresh_client_asks_the_sentinels(sentinel_set: SentinelSet) -> None:
    """connect_to names the Sentinels' primary, not NUTGRAF_REDIS_URL's host."""
    settings = _settings(sentinel_set)
    assert settings.redis_url == f"redis://{MASTER}/0"  # a name, never dialled
    client = connect_to(settings)
    client.set("probe", "1")
    assert sentinel_set.primary.client().get("probe") == "1"


def test_the_api_names_its_primary_and_answers_503_while_it_fails_over(
    sentinel_set: SentinelSet,
) -> None:
    """/readyz names the primary before and after; meanwhile a POST gets a 202, or a 503
    with Retry-After, never another status."""
    from service import create_app

    settings = _settings(sentinel_set).model_copy(update={"model": "smollm2-135m"})
    client = create_app(settings).test_client()
    store = JobStore.from_settings(settings)
    ready = {"models": {"smollm2-135m": {"state": "ready"}}, "loading": False}
    store.liveness.heartbeat("test-worker", ready, 120)

    first = client.get("/readyz")
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["redis"] == f"{HOST}:{sentinel_set.primary.port}"

    statuses: list[int] = []

    def post() -> int:
        text = f"An article about the council {uuid.uuid4().hex}."
        response = client.post("/v1/summaries", json={"text": text})
        if response.status_code == 503:
            assert int(response.headers["Retry-After"]) > 0
        statuses.append(response.status_code)
        return response.status_code

    assert post() == 202
    assert sentinel_set.primary.client().wait(1, 5000) == 1
    sentinel_set.primary.kill()
    while sentinel_set.master_port() != sentinel_set.replica.port:
        post()
        time.sleep(0.2)
    wait_until(lambda: post() == 202, 30, "a POST accepted on the new primary")
    assert set(statuses) <= {202, 503}, statuses
    assert 503 in statuses  # the primary was away for a while: said, not hidden

    after = client.get("/readyz")
    assert after.status_code == 200, after.get_json()
    assert after.get_json()["redis"] == f"{HOST}:{sentinel_set.replica.port}"
