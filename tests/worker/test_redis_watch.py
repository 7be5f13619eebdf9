"""The sweep judges a worker dead by its missing heartbeat only once Redis has answered for
a whole TTL: a heartbeat lapsed while Redis was away (or lost with a restart) belongs to
a worker that beats again within an interval, and whose job must not run a second time."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from nutgraf import models
from nutgraf.contract import SummaryOptions
from nutgraf.settings import Settings
from nutgraf.store import JobStore
from nutgraf.summarize import SummarizerCache
from nutgraf.telemetry import Telemetry
from worker import runtime
from worker.runtime import HEARTBEAT_TTL_S, RedisWatch

OTHER_WORKER = "other-host:4242:cafe0001"


def test_redis_must_answer_a_whole_ttl_before_a_missing_heartbeat_means_death() -> None:
    watch = RedisWatch(ttl_s=15)
    assert not watch.may_judge(100.0)  # nothing seen yet: a process just started
    watch.saw(True, 100.0)
    assert not watch.may_judge(114.9)
    assert watch.may_judge(115.0)
    watch.saw(False, 120.0)  # Redis away: the clock starts again when it answers
    watch.saw(True, 130.0)
    assert not watch.may_judge(140.0)
    watch.saw(True, 141.0)  # answering on: the clock is not reset
    assert watch.may_judge(145.0)


@pytest.fixture()
def sweeper(own_redis_url: str, tiny_bart_dir: Path, tmp_path: Path) -> Iterator[runtime.Runtime]:
    """A worker runtime in this process that leads the sweep, on a database of its own."""
    settings = Settings(redis_url=own_redis_url, model=str(tiny_bart_dir))
    client = redis.Redis.from_url(own_redis_url, decode_responses=True)
    store = JobStore(client, 60, 60)
    yield runtime.Runtime(
        settings, store, SummarizerCache("cpu", tmp_path), Telemetry(client, store.prefix)
    )
    client.close()


def test_a_job_whose_worker_lost_its_heartbeat_to_an_outage_is_not_run_again(
    sweeper: runtime.Runtime,
) -> None:
    store = sweeper.store
    spec = models.resolve(sweeper.settings.model)
    options = SummaryOptions(length="headline")
    job_id = store.submit(
        f"Storms flooded two towns. {uuid.uuid4().hex}", None, spec, options
    ).job_id
    # Another worker runs it; its heartbeat key expired while Redis was away.
    assert store.start(job_id, OTHER_WORKER) is not None
    assert not store.redis.exists(store.keys.worker(OTHER_WORKER))

    sweeper._redis_watch.saw(True, time.monotonic())  # Redis has just come back
    sweeper._reconcile()
    assert store.get(job_id)["status"] == "running"  # type: ignore[index]

    # A whole TTL of Redis answering, and still no beat: that worker died.
    sweeper._redis_watch.reachable_since = time.monotonic() - HEARTBEAT_TTL_S
    sweeper._reconcile()
    assert store.get(job_id)["status"] == "queued"  # type: ignore[index]


def test_a_job_held_past_the_visibility_timeout_by_a_live_consumer_is_sent_again(
    sweeper: runtime.Runtime,
) -> None:
    """A live consumer that holds a job's message but never starts it (its batch's messages
    were acknowledged after `start` failed for an earlier job of the batch) must not keep
    the job queued forever: held longer than the broker would wait, it is sent again."""
    from worker.queue import ready_messages

    store = sweeper.store
    spec = models.resolve(sweeper.settings.model)
    job_id = store.submit(
        f"Storms flooded two towns. {uuid.uuid4().hex}", None, spec, SummaryOptions()
    ).job_id
    store.reconciler.consumer_beat("live-consumer", 60)
    held_since = time.time() - sweeper.settings.visibility_timeout - 1
    assert store.reconciler.hold(job_id, "live-consumer", now=held_since)
    sweeper._redis_watch.reachable_since = time.monotonic() - HEARTBEAT_TTL_S
    before = ready_messages(sweeper.producer_app())
    sweeper._reconcile()
    assert store.redis.hget(store.keys.job(job_id), "held_by") is None
    assert ready_messages(sweeper.producer_app()) == before + 1

    # Held again, just now: the consumer is trusted with it until the timeout.
    assert store.reconciler.hold(job_id, "live-consumer")
    sweeper._reconcile()
    assert store.redis.hget(store.keys.job(job_id), "held_by") == "live-consumer"
    assert ready_messages(sweeper.producer_app()) == before + 1
