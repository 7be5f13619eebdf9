"""nutgraf.store.keys: the key layout is pinned, since data in a running Redis outlives a
deploy, and the rate limiter's prefix stays where it was."""

from __future__ import annotations

import hashlib

from nutgraf.store.keys import PREFIX, RATE_LIMIT_PREFIX, Keys


def test_the_key_layout_is_pinned() -> None:
    keys = Keys()
    assert keys.prefix == PREFIX == "nutgraf"
    assert keys.lua_prefix == "nutgraf:"
    assert keys.job("j1") == "nutgraf:job:j1"
    assert keys.text("j1") == "nutgraf:text:j1"
    assert keys.cache("d1") == "nutgraf:cache:d1"
    assert keys.inflight("d1") == "nutgraf:inflight:d1"
    assert keys.queued == "nutgraf:queued"
    assert keys.running_jobs == "nutgraf:running:jobs"
    assert keys.watchers("j1") == "nutgraf:watchers:j1"
    assert keys.batch("b1") == "nutgraf:batch:b1"
    assert keys.batch_items("b1") == "nutgraf:batch_items:b1"
    assert keys.job_events("j1") == "nutgraf:events:job:j1"
    assert keys.batch_events("b1") == "nutgraf:events:batch:b1"
    assert keys.webhooks_due == "nutgraf:webhooks:due"
    assert keys.callback_record("job:j1") == keys.job("j1")
    assert keys.callback_record("batch:b1") == keys.batch("b1")
    assert keys.worker("host:1:ab") == "nutgraf:worker:host:1:ab"
    assert keys.worker("*") == "nutgraf:worker:*"
    assert keys.workers == "nutgraf:workers"
    assert keys.stats_jobs == "nutgraf:stats:jobs"
    assert keys.stats_cache == "nutgraf:stats:cache"
    assert keys.metric("batch_size") == "nutgraf:metrics:batch_size"
    assert RATE_LIMIT_PREFIX == "nutgraf:ratelimit"


def test_idempotency_keys_are_hashed_per_scope() -> None:
    keys = Keys()
    digest = hashlib.sha256(b"client-a\nkey 1").hexdigest()
    assert keys.idempotency("client-a", "key 1") == f"nutgraf:idem:{digest}"
    assert keys.idempotency("client-b", "key 1") != keys.idempotency("client-a", "key 1")


def test_another_prefix_moves_every_key() -> None:
    keys = Keys("t1")
    assert keys.job("j") == "t1:job:j"
    assert keys.webhooks_due == "t1:webhooks:due"
    assert keys.lua_prefix == "t1:"
