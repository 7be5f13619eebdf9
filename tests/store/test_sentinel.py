"""Redis Sentinel: a primary, a replica and three Sentinels as private processes on free
ports; the store, the rate limits' storage and the Celery broker (kombu's sentinel
transport) keep working after the primary is SIGKILLed and the Sentinels promote the
replica."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from limits import RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from sentinels import (
    HOST,
    MASTER,
    SentinelSet,
    close_client,
    fail_over,
    started_sentinels,
    wait_until,
)

from nutgraf.contract import SummaryOptions
from nutgraf.models.specs import ModelSpec
from nutgraf.settings import Settings
from nutgraf.store import JobStore
from nutgraf.store.jobstore import connect_to, primary_address
from service.security import limiter_storage
from worker.queue import create_producer, enqueue, ready_messages

MODEL = ModelSpec("tiny", "test/tiny", "main", "seq2seq")
OPTIONS = SummaryOptions(length="short")


@pytest.fixture()
def sentinel_set(tmp_path: Path) -> Iterator[SentinelSet]:
    """A primary, a replica and three Sentinels of this test's own."""
    with started_sentinels(tmp_path) as found:
        yield found


@pytest.fixture()
def opened() -> Iterator[list[Any]]:
    """Clients a test opened, closed after it (with their Sentinel clients)."""
    clients: list[Any] = []
    yield clients
    for client in clients:
        close_client(client)


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
    fail_over(found)


def test_settings_without_a_master_name_are_refused() -> None:
    with pytest.raises(ValueError, match="NUTGRAF_REDIS_SENTINEL_MASTER"):
        Settings(redis_sentinels="h1:26379")
    with pytest.raises(ValueError, match="host:port"):
        Settings(redis_sentinels="h1", redis_sentinel_master=MASTER)


def test_the_store_limits_and_broker_follow_the_primary_through_a_failover(
    sentinel_set: SentinelSet, opened: list[Any]
) -> None:
    settings = _settings(sentinel_set)
    # The store: a job written through Lua (submit.lua), read back.
    store = JobStore.from_settings(settings, patient=True)
    opened.append(store.redis)
    assert primary_address(store.redis) == f"{HOST}:{sentinel_set.primary.port}"
    before = store.submit(f"an article {uuid.uuid4().hex}", None, MODEL, OPTIONS)
    assert store.get(before.job_id) is not None
    # The rate limits' storage, as service.security builds it.
    uri, options = limiter_storage(settings)
    storage = storage_from_string(uri, **options)
    opened.extend([storage.storage, storage.storage_slave])  # type: ignore[attr-defined]
    limiter = MovingWindowRateLimiter(storage)
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
    producer.close()


def test_a_fresh_client_asks_the_sentinels(sentinel_set: SentinelSet, opened: list[Any]) -> None:
    """connect_to names the Sentinels' primary, not NUTGRAF_REDIS_URL's host."""
    settings = _settings(sentinel_set)
    assert settings.redis_url == f"redis://{MASTER}/0"  # a name, never dialled
    client = connect_to(settings)
    opened.append(client)
    client.set("probe", "1")
    assert sentinel_set.primary.client().get("probe") == "1"


def test_the_api_names_its_primary_and_answers_503_while_it_fails_over(
    sentinel_set: SentinelSet, opened: list[Any]
) -> None:
    """/readyz names the primary before and after; meanwhile a POST gets a 202, or a 503
    with Retry-After, never another status."""
    from service import create_app

    settings = _settings(sentinel_set).model_copy(update={"model": "smollm2-135m"})
    app = create_app(settings)
    client = app.test_client()
    store = JobStore.from_settings(settings)
    opened.extend([store.redis, app.extensions["nutgraf.store"].redis])
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


def test_with_min_replicas_a_2xx_waits_for_a_replica_or_becomes_a_503(
    sentinel_set: SentinelSet, opened: list[Any]
) -> None:
    """NUTGRAF_REDIS_MIN_REPLICAS=1: answered once the replica has the write (WAIT); with
    the replica gone, a 503 with Retry-After after the timeout, and the write stands."""
    from service import create_app

    settings = _settings(sentinel_set).model_copy(
        update={
            "model": "smollm2-135m",
            "redis_min_replicas": 1,
            "redis_min_replicas_timeout_ms": 300,
        }
    )
    store = JobStore.from_settings(settings)
    assert store.replicated()
    app = create_app(settings)
    client = app.test_client()
    opened.extend([store.redis, app.extensions["nutgraf.store"].redis])
    ready = {"models": {"smollm2-135m": {"state": "ready"}}, "loading": False}
    store.liveness.heartbeat("test-worker", ready, 120)
    text = f"An article about the harbour {uuid.uuid4().hex}."
    assert client.post("/v1/summaries", json={"text": text}).status_code == 202

    sentinel_set.replica.kill()
    started = time.monotonic()
    assert not store.replicated()
    assert 0.25 < time.monotonic() - started < 5
    other = f"An article about the bridge {uuid.uuid4().hex}."
    refused = client.post("/v1/summaries", json={"text": other})
    assert refused.status_code == 503, refused.get_json()
    assert refused.headers["Retry-After"]
    assert "NUTGRAF_REDIS_MIN_REPLICAS" in refused.get_json()["error"]["message"]
    # Reads are answered as ever.
    assert client.get("/readyz").status_code == 200
