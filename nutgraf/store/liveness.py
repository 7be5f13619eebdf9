"""Worker liveness: heartbeats that expire, and the jobs of workers that stopped beating."""

from __future__ import annotations

import json
from typing import Any

import redis

from nutgraf.store.keys import Keys
from nutgraf.store.lua import LuaScript


def _text(value: str | bytes) -> str:
    """A reply as text, whether or not the client decodes responses."""
    return value.decode() if isinstance(value, bytes) else value


class Liveness:
    """Announce live workers, list them, and hand a dead worker's jobs back to the queue."""

    def __init__(self, client: Any, keys: Keys) -> None:
        self.redis = client
        self.keys = keys
        self._release_orphan = LuaScript(client, "release_orphan")

    def eviction_policy(self) -> str | None:
        """Redis's maxmemory-policy, or None where CONFIG is disabled (managed services).
        Anything but `noeviction` lets Redis drop job records and queued messages."""
        try:
            policy: str = self.redis.config_get("maxmemory-policy")["maxmemory-policy"]
        except (redis.ResponseError, KeyError):
            return None
        return policy

    def heartbeat(self, worker_id: str, state: dict[str, Any], ttl_s: int) -> None:
        """Announce a live worker process and its models' states; expires unless renewed."""
        # Redis's clock, not ours: readers on other machines compare against the same one.
        now = self._now()
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self.keys.worker(worker_id), json.dumps(state), ex=ttl_s)
            pipe.zadd(self.keys.workers, {worker_id: now + ttl_s})
            # Dead workers' ids leave the index even when nobody asks /readyz.
            pipe.zremrangebyscore(self.keys.workers, "-inf", now)
            pipe.execute()

    def workers(self) -> list[dict[str, Any]]:
        """States of the worker processes whose heartbeat has not expired."""
        # An index as large as the number of workers: SCAN would walk every key in Redis.
        now = self._now()
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(self.keys.workers, "-inf", now)
            pipe.zrangebyscore(self.keys.workers, now, "+inf")
            ids = pipe.execute()[1]
        if not ids:
            return []
        # The per-worker key decides: it may be gone (deleted) while its entry lives on.
        values = self.redis.mget([self.keys.worker(_text(i)) for i in ids])
        return [json.loads(v) for v in values if v is not None]

    def _now(self) -> float:
        """Redis's clock, in epoch seconds."""
        seconds, micros = self.redis.time()
        return float(seconds) + micros / 1e6

    def release_orphans(self) -> list[str]:
        """Put back to `queued` the running jobs whose worker stopped beating (killed), and
        return their ids so the caller re-enqueues them. Faster than waiting for Redis's
        visibility timeout to hand the unacknowledged message out again."""
        released = []
        for job_id in self.redis.smembers(self.keys.running_jobs):
            owner = self.redis.hget(self.keys.job(job_id), "worker")
            if owner is None:
                self.redis.srem(self.keys.running_jobs, job_id)
                continue
            if self.redis.exists(self.keys.worker(owner)):
                continue
            if self._release_orphan(
                job=self.keys.job(job_id),
                running_jobs=self.keys.running_jobs,
                worker=self.keys.worker(owner),
                queued=self.keys.queued,
                job_id=job_id,
                owner=owner,
            ):
                released.append(job_id)
        return released
