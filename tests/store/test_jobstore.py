"""JobStore against a real Redis, without a worker: each part and each Lua step it calls
(submit, start, finish, batch_ended_at_once, idempotency_claim, release_orphan)."""

from __future__ import annotations

import json

from helpers import article
from nutgraf.contract import InputStats, SummaryOptions, SummaryResult
from nutgraf.models.specs import ModelSpec
from nutgraf.store import BatchEntry, JobStore, Keys

MODEL = ModelSpec("tiny", "test/tiny", "main", "seq2seq")
OPTIONS = SummaryOptions(length="short")
RESULT = SummaryResult(summary="The council voted.", input=InputStats(characters=40, tokens=9))


def test_a_job_is_submitted_joined_started_and_ended_once(store: JobStore) -> None:
    text = article()
    first = store.submit(text, None, MODEL, OPTIONS)
    assert first.outcome == "created"
    assert first.body() == store.get(first.job_id)
    assert store.redis.get(store.keys.text(first.job_id)) == text
    assert store.queue_depth() == 1
    again = store.submit(text, None, MODEL, OPTIONS)
    assert (again.outcome, again.job_id, again.record) == ("existing", first.job_id, {})

    item = store.start(first.job_id, "worker-1")
    assert item is not None
    assert (item.text, item.model, item.options, item.attempts) == (text, "tiny", OPTIONS, 1)
    assert item.cache_key == first.cache_key
    assert store.job_counts()["running"] == 1
    assert store.succeed(first.job_id, item.cache_key, MODEL, RESULT)
    assert not store.fail(first.job_id, "late", "ended already")

    body = store.get(first.job_id)
    assert body is not None
    assert (body["status"], body["summary"], body["cached"]) == ("succeeded", RESULT.summary, False)
    assert store.wait_for_end(first.job_id, 5) == body
    assert not store.redis.exists(store.keys.text(first.job_id))
    assert not store.redis.exists(store.keys.inflight(first.cache_key))
    counts = store.job_counts()
    assert (counts["queued"], counts["running"], counts["succeeded"]) == (0, 0, 1)
    assert store.start(first.job_id, "worker-2") is None


def test_the_same_input_is_then_answered_from_the_cache(store: JobStore) -> None:
    text = article("cached")
    job = store.submit(text, "Title", MODEL, OPTIONS)
    store.succeed(job.job_id, job.cache_key, MODEL, RESULT)
    hit = store.submit(text, "Title", MODEL, OPTIONS, callback_url="https://example.com/h")
    assert hit.outcome == "cached"
    assert hit.job_id != job.job_id
    assert hit.body() == store.get(hit.job_id)
    body = hit.body()
    assert body is not None
    assert (body["status"], body["cached"], body["summary"]) == ("succeeded", True, RESULT.summary)
    assert body["callback"] == {"url": "https://example.com/h", "state": "pending", "attempts": []}
    due = store.redis.zrange(store.keys.webhooks_due, 0, -1)
    assert due == [f"job:{hit.job_id}"]
    assert store.redis.hget(store.keys.stats_cache, "hits") == "1"


def test_a_cache_hit_writes_a_pointer_not_a_copy_of_the_result(store: JobStore) -> None:
    # Issue 16: every hit copied the result (1.5 KB and more) into a record of its own,
    # which filled Redis's AOF and set off its rewrites under load.
    text = article("pointer")
    job = store.submit(text, None, MODEL, OPTIONS)
    store.succeed(job.job_id, job.cache_key, MODEL, RESULT)
    hit = store.submit(text, None, MODEL, OPTIONS)
    assert hit.outcome == "cached"
    record = store.redis.hgetall(store.keys.job(hit.job_id))
    assert "result" not in record and "model" not in record
    assert record["cache_key"] == hit.cache_key
    assert not store.redis.exists(store.keys.text(hit.job_id))  # the article is not kept
    body = store.get(hit.job_id)
    assert body is not None and body == hit.body()
    assert (body["summary"], body["model"]["name"], body["cached"]) == (
        RESULT.summary,
        "tiny",
        True,
    )
    assert store.jobs.get_owned(hit.job_id, "") == body


def test_the_cache_entry_outlives_the_records_that_point_at_it(store: JobStore) -> None:
    text = article("ttl")
    job = store.submit(text, None, MODEL, OPTIONS)
    store.succeed(job.job_id, job.cache_key, MODEL, RESULT)
    entry = store.keys.cache(job.cache_key)
    store.redis.expire(entry, 5)  # about to expire, the job TTL is 60 s
    hit = store.submit(text, None, MODEL, OPTIONS)
    assert store.redis.ttl(entry) > 50
    # Gone anyway (deleted by hand): the job reads as expired, never half a body.
    store.redis.delete(entry)
    assert store.get(hit.job_id) is None
    assert store.jobs.get_owned(hit.job_id, "") is None


def test_new_work_is_refused_while_the_queue_is_full(store: JobStore) -> None:
    store.submit(article(), None, MODEL, OPTIONS)
    refused = store.submit(article(), None, MODEL, OPTIONS, max_queue=1)
    assert (refused.outcome, refused.job_id) == ("overloaded", "")
    assert store.submit(article(), None, MODEL, OPTIONS, max_queue=2).outcome == "created"


def test_a_queued_or_running_job_can_be_cancelled_once(store: JobStore) -> None:
    queued = store.submit(article(), None, MODEL, OPTIONS)
    assert store.cancel(queued.job_id) == "cancelled"
    assert store.cancel(queued.job_id) == "ended"
    assert store.start(queued.job_id, "w") is None
    running = store.submit(article(), None, MODEL, OPTIONS)
    store.start(running.job_id, "w")
    assert store.cancel(running.job_id) == "cancelled"
    # The worker's end comes after the cancel: not applied, and no duplicate run counted.
    assert store.succeed(running.job_id, running.cache_key, MODEL, RESULT) is False
    assert store.redis.hget(store.keys.stats_jobs, "duplicate_ends") is None
    assert store.redis.sismember(store.keys.running_jobs, running.job_id) == 0
    assert store.cancel("no-such-job") == "missing"
    body = store.get(queued.job_id)
    assert body is not None
    assert body["error"] == {"code": "cancelled", "message": "cancelled by a client"}


def test_a_job_whose_article_expired_fails_at_start(store: JobStore) -> None:
    job = store.submit(article(), None, MODEL, OPTIONS)
    store.redis.delete(store.keys.text(job.job_id))
    assert store.start(job.job_id, "w") is None
    body = store.get(job.job_id)
    assert body is not None
    assert body["status"] == "failed"
    assert body["error"]["code"] == "expired"


def test_an_abandoned_job_leaves_nothing_behind(store: JobStore) -> None:
    job = store.submit(article(), None, MODEL, OPTIONS)
    store.abandon(job.job_id)
    assert store.get(job.job_id) is None
    assert not store.redis.exists(store.keys.inflight(job.cache_key))
    assert store.queue_depth() == 0


def test_a_batch_counts_its_items_as_they_end(store: JobStore) -> None:
    entries = [
        BatchEntry("a", 40, article("a"), None, MODEL, OPTIONS),
        BatchEntry("b", 3, error=("invalid_request", "text is empty")),
    ]
    batch = store.create_batch(entries, "https://example.com/b")
    [(job_id, _, entry)] = batch.to_enqueue
    assert entry.client_id == "a"
    assert store.batch_exists(batch.batch_id)
    body = store.get_batch(batch.batch_id)
    assert body is not None
    assert body["status"] == "running"  # one item ended already
    assert body["counts"] == {
        "total": 2, "queued": 1, "running": 0, "succeeded": 0, "failed": 1, "cancelled": 0,
    }  # fmt: skip
    assert store.fail(job_id, "model_error", "it broke")
    body = store.get_batch(batch.batch_id)
    assert body is not None
    assert (body["status"], body["progress"]) == ("failed", 1.0)
    assert body["callback"]["state"] == "pending"
    results, cursor = store.batch_results(batch.batch_id, 0, 1)
    assert cursor == 1
    assert [(r["id"], r["job_id"], r["status"]) for r in results] == [("a", job_id, "failed")]
    results, cursor = store.batch_results(batch.batch_id, 1, 10)
    assert cursor is None
    assert results[0]["error"] == {"code": "invalid_request", "message": "text is empty"}


def test_a_batch_whose_items_all_end_at_once_ends_at_once(store: JobStore) -> None:
    text = article("done")
    job = store.submit(text, None, MODEL, OPTIONS)
    store.succeed(job.job_id, job.cache_key, MODEL, RESULT)
    entries = [
        BatchEntry("hit", len(text), text, None, MODEL, OPTIONS),
        BatchEntry("bad", 0, error=("invalid_request", "empty")),
    ]
    batch = store.create_batch(entries, None)
    assert batch.to_enqueue == []
    body = store.get_batch(batch.batch_id)
    assert body is not None
    assert body["status"] == "partially_succeeded"
    assert body["completed_at"] is not None
    assert body["counts"]["succeeded"] == body["counts"]["failed"] == 1


def test_cancelling_a_batch_cancels_its_queued_and_running_items(store: JobStore) -> None:
    entries = [BatchEntry(str(i), 40, article(str(i)), None, MODEL, OPTIONS) for i in range(3)]
    batch = store.create_batch(entries, None)
    store.start(batch.to_enqueue[0][0], "w")
    assert store.cancel_batch(batch.batch_id) == 3
    body = store.get_batch(batch.batch_id)
    assert body is not None
    assert body["counts"]["cancelled"] == 3
    assert body["counts"]["running"] == 0


def test_idempotency_keys_claim_replay_and_release(store: JobStore) -> None:
    claim = store.claim_idempotency_key
    assert claim("client", "k1", "fp1", 60) == ("new", "")
    assert claim("client", "k1", "fp1", 60) == ("in_progress", "")
    assert claim("client", "k1", "fp2", 60) == ("mismatch", "")
    assert claim("other", "k1", "fp2", 60) == ("new", "")
    store.complete_idempotency_key("client", "k1", "fp1", "summary:abc", 60)
    assert claim("client", "k1", "fp1", 60) == ("replay", "summary:abc")
    store.release_idempotency_key("client", "k1")
    assert claim("client", "k1", "fp1", 60) == ("new", "")


def test_jobs_of_a_worker_that_stopped_beating_are_released(store: JobStore) -> None:
    store.heartbeat("alive", {"id": "alive", "models": {}}, 60)
    assert store.workers() == [{"id": "alive", "models": {}}]
    kept = store.submit(article(), None, MODEL, OPTIONS)
    orphan = store.submit(article(), None, MODEL, OPTIONS)
    store.start(kept.job_id, "alive")
    store.start(orphan.job_id, "dead")
    assert store.release_orphans() == [orphan.job_id]
    assert store.redis.hget(store.keys.job(orphan.job_id), "status") == "queued"
    assert store.redis.smembers(store.keys.queued) == {orphan.job_id}
    assert store.redis.smembers(store.keys.running_jobs) == {kept.job_id}
    item = store.start(orphan.job_id, "alive")
    assert item is not None
    assert item.attempts == 2


def test_every_key_a_job_writes_is_one_keys_py_names(store: JobStore) -> None:
    job = store.submit(article(), None, MODEL, OPTIONS, batch_id="b1")
    store.redis.hset(store.keys.batch("b1"), mapping={"id": "b1", "total": 1, "done": 0})
    store.start(job.job_id, "w")
    store.succeed(job.job_id, job.cache_key, MODEL, RESULT)
    keys = Keys(store.prefix)
    written = set(store.redis.scan_iter(match=f"{store.prefix}:*"))
    assert written == {
        keys.job(job.job_id),
        keys.cache(job.cache_key),
        keys.batch("b1"),
        keys.stats_jobs,
        keys.lane_seq,
    }
    assert json.loads(store.redis.hget(keys.cache(job.cache_key), "model")) == MODEL.public()
    assert store.redis.hget(keys.batch("b1"), "status") == "succeeded"


OWNER_A, OWNER_B = "a" * 64, "b" * 64


def test_a_job_in_flight_is_shared_only_with_its_own_owner(store: JobStore) -> None:
    text = article("owned")
    mine = store.submit(text, None, MODEL, OPTIONS, owner=OWNER_A)
    assert store.submit(text, None, MODEL, OPTIONS, owner=OWNER_A).job_id == mine.job_id
    theirs = store.submit(
        text, None, MODEL, OPTIONS, callback_url="https://b.example/hook", owner=OWNER_B
    )
    assert theirs.outcome == "created" and theirs.job_id != mine.job_id
    # B's callback stays on B's own job.
    assert store.redis.hget(store.keys.job(mine.job_id), "callback_url") == ""
    assert store.jobs.get_owned(mine.job_id, OWNER_B) is None
    assert store.jobs.get_owned(mine.job_id, OWNER_A) == store.get(mine.job_id)
    assert store.cancel(mine.job_id, owner=OWNER_B) == "missing"
    assert store.get(mine.job_id)["status"] == "queued"  # type: ignore[index]
    assert store.cancel(mine.job_id, owner=OWNER_A) == "cancelled"
    # Ending a job frees its owner's in-flight name, as it does the shared one.
    assert not store.redis.exists(store.keys.owned_inflight(mine.cache_key, OWNER_A))
    # The cache is shared: a finished result is public for identical input.
    assert store.succeed(theirs.job_id, theirs.cache_key, MODEL, RESULT)
    hit = store.submit(text, None, MODEL, OPTIONS, owner=OWNER_A)
    assert hit.outcome == "cached"
    assert store.jobs.get_owned(hit.job_id, OWNER_A) is not None
    assert store.jobs.get_owned(hit.job_id, OWNER_B) is None


def test_a_batch_cancels_only_its_owners_jobs(store: JobStore) -> None:
    texts = [article(str(i)) for i in range(2)]
    a_job = store.submit(texts[0], None, MODEL, OPTIONS, owner=OWNER_A)
    entries = [BatchEntry(str(i), 40, t, None, MODEL, OPTIONS) for i, t in enumerate(texts)]
    entries.append(BatchEntry("bad", 0, error=("invalid_request", "empty")))
    batch = store.create_batch(entries, None, owner=OWNER_B)
    assert len(batch.to_enqueue) == 2  # B joined nothing of A's
    assert a_job.job_id not in {job_id for job_id, _, _ in batch.to_enqueue}
    assert store.get_batch(batch.batch_id, owner=OWNER_A) is None
    assert not store.batch_exists(batch.batch_id, owner=OWNER_A)
    assert store.batch_exists(batch.batch_id, owner=OWNER_B)
    assert store.cancel_batch(batch.batch_id, owner=OWNER_A) == 0
    # A batch record from before owners (or any job a batch names) is cancelled by owner.
    store.redis.rpush(store.keys.batch_items(batch.batch_id), json.dumps(["a", a_job.job_id]))
    assert store.cancel_batch(batch.batch_id, owner=OWNER_B) == 2
    assert store.get(a_job.job_id)["status"] == "queued"  # type: ignore[index]
    results, _ = store.batch_results(batch.batch_id, 0, 10)
    invalid = results[2]["job_id"]
    assert store.jobs.get_owned(invalid, OWNER_B) is not None
    assert store.jobs.get_owned(invalid, OWNER_A) is None


def test_an_abandoned_owned_job_leaves_nothing_behind(store: JobStore) -> None:
    job = store.submit(article("abandoned"), None, MODEL, OPTIONS, owner=OWNER_A)
    assert store.redis.exists(store.keys.owned_inflight(job.cache_key, OWNER_A))
    store.abandon(job.job_id)
    assert not store.redis.exists(store.keys.owned_inflight(job.cache_key, OWNER_A))


def test_a_result_stored_before_a_field_existed_reads_with_its_default() -> None:
    from nutgraf.store import public_body

    old = {"summary": "S.", "input": {"characters": 2, "tokens": 1}, "checks": {}}
    record = {"id": "j", "status": "succeeded", "model": "{}", "created_at": "t"}
    body = public_body({**record, "result": json.dumps(old)})
    assert body["checks"] == {
        "unsupported": [],
        "regenerated": False,
        "fallback": False,
        "fallback_reason": None,
    }
    assert body["input"] == {
        "characters": 2,
        "tokens": 1,
        "chunks": 1,
        "truncated": False,
        "selected": False,
    }
