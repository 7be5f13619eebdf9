"""Batches in Redis: many jobs under one id, counted as they end, read page by page."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from nutgraf.contract import Lane, SummaryOptions
from nutgraf.contract.states import TERMINAL
from nutgraf.models.specs import ModelSpec
from nutgraf.store.bodies import batch_body, public_body
from nutgraf.store.ids import new_job_id, now_rfc3339
from nutgraf.store.jobs import Jobs, record_of
from nutgraf.store.keys import Keys
from nutgraf.store.lua import LuaScript, execute_reads

# Items pushed per RPUSH, so that a batch of thousands is not one huge command.
_PUSH_CHUNK = 500


@dataclass(frozen=True)
class BatchEntry:
    """One item of a batch as the API validated it: a job to submit, or its own error."""

    client_id: str
    characters: int
    text: str | None = None
    title: str | None = None
    model: ModelSpec | None = None
    options: SummaryOptions | None = None
    error: tuple[str, str] | None = None  # (code, message)
    lane: Lane = "bulk"
    ref: str | None = None  # the CMS's story id: supersedes the owner's older job of it


@dataclass(frozen=True)
class NewBatch:
    """A recorded batch and the job ids the caller must enqueue."""

    batch_id: str
    to_enqueue: list[tuple[str, str, BatchEntry]]  # job id, cache key, entry


class Batches:
    """Create batches of jobs, report their progress and results, cancel them."""

    def __init__(self, client: Any, keys: Keys, jobs: Jobs, job_ttl_s: int) -> None:
        self.redis = client
        self.keys = keys
        self.jobs = jobs
        self.job_ttl_s = job_ttl_s
        self._ended_at_once = LuaScript(client, "batch_ended_at_once")

    def create_batch(
        self, entries: list[BatchEntry], callback_url: str | None, owner: str = ""
    ) -> NewBatch:
        """Record a batch and its items, all `owner`'s (an API key's digest, "" without
        keys); return the job ids that still need a worker."""
        batch_id = new_job_id()
        batch_key = self.keys.batch(batch_id)
        self.redis.hset(
            batch_key,
            mapping={
                "id": batch_id,
                "status": "queued",
                "total": len(entries),
                "done": 0,
                "created_at": now_rfc3339(),
                "callback_url": callback_url or "",
                "owner": owner,
            },
        )
        self.redis.expire(batch_key, self.job_ttl_s)
        to_enqueue: list[tuple[str, str, BatchEntry]] = []
        ended_at_once = {"succeeded": 0, "failed": 0}
        pairs: list[str] = []
        for entry in entries:
            if entry.error is not None:
                code, message = entry.error
                job_id = self.jobs.record_invalid(entry.characters, code, message, owner)
                ended_at_once["failed"] += 1
            else:
                assert entry.text is not None and entry.model is not None
                assert entry.options is not None
                sub = self.jobs.submit(
                    entry.text,
                    entry.title,
                    entry.model,
                    entry.options,
                    batch_id=batch_id,
                    owner=owner,
                    lane=entry.lane,
                    ref=entry.ref,
                )
                job_id = sub.job_id
                if sub.outcome == "cached":
                    ended_at_once["succeeded"] += 1
                elif sub.outcome == "created":
                    to_enqueue.append((job_id, sub.cache_key, entry))
            pairs.append(json.dumps([entry.client_id, job_id]))
        items_key = self.keys.batch_items(batch_id)
        with self.redis.pipeline() as pipe:
            for start in range(0, len(pairs), _PUSH_CHUNK):
                pipe.rpush(items_key, *pairs[start : start + _PUSH_CHUNK])
            pipe.expire(items_key, self.job_ttl_s)
            pipe.execute()
        counts = [x for status, n in ended_at_once.items() if n for x in (status, n)]
        if counts:
            self._ended_at_once(
                prefix=self.keys.lua_prefix,
                batch_id=batch_id,
                completed_at=now_rfc3339(),
                now=time.time(),
                counts=json.dumps(counts),
            )
        return NewBatch(batch_id, to_enqueue)

    def _items(self, batch_id: str, start: int = 0, stop: int = -1) -> list[list[str]]:
        """[client id, job id] pairs of a batch, from `start` to `stop` (inclusive)."""
        return [
            json.loads(x) for x in self.redis.lrange(self.keys.batch_items(batch_id), start, stop)
        ]

    def get_batch(self, batch_id: str, owner: str | None = None) -> dict[str, Any] | None:
        """The public JSON body of a batch, with counts per status, or None when unknown
        (or, with `owner`, another owner's)."""
        raw = self.redis.hgetall(self.keys.batch(batch_id))
        if not raw or not _owned(raw.get("owner"), owner):
            return None
        # Ended items are counted by the script that ends them; only while some are
        # pending do their records need reading, to tell running ones from queued.
        total, done = int(raw["total"]), int(raw["done"])
        running = 0
        last_queued = None
        if done < total:
            items = self._items(batch_id)
            with self.redis.pipeline() as pipe:
                for _, job_id in items:
                    pipe.hget(self.keys.job(job_id), "status")
                statuses = pipe.execute()
            running = statuses.count("running")
            queued = [
                job_id for (_, job_id), s in zip(items, statuses, strict=True) if s == "queued"
            ]
            # Each lane runs an owner's jobs in the order they came: the batch's last queued
            # item is the last of it to run.
            last_queued = queued[-1] if queued else None
        counts = {"total": total, "queued": total - done - running, "running": running}
        counts.update({status: int(raw.get(status, 0)) for status in TERMINAL})
        body = batch_body(raw, counts)
        if last_queued is not None:
            place = self.jobs.lanes.place(last_queued)
            body["eta_s"] = place["eta_s"] if place else None
        return body

    def batch_exists(self, batch_id: str, owner: str | None = None) -> bool:
        """Whether a batch is known (and not expired), and with `owner`, that owner's."""
        if owner is None:
            return bool(self.redis.exists(self.keys.batch(batch_id)))
        found = self.redis.hmget(self.keys.batch(batch_id), ["id", "owner"])
        return found[0] is not None and _owned(found[1], owner)

    def batch_results(
        self, batch_id: str, cursor: int, limit: int
    ) -> tuple[list[dict[str, Any]], int | None]:
        """One page of a batch's items, each the job body under the client's own id."""
        items = self._items(batch_id, cursor, cursor + limit)  # one extra: more?
        page, more = items[:limit], len(items) > limit

        def queue(pipe: Any) -> None:
            for _, job_id in page:
                self.jobs.read(job_id, client=pipe)

        records = [record_of(flat) for flat in execute_reads(self.redis, queue)]
        queued = [job_id for (_, job_id), raw in zip(page, records, strict=True)
                  if raw is not None and raw.get("status") == "queued"]  # fmt: skip
        places = self.jobs.lanes.places(queued) if queued else {}
        results = []
        for (client_id, job_id), raw in zip(page, records, strict=True):
            if raw is not None:
                body = public_body(raw)
                body["queue"] = places.get(job_id)
            else:
                body = {"status": "failed", "error": {"code": "expired", "message": "expired"}}
            results.append({"id": client_id, "job_id": job_id, **{
                k: v for k, v in body.items() if k != "id"}})  # fmt: skip
        return results, (cursor + limit if more else None)

    def cancel_batch(self, batch_id: str, owner: str | None = None) -> int:
        """Cancel every item of a batch that has not ended, queued or running (with `owner`,
        only that owner's jobs: another's, joined by a batch from before owners, runs on);
        how many."""
        items = self._items(batch_id)
        return sum(self.jobs.cancel(job_id, owner) == "cancelled" for _, job_id in items)


def _owned(recorded: str | None, owner: str | None) -> bool:
    """Whether a record with owner `recorded` is `owner`'s (None: anyone's)."""
    # A record from before owners has none: it counts as "", the owner without keys.
    return owner is None or (recorded or "") == owner
