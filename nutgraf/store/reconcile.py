"""The reconciler: the job record is the truth, and a periodic sweep makes the queue agree.

A job's record says `queued` or `running`; its queue message can still be lost: the API
died between writing the record and sending, Redis stopped with the message prefetched by a
worker, a worker died mid-batch. The broker would hand an unacknowledged message out again
only after its visibility timeout (20 minutes by default). The sweep, run by one worker
process at a time (a lease in Redis), finds such jobs sooner and the caller sends them
again; `start` refuses a job that is already running, so a second message is harmless.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from nutgraf.store.keys import Keys
from nutgraf.store.lua import LuaScript


class Reconciler:
    """Finds jobs whose record and queue disagree; the caller re-enqueues what it returns."""

    def __init__(self, client: Any, keys: Keys) -> None:
        self.redis = client
        self.keys = keys
        self._lead = LuaScript(client, "lead")
        self._release_overdue = LuaScript(client, "release_overdue")

    def lead(self, holder: str, lease_s: float) -> bool:
        """Take or renew the sweep's lease; True while `holder` leads."""
        return bool(
            self._lead(lease=self.keys.reconciler, holder=holder, ttl_ms=int(lease_s * 1000))
        )

    def release_overdue(self, older_than_s: float, now: float | None = None) -> list[str]:
        """Put back to `queued` the jobs running longer than `older_than_s` (past the hard
        time limit nothing runs, so their worker lost them), and return their ids."""
        now = time.time() if now is None else now
        released = []
        for job_id in self.redis.smembers(self.keys.running_jobs):
            started_at = self.redis.hget(self.keys.job(job_id), "started_at")
            if (
                not started_at
                or now - datetime.fromisoformat(started_at).timestamp() < older_than_s
            ):
                continue
            if self._release_overdue(
                job=self.keys.job(job_id),
                running_jobs=self.keys.running_jobs,
                queued=self.keys.queued,
                job_id=job_id,
                started_at=started_at,
            ):
                released.append(job_id)
        return released

    def stale_queued(self, older_than_s: float, now: float | None = None) -> dict[str, float]:
        """Queued jobs no worker has started within `older_than_s` of being seen or sent,
        with that age in seconds. A job first seen now starts its clock now."""
        now = time.time() if now is None else now
        queued = set(self.redis.smembers(self.keys.queued))
        seen = dict(self.redis.zrange(self.keys.queued_seen, 0, -1, withscores=True))
        with self.redis.pipeline() as pipe:
            if gone := seen.keys() - queued:
                pipe.zrem(self.keys.queued_seen, *gone)
            if new := queued - seen.keys():
                pipe.zadd(self.keys.queued_seen, dict.fromkeys(new, now), nx=True)
            pipe.execute()
        stale = {
            job_id: now - since
            for job_id, since in seen.items()
            if job_id in queued and now - since >= older_than_s
        }
        for job_id in list(stale):
            if not self.redis.exists(self.keys.job(job_id)):
                # The record expired: nothing can run it, so it is not queued any more.
                self.redis.srem(self.keys.queued, job_id)
                self.redis.zrem(self.keys.queued_seen, job_id)
                del stale[job_id]
        return stale

    def sent(self, job_ids: list[str], now: float | None = None) -> None:
        """Restart the clock of jobs just sent again."""
        if job_ids:
            now = time.time() if now is None else now
            self.redis.zadd(self.keys.queued_seen, dict.fromkeys(job_ids, now))
