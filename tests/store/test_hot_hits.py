"""Repeated cache hits answered from the process's memory (issue 16), against a real Redis:
no Redis command per repeat, the job handed out readable, hits still counted, and nothing
handed out whose job Redis no longer has."""

from __future__ import annotations

import pytest

from helpers import article
from nutgraf.contract import InputStats, SummaryOptions, SummaryResult
from nutgraf.models.specs import ModelSpec
from nutgraf.store import JobStore, hot_hits

MODEL = ModelSpec("tiny", "test/tiny", "main", "seq2seq")
OPTIONS = SummaryOptions(length="short")
RESULT = SummaryResult(summary="The council voted.", input=InputStats(characters=40, tokens=9))


@pytest.fixture()
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The hot hits' clock, moved only by the test: a slow machine times out no entry."""
    now = [1000.0]
    monkeypatch.setattr(hot_hits.time, "monotonic", lambda: now[0])
    return now


def commands_run(store: JobStore) -> int:
    """Commands the Redis server has run since it started, all kinds."""
    stats = store.redis.info("commandstats")
    return sum(int(entry["calls"]) for entry in stats.values())


def cached(store: JobStore, tag: str) -> str:
    """An article whose summary is in the cache."""
    text = article(tag)
    job = store.submit(text, None, MODEL, OPTIONS)
    store.succeed(job.job_id, job.cache_key, MODEL, RESULT)
    return text


def test_a_repeated_hit_is_answered_from_memory_with_the_same_job(
    store: JobStore, clock: list[float]
) -> None:
    text = cached(store, "repeat")
    first = store.submit(text, None, MODEL, OPTIONS)
    assert first.outcome == "cached"
    before = commands_run(store)
    repeats = [store.submit(text, None, MODEL, OPTIONS) for _ in range(20)]
    # Only the INFO call that counted (and the one that counts now) reached Redis.
    assert commands_run(store) - before == 1
    assert {(r.outcome, r.job_id) for r in repeats} == {("cached", first.job_id)}
    assert repeats[0].body() == first.body() == store.get(first.job_id)
    clock[0] += hot_hits.CHECK_EVERY_S
    store.submit(text, None, MODEL, OPTIONS)  # this one counts the hits and checks the job
    assert store.redis.hget(store.keys.stats_cache, "hits") == "22"


def test_hits_answered_from_memory_are_counted(store: JobStore) -> None:
    text = cached(store, "counted")
    for _ in range(5):
        store.submit(text, None, MODEL, OPTIONS)
    store.jobs.hot_hits.check()
    assert store.redis.hget(store.keys.stats_cache, "hits") == "5"


def test_memory_is_per_owner_and_never_for_callbacks_or_batches(store: JobStore) -> None:
    text = cached(store, "owners")
    mine = store.submit(text, None, MODEL, OPTIONS, owner="a")
    assert store.submit(text, None, MODEL, OPTIONS, owner="a").job_id == mine.job_id
    theirs = store.submit(text, None, MODEL, OPTIONS, owner="b")
    assert theirs.outcome == "cached" and theirs.job_id != mine.job_id
    # A callback is due for every hit, and a batch counts its own items: a job each.
    hooked = store.submit(text, None, MODEL, OPTIONS, owner="a", callback_url="https://e.com/h")
    batched = store.submit(text, None, MODEL, OPTIONS, owner="a", batch_id="b1")
    assert len({mine.job_id, hooked.job_id, batched.job_id}) == 3
    assert store.redis.zrange(store.keys.webhooks_due, 0, -1) == [f"job:{hooked.job_id}"]


def test_a_job_redis_lost_is_not_handed_out_again(store: JobStore) -> None:
    text = cached(store, "lost")
    first = store.submit(text, None, MODEL, OPTIONS)
    store.redis.delete(store.keys.job(first.job_id))  # as after a restart without its data
    store.jobs.hot_hits.check()
    again = store.submit(text, None, MODEL, OPTIONS)
    assert again.outcome == "cached" and again.job_id != first.job_id
    assert store.get(again.job_id) == again.body()


def test_a_hot_hit_is_used_for_a_limited_time(store: JobStore, clock: list[float]) -> None:
    text = cached(store, "aged")
    first = store.submit(text, None, MODEL, OPTIONS)
    clock[0] += store.jobs.hot_hits.lifetime_s - 1
    assert store.submit(text, None, MODEL, OPTIONS).job_id == first.job_id
    clock[0] += 2
    later = store.submit(text, None, MODEL, OPTIONS)
    assert later.outcome == "cached" and later.job_id != first.job_id
    # Never past half the job's time to live: a job handed out stays readable for long.
    assert store.jobs.hot_hits.lifetime_s <= store.job_ttl_s / 2


def test_an_evicted_entry_makes_room(store: JobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hot_hits, "MAX_ENTRIES", 2)
    texts = [cached(store, f"room{i}") for i in range(3)]
    first = [store.submit(t, None, MODEL, OPTIONS).job_id for t in texts]
    # The least recently used (the first article) made room for the third.
    assert store.submit(texts[2], None, MODEL, OPTIONS).job_id == first[2]
    assert store.submit(texts[0], None, MODEL, OPTIONS).job_id != first[0]
