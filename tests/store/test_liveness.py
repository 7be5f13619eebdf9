"""Worker heartbeats against a real Redis: /readyz lists the live workers from an index
whose size is the number of workers, never by SCANning every key in the database."""

from __future__ import annotations

import redis

from helpers import wait_for
from nutgraf.store import JobStore


def _calls(client: redis.Redis, command: str) -> int:
    """How many times the server has run `command` since it started."""
    stats = client.info("commandstats").get(f"cmdstat_{command}")
    return int(stats["calls"]) if stats else 0


def test_workers_are_listed_without_scanning_the_keyspace(store: JobStore) -> None:
    # Many keys that are not heartbeats: a SCAN would have to walk all of them.
    store.redis.mset({f"{store.prefix}:job:{i}": "x" for i in range(2000)})
    store.heartbeat("w1", {"id": "w1", "models": {}}, 60)
    store.heartbeat("w2", {"id": "w2", "models": {}}, 60)
    scans, keys_calls = _calls(store.redis, "scan"), _calls(store.redis, "keys")
    listed = store.workers()
    assert sorted(w["id"] for w in listed) == ["w1", "w2"]
    assert _calls(store.redis, "scan") == scans
    assert _calls(store.redis, "keys") == keys_calls


def test_a_heartbeat_keeps_its_own_expiring_key_and_joins_the_index(store: JobStore) -> None:
    store.heartbeat("w1", {"id": "w1", "models": {}}, 30)
    # Other code (release_orphans) asks EXISTS on this key to decide a worker is alive.
    assert 0 < store.redis.ttl(store.keys.worker("w1")) <= 30
    assert store.redis.zrange(store.keys.workers, 0, -1) == ["w1"]
    now = store.redis.time()[0]
    score = store.redis.zscore(store.keys.workers, "w1")
    assert score is not None and now + 29 <= score <= now + 31
    # A second beat renews the same member, it does not add one.
    store.heartbeat("w1", {"id": "w1", "models": {"m": {}}}, 30)
    assert store.redis.zcard(store.keys.workers) == 1
    assert store.workers() == [{"id": "w1", "models": {"m": {}}}]


def test_expired_workers_drop_out_of_the_list_and_the_index(store: JobStore) -> None:
    store.heartbeat("gone", {"id": "gone", "models": {}}, 1)
    store.heartbeat("alive", {"id": "alive", "models": {}}, 60)
    wait_for(lambda: not store.redis.exists(store.keys.worker("gone")), 10, "the key to expire")
    wait_for(
        lambda: store.redis.time()[0] > (store.redis.zscore(store.keys.workers, "gone") or 0),
        10,
        "the index score to pass",
    )
    assert store.workers() == [{"id": "alive", "models": {}}]
    assert store.redis.zrange(store.keys.workers, 0, -1) == ["alive"]


def test_a_member_whose_key_was_deleted_is_not_listed(store: JobStore) -> None:
    # A worker's key deleted by hand (tests do, between workers) while its index entry lives.
    store.heartbeat("w1", {"id": "w1", "models": {}}, 60)
    store.redis.delete(store.keys.worker("w1"))
    assert store.workers() == []


def test_no_workers_is_an_empty_list(store: JobStore) -> None:
    assert store.workers() == []
