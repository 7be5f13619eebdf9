"""The reconciler and `start` against a real Redis: a job whose record says it should run is
sent again when nothing runs it, and a job already running never starts a second time."""

from __future__ import annotations

import time

import pytest

from helpers import article
from nutgraf.contract import SummaryOptions
from nutgraf.models.specs import ModelSpec
from nutgraf.store import JobStore

MODEL = ModelSpec("tiny", "test/tiny", "main", "seq2seq")
OPTIONS = SummaryOptions(length="short")


def submit(store: JobStore) -> str:
    """A new queued job (its record only: no message is sent here)."""
    return store.submit(article(), None, MODEL, OPTIONS).job_id


def waiting(store: JobStore, now: float) -> dict[str, float]:
    """Queued jobs held by no live consumer that have waited 60 s, as seen at `now`."""
    return store.reconciler.scan_queued(60, now=now).waiting


def test_jobs_held_by_a_consumer_that_died_are_abandoned_at_once(store: JobStore) -> None:
    held, free, started = submit(store), submit(store), submit(store)
    store.reconciler.consumer_beat("c1", 60)
    for job_id in (held, started):
        assert store.reconciler.hold(job_id, "c1")
    store.start(started, "w")
    assert not store.reconciler.hold(started, "c1")  # only queued jobs are held
    now = time.time()
    scan = store.reconciler.scan_queued(60, now=now + 3600)
    # Held by a live consumer, and no bound asked for: it will run it.
    assert (scan.abandoned, scan.waiting, scan.lost) == ([], {}, {})
    store.redis.delete(store.keys.consumer("c1"))  # c1 died: its heartbeat expired
    scan = store.reconciler.scan_queued(60, now=now + 3601)
    assert scan.abandoned == [held]
    assert free not in scan.abandoned
    store.reconciler.sent(scan.abandoned)
    assert store.redis.hget(store.keys.job(held), "held_by") is None
    assert store.reconciler.scan_queued(60, now=now + 3602).abandoned == []


def test_jobs_a_consumer_gave_back_are_held_by_nobody(store: JobStore) -> None:
    mine, taken = submit(store), submit(store)
    for job_id in (mine, taken):
        assert store.reconciler.hold(job_id, "c1")
    # Another consumer got this one's message first, after c1 gave it back.
    assert store.reconciler.hold(taken, "c2")
    store.reconciler.unhold([mine, taken], "c1")
    assert store.redis.hget(store.keys.job(mine), "held_by") is None
    assert store.redis.hget(store.keys.job(taken), "held_by") == "c2"
    # c1 gone: nothing it gave back counts as abandoned, and the other is live c2's.
    store.reconciler.consumer_beat("c2", 60)
    scan = store.reconciler.scan_queued(60, now=time.time())
    assert scan.abandoned == []


def test_a_job_running_on_a_live_worker_does_not_start_again(store: JobStore) -> None:
    job_id = submit(store)
    store.heartbeat("first", {"id": "first", "models": {}}, 60)
    first = store.start(job_id, "first")
    assert first is not None and first.attempts == 1
    # A second delivery (visibility timeout, a re-send) while the first run is alive.
    assert store.start(job_id, "second") is None
    assert store.redis.hget(store.keys.job(job_id), "worker") == "first"
    # Once the first worker is dead, a redelivery runs it: attempts count both runs.
    store.redis.delete(store.keys.worker("first"))
    again = store.start(job_id, "second")
    assert again is not None and again.attempts == 2


def test_one_process_leads_the_sweep_at_a_time(store: JobStore) -> None:
    reconciler = store.reconciler
    assert reconciler.lead("a", 30)
    assert not reconciler.lead("b", 30)
    assert reconciler.lead("a", 30)  # renewing
    store.redis.delete(store.keys.reconciler)  # the lease ran out: a died
    assert reconciler.lead("b", 30)
    assert not reconciler.lead("a", 30)
    ttl_ms = store.redis.pttl(store.keys.reconciler)
    assert 0 < ttl_ms <= 30_000


def test_a_queued_job_nothing_runs_is_stale_after_the_grace(store: JobStore) -> None:
    job_id = submit(store)
    now = time.time()
    # First sight starts the clock: nothing is stale yet.
    assert waiting(store, now) == {}
    assert waiting(store, now + 59) == {}
    assert waiting(store, now + 61) == {job_id: pytest.approx(61)}
    # Sent again: the clock restarts.
    store.reconciler.sent([job_id], now=now + 61)
    assert waiting(store, now + 100) == {}
    assert job_id in waiting(store, now + 122)


def test_a_started_or_ended_job_leaves_the_reconcilers_clock(store: JobStore) -> None:
    started, ended = submit(store), submit(store)
    now = time.time()
    waiting(store, now)
    assert store.redis.zcard(store.keys.queued_seen) == 2
    store.start(started, "w")
    store.fail(ended, "cancelled", "test")
    assert waiting(store, now + 120) == {}
    assert store.redis.zcard(store.keys.queued_seen) == 0


def test_a_queued_job_whose_record_expired_is_dropped(store: JobStore) -> None:
    job_id = submit(store)
    now = time.time()
    waiting(store, now)
    store.redis.delete(store.keys.job(job_id))
    assert waiting(store, now + 120) == {}
    assert not store.redis.sismember(store.keys.queued, job_id)


def test_a_job_running_past_the_time_limit_is_released_even_if_its_worker_beats(
    store: JobStore,
) -> None:
    stuck, fresh = submit(store), submit(store)
    store.heartbeat("w", {"id": "w", "models": {}}, 60)
    store.start(stuck, "w")
    store.start(fresh, "w")
    store.redis.hset(store.keys.job(stuck), "started_at", "2020-01-01T00:00:00Z")
    assert store.release_orphans() == []  # its worker is alive
    assert store.reconciler.release_overdue(900) == [stuck]
    assert store.redis.hget(store.keys.job(stuck), "status") == "queued"
    assert store.redis.smembers(store.keys.running_jobs) == {fresh}
    assert store.start(stuck, "other") is not None  # the next delivery runs it


def test_a_record_the_worker_cannot_read_ends_the_job_instead_of_stranding_it(
    store: JobStore,
) -> None:
    job_id = submit(store)
    # Options written by a newer version that this worker's schema rejects.
    store.redis.hset(store.keys.job(job_id), "options", '{"length": "epic"}')
    assert store.start(job_id, "w") is None
    body = store.get(job_id)
    assert body is not None and body["status"] == "failed"
    assert body["error"]["code"] == "invalid_job"
    assert not store.redis.sismember(store.keys.running_jobs, job_id)


def test_a_second_end_is_refused_and_counted(store: JobStore) -> None:
    job_id = submit(store)
    store.start(job_id, "w")
    assert store.fail(job_id, "summarization_failed", "first")
    assert not store.fail(job_id, "summarization_failed", "second")
    assert store.get(job_id)["error"]["message"] == "first"  # type: ignore[index]
    assert store.redis.hget(store.keys.stats_jobs, "duplicate_ends") == "1"
    assert store.cancel(job_id) == "ended"  # a late cancel is not a second run
    assert store.redis.hget(store.keys.stats_jobs, "duplicate_ends") == "1"


def test_a_job_a_live_consumer_holds_past_the_bound_is_lost(store: JobStore) -> None:
    job_id, fresh = submit(store), submit(store)
    store.reconciler.consumer_beat("c1", 60)
    now = time.time()
    assert store.reconciler.hold(job_id, "c1", now=now - 600)
    assert store.reconciler.hold(fresh, "c1", now=now - 10)
    scan = store.reconciler.scan_queued(60, now=now, held_for_s=540)
    assert scan.lost == {job_id: pytest.approx(600)}
    assert (scan.abandoned, scan.waiting) == ([], {})
    store.reconciler.sent(list(scan.lost), now=now)
    record = store.redis.hgetall(store.keys.job(job_id))
    assert "held_by" not in record and "held_at" not in record
    # Sent again and held by nobody: it waits the usual grace, not the bound.
    assert store.reconciler.scan_queued(60, now=now + 1, held_for_s=540).lost == {}
