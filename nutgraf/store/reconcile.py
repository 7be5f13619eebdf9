"""The reconciler: the job record is the truth, and a periodic sweep makes the queue agree.

A job's record says `queued` or `running`; its queue message can still be lost: the API
died between writing the record and sending, Redis stopped with the message prefetched by a
worker, a worker died mid-batch. A Redis broker would hand an unacknowledged message out
again only after its visibility timeout (20 minutes by default); RabbitMQ does so as soon as
the consumer's connection closes, but no broker has a message the API never sent. The sweep,
run by one worker process at a time (a lease in Redis), finds such jobs sooner and the
caller sends them again; `start` refuses a job that is already running, so a second
message is harmless.

Which consumer holds a prefetched message is noted on the job (`held_by`, by the worker's
message handler), and consumers announce themselves with a heartbeat: when one dies, the
jobs it held are sent again within a heartbeat, backlog or not. Since when is noted too
(`held_at`): a live consumer that holds a job longer than the broker's visibility timeout
without starting it has lost its message (acknowledged with a batch whose `start` failed
before reaching it), and the job is sent again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nutgraf.store.keys import Keys
from nutgraf.store.lua import LuaScript


@dataclass
class QueuedScan:
    """Queued jobs whose message is likely lost, by why."""

    # Prefetched by a consumer that stopped beating: send again now.
    abandoned: list[str] = field(default_factory=list)
    # Held by no live consumer, queued past the grace (seconds waited): send again when
    # nothing else waits in the broker's queue (their message may be among what waits).
    waiting: dict[str, float] = field(default_factory=dict)
    # Held by a live consumer for longer than any prefetched message waits (seconds held):
    # its message was acknowledged without the job starting. Send again now.
    lost: dict[str, float] = field(default_factory=dict)


class Reconciler:
    """Finds jobs whose record and queue disagree; the caller re-enqueues what it returns."""

    def __init__(self, client: Any, keys: Keys) -> None:
        self.redis = client
        self.keys = keys
        self._lead = LuaScript(client, "lead")
        self._release_overdue = LuaScript(client, "release_overdue")
        self._hold = LuaScript(client, "hold")
        self._unhold = LuaScript(client, "unhold")

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

    def hold(self, job_id: str, consumer_id: str, now: float | None = None) -> bool:
        """Note that a consumer holds this queued job's message (prefetched), from now."""
        at = time.time() if now is None else now
        return bool(self._hold(job=self.keys.job(job_id), holder=consumer_id, at=at))

    def unhold(self, job_ids: list[str], consumer_id: str) -> None:
        """Note that a consumer gave these jobs' messages back to the broker unstarted."""
        for job_id in job_ids:
            self._unhold(job=self.keys.job(job_id), holder=consumer_id)

    def consumer_beat(self, consumer_id: str, ttl_s: int) -> None:
        """Announce a live consumer; its held jobs count as abandoned once this expires."""
        self.redis.set(self.keys.consumer(consumer_id), "1", ex=ttl_s)

    def scan_queued(
        self, older_than_s: float, now: float | None = None, held_for_s: float | None = None
    ) -> QueuedScan:
        """The queued jobs to send again: those held by a consumer that died, those no live
        consumer holds that have waited `older_than_s` since first seen or last sent, and
        (with `held_for_s`) those a live consumer has held that long without starting."""
        now = time.time() if now is None else now
        queued = sorted(self.redis.smembers(self.keys.queued))
        seen = dict(self.redis.zrange(self.keys.queued_seen, 0, -1, withscores=True))
        with self.redis.pipeline() as pipe:
            if gone := seen.keys() - set(queued):
                pipe.zrem(self.keys.queued_seen, *gone)
            if new := set(queued) - seen.keys():
                pipe.zadd(self.keys.queued_seen, dict.fromkeys(new, now), nx=True)
            for job_id in queued:
                pipe.hmget(self.keys.job(job_id), ["status", "held_by", "held_at"])
            answers = pipe.execute()
        records = answers[len(answers) - len(queued) :]
        holders = sorted({held_by for _, held_by, _ in records if held_by})
        with self.redis.pipeline() as pipe:
            for holder in holders:
                pipe.exists(self.keys.consumer(holder))
            alive = dict(zip(holders, pipe.execute(), strict=True))
        scan = QueuedScan()
        for job_id, (status, held_by, held_at) in zip(queued, records, strict=True):
            if status is None:
                # The record expired: nothing can run it, so it is not queued any more.
                self.redis.srem(self.keys.queued, job_id)
                self.redis.zrem(self.keys.queued_seen, job_id)
            elif status != "queued":
                continue
            elif held_by and not alive[held_by]:
                scan.abandoned.append(job_id)
            elif held_by:
                held_s = now - float(held_at) if held_at else 0.0
                if held_for_s is not None and held_s >= held_for_s:
                    scan.lost[job_id] = held_s
            elif now - seen.get(job_id, now) >= older_than_s:
                scan.waiting[job_id] = now - seen[job_id]
        return scan

    def sent(self, job_ids: list[str], now: float | None = None) -> None:
        """Restart the clock of jobs just sent again; no consumer holds them yet."""
        if job_ids:
            now = time.time() if now is None else now
            with self.redis.pipeline() as pipe:
                pipe.zadd(self.keys.queued_seen, dict.fromkeys(job_ids, now))
                for job_id in job_ids:
                    pipe.hdel(self.keys.job(job_id), "held_by", "held_at")
                pipe.execute()
