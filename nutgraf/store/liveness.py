"""Worker liveness: heartbeats that expire, and the jobs of workers that stopped beating."""

from __future__ import annotations

import json
from typing import Any

import redis

from nutgraf.store.keys import Keys
from nutgraf.store.lua import LuaScript


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
        self.redis.set(self.keys.worker(worker_id), json.dumps(state), ex=ttl_s)

    def workers(self) -> list[dict[str, Any]]:
        """States of the worker processes whose heartbeat has not expired."""
        keys = list(self.redis.scan_iter(match=self.keys.worker("*"), count=200))
        if not keys:
            return []
        return [json.loads(v) for v in self.redis.mget(keys) if v is not None]

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
