"""A job's life in Redis: submitted (or answered from the cache), started, ended once."""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

from nutgraf.contract import Lane, SummaryOptions, SummaryResult
from nutgraf.contract.states import TERMINAL, JobStatus
from nutgraf.models.specs import ModelSpec
from nutgraf.store.bodies import public_body
from nutgraf.store.cache import cache_key
from nutgraf.store.hot_hits import HotHits
from nutgraf.store.ids import new_job_id, now_rfc3339
from nutgraf.store.keys import Keys
from nutgraf.store.lanes import Lanes, lane_of
from nutgraf.store.lua import LuaScript
from nutgraf.store.submission import Submission


@dataclass(frozen=True)
class WorkItem:
    """What a worker needs to run a job."""

    job_id: str
    text: str
    title: str | None
    model: str
    options: SummaryOptions
    cache_key: str
    attempts: int
    lane: Lane = "interactive"
    created_at: float = 0.0  # epoch seconds: when it was submitted


def record_of(flat: list[str]) -> dict[str, str] | None:
    """read_job.lua's answer as a record; None when the job is unknown or expired, or was
    answered from a cache entry that is gone (never with the store's settings: the entry
    is kept as long as the record)."""
    raw = dict(zip(flat[::2], flat[1::2], strict=True))
    if not raw or (raw.get("cached") == "1" and "result" not in raw):
        return None
    return raw


def _cached(
    job_id: str, digest: str, record: dict[str, str], answer: list[str], callback_url: str | None
) -> Submission:
    """A submission answered from the cache: the record as written, with the result read."""
    record = {
        **record,
        "status": "succeeded",
        "cached": "1",
        "completed_at": record["created_at"],
        "result": answer[2],
        "model": answer[3],
    }
    if callback_url:
        record.update(callback_url=callback_url, callback_state="pending")
    return Submission("cached", job_id, digest, record)


def _flat(fields: dict[str, str]) -> str:
    """A record as the scripts take it: a JSON list [field, value, field, value ...]."""
    return json.dumps([item for pair in fields.items() for item in pair])


class Jobs:
    """Submit, start and end jobs; read them and wait for their end."""

    def __init__(
        self,
        client: Any,
        keys: Keys,
        job_ttl_s: int,
        cache_ttl_s: int,
        precision: str,
        lanes: Lanes,
    ) -> None:
        self.redis = client
        self.lanes = lanes
        self.keys = keys
        self.job_ttl_s = job_ttl_s
        self.cache_ttl_s = cache_ttl_s
        self.precision = precision  # the deployment's NUTGRAF_DTYPE, part of cache keys
        self.hot_hits = HotHits(client, keys, job_ttl_s)
        self._submit_cached = LuaScript(client, "submit_cached")
        self._submit = LuaScript(client, "submit")
        self._read = LuaScript(client, "read_job")
        self._start = LuaScript(client, "start")
        self._finish = LuaScript(client, "finish")

    def submit(
        self,
        text: str,
        title: str | None,
        model: ModelSpec,
        options: SummaryOptions,
        *,
        callback_url: str | None = None,
        batch_id: str | None = None,
        max_queue: int = 0,
        owner: str = "",
        lane: Lane = "interactive",
        ref: str | None = None,
    ) -> Submission:
        """Record a new job, or find the cached result or in-flight job for the same input.
        A `batch_id` makes that batch count this job's end; with `max_queue`, new work is
        refused (outcome `overloaded`) while that many jobs are queued. Only a job of the
        same `owner` (an API key's digest, "" without keys) is joined; the cache is shared.
        A new job waits in `lane`; with `ref`, the owner's older unfinished job of that
        story ends `cancelled` (superseded)."""
        submission = self._record(
            text, title, model, options, callback_url, batch_id, max_queue, owner, lane, ref
        )
        if ref and submission.outcome != "overloaded":
            self.supersede(owner, ref, submission.job_id)
        if submission.outcome == "created":
            submission = dataclasses.replace(submission, queue=self.lanes.place(submission.job_id))
        return submission

    def _record(
        self,
        text: str,
        title: str | None,
        model: ModelSpec,
        options: SummaryOptions,
        callback_url: str | None,
        batch_id: str | None,
        max_queue: int,
        owner: str,
        lane: Lane,
        ref: str | None,
    ) -> Submission:
        digest = cache_key(text, title, model, options, self.precision)
        # A hit with nothing of its own to record (no callback, no batch, no story to
        # supersede) may be answered from this process's memory, with the job of the same
        # article's last hit.
        plain = not callback_url and not batch_id and not ref
        hot = self.hot_hits.get(digest, owner) if plain else None
        if hot is not None:
            return hot
        job_id = new_job_id()
        # A cache hit's record holds no copy of the result: read_job.lua reads it from the
        # cache entry. Tried first, with no article: most repeats end here.
        pointer = {
            "id": job_id,
            "options": options.model_dump_json(),
            "cache_key": digest,
            "created_at": now_rfc3339(),
            "owner": owner,
            "lane": lane,
        }
        if batch_id:
            pointer["batch"] = batch_id
        if ref:
            pointer["ref"] = ref
        completed_at = pointer["created_at"]
        answer = self._submit_cached(
            cache=self.keys.cache(digest),
            job=self.keys.job(job_id),
            webhooks_due=self.keys.webhooks_due,
            stats_cache=self.keys.stats_cache,
            job_id=job_id,
            ttl_s=self.job_ttl_s,
            record=_flat(pointer),
            callback_url=callback_url or "",
            completed_at=completed_at,
            now=time.time(),
        )
        if answer[0] == "cached":
            submission = _cached(job_id, digest, pointer, answer, callback_url)
            if plain:
                self.hot_hits.put(submission, owner)
            return submission
        record = {
            **pointer,
            "status": "queued",
            "model": json.dumps(model.public()),
            "title": title or "",
            "cached": "0",
            "attempts": "0",
            "input": json.dumps({"characters": len(text)}),
            "callback_url": callback_url or "",
            "batch": batch_id or "",
        }
        outcome, value, *hit = self._submit(
            cache=self.keys.cache(digest),
            inflight=self.keys.owned_inflight(digest, owner),
            job=self.keys.job(job_id),
            text=self.keys.text(job_id),
            queued=self.keys.queued,
            webhooks_due=self.keys.webhooks_due,
            stats_cache=self.keys.stats_cache,
            job_id=job_id,
            ttl_s=self.job_ttl_s,
            prefix=self.keys.lua_prefix,
            article=text,
            record=_flat(record),
            batch_id=batch_id or "",
            callback_url=callback_url or "",
            completed_at=completed_at,
            now=time.time(),
            max_queue=max_queue,
            owner=owner,
            lane=lane,
        )
        if outcome == "cached":
            return _cached(job_id, digest, record, [outcome, value, *hit], callback_url)
        if outcome != "created":
            job_id, record = value, {}
        return Submission(outcome, job_id, digest, record)

    def record_invalid(self, text_chars: int, code: str, message: str, owner: str = "") -> str:
        """A job that failed before it could start (a batch item the API refused)."""
        job_id = new_job_id()
        stamp = now_rfc3339()
        with self.redis.pipeline() as pipe:
            pipe.hset(
                self.keys.job(job_id),
                mapping={
                    "id": job_id,
                    "status": "failed",
                    "model": "null",
                    "options": "{}",
                    "cached": "0",
                    "created_at": stamp,
                    "completed_at": stamp,
                    "attempts": "0",
                    "input": json.dumps({"characters": text_chars}),
                    "error": json.dumps({"code": code, "message": message}),
                    "owner": owner,
                },
            )
            pipe.expire(self.keys.job(job_id), self.job_ttl_s)
            pipe.hincrby(self.keys.stats_jobs, "failed", 1)
            pipe.execute()
        return job_id

    def abandon(self, job_id: str) -> None:
        """Remove a job that could not be enqueued, so that nothing waits for it."""
        digest, owner = self.redis.hmget(self.keys.job(job_id), ["cache_key", "owner"])
        keys = [self.keys.job(job_id), self.keys.text(job_id)]
        inflight = self.keys.owned_inflight(digest or "", owner or "")
        if digest and self.redis.get(inflight) == job_id:
            keys.append(inflight)
        self.redis.delete(*keys)
        self.redis.srem(self.keys.queued, job_id)

    def read(self, job_id: str, client: Any = None) -> dict[str, str] | None:
        """A job's record with its result (a cache hit's from its cache entry); None when
        unknown or expired. With `client` (a pipeline), queued there instead: see
        `record_of` for what its answer becomes."""
        flat = self._read(job=self.keys.job(job_id), prefix=self.keys.lua_prefix, client=client)
        return None if client is not None else record_of(flat)

    def get(self, job_id: str) -> dict[str, Any] | None:
        """The public JSON body of a job, or None when unknown or expired."""
        raw = self.read(job_id)
        return None if raw is None else self.body(raw)

    def get_owned(self, job_id: str, owner: str) -> dict[str, Any] | None:
        """The job's body if `owner` owns it; None when unknown, expired or another's."""
        raw = self.read(job_id)
        # A record from before owners has none: it counts as "", the owner without keys.
        if raw is None or raw.get("owner", "") != owner:
            return None
        return self.body(raw)

    def body(self, raw: dict[str, str]) -> dict[str, Any]:
        """The public body of a job record, with its place in its lane while it is queued."""
        body = public_body(raw)
        if body["status"] == "queued":
            body["queue"] = self.lanes.place(body["id"])
        return body

    def wait_for_end(self, job_id: str, timeout_s: float) -> dict[str, Any] | None:
        """The job's body once it has ended, or as it stands after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        try:
            # Subscribe before reading the status, so an end in between is not missed.
            pubsub.subscribe(self.keys.job_events(job_id))
            while True:
                body = self.get(job_id)
                remaining = deadline - time.monotonic()
                if body is None or body["status"] in TERMINAL or remaining <= 0:
                    return body
                # Re-read at least every second: a message lost to a reconnect costs 1 s.
                pubsub.get_message(timeout=min(remaining, 1.0))
        finally:
            pubsub.close()

    def start(self, job_id: str, worker: str) -> WorkItem | None:
        """Mark a job running and return its input; None if it is gone, already ended, or
        running under another live worker."""
        attempts = self._start(
            job=self.keys.job(job_id),
            running_jobs=self.keys.running_jobs,
            queued=self.keys.queued,
            started_at=now_rfc3339(),
            worker=worker,
            job_id=job_id,
            prefix=self.keys.lua_prefix,
        )
        if not attempts:
            return None
        with self.redis.pipeline() as pipe:
            pipe.hmget(
                self.keys.job(job_id),
                ["title", "model", "options", "cache_key", "lane", "created_at"],
            )
            pipe.get(self.keys.text(job_id))
            (title, model, options, digest, lane, created_at), text = pipe.execute()
        if text is None:
            self.fail(job_id, "expired", "the article expired before a worker reached it")
            return None
        try:
            return WorkItem(
                job_id=job_id,
                text=text,
                title=title or None,
                model=json.loads(model)["name"],
                options=SummaryOptions.model_validate_json(options),
                cache_key=digest,
                attempts=int(attempts),
                lane=lane_of({"lane": lane or ""}),
                created_at=datetime.fromisoformat(created_at).timestamp(),
            )
        except (ValueError, TypeError, KeyError) as exc:
            # A record this worker cannot read (written by a newer version, or damaged)
            # ends now; left `running`, nothing would ever end it.
            self.fail(job_id, "invalid_job", f"the job's record cannot be read: {exc}")
            return None

    def succeed(self, job_id: str, digest: str, model: ModelSpec, result: SummaryResult) -> bool:
        """Store the result on the job and in the cache; False if it had already ended."""
        fields = {"result": result.model_dump_json(), "model": json.dumps(model.public())}
        ended = self._end(job_id, "succeeded", fields, digest=digest, cached=_flat(fields))
        return ended[0] == "done"

    def fail(self, job_id: str, code: str, message: str) -> bool:
        """End a job as failed with an error the client can read; False if already ended."""
        fields = {"error": json.dumps({"code": code, "message": message})}
        return self._end(job_id, "failed", fields)[0] == "done"

    def cancel(
        self,
        job_id: str,
        owner: str | None = None,
        code: str = "cancelled",
        message: str = "cancelled by a client",
    ) -> Literal["cancelled", "ended", "missing"]:
        """End a queued or running job as cancelled (a worker running it stops its
        generation at the next decoding step); say why not otherwise. With `owner`,
        another owner's job is `missing`: it is not the caller's to cancel, or to know of."""
        # An owner is written once, when the job is created: checking it first is no race.
        if owner is not None and (self.redis.hget(self.keys.job(job_id), "owner") or "") != owner:
            return "missing"
        fields = {"error": json.dumps({"code": code, "message": message})}
        outcome = self._end(job_id, "cancelled", fields, cancel=True)[0]
        if outcome == "done":
            return "cancelled"
        return cast(Literal["ended", "missing"], outcome)

    def supersede(self, owner: str, ref: str, job_id: str) -> str | None:
        """Make `job_id` the owner's latest job of story `ref`, and end the one it replaces
        if that has not ended; returns the id of the job superseded, if any."""
        key = self.keys.ref(owner, ref)
        older = self.redis.set(key, job_id, ex=self.job_ttl_s, get=True)
        if not older or older == job_id:
            return None
        message = f"a newer revision of {ref!r} was submitted: job {job_id}"
        if self.cancel(older, code="superseded", message=message) != "cancelled":
            return None
        return str(older)

    def _end(
        self,
        job_id: str,
        status: JobStatus,
        fields: dict[str, str],
        *,
        digest: str = "",
        cached: str = "",
        cancel: bool = False,
    ) -> list[str]:
        """Run the finish script: ['done', status, <batches that ended>...] or why not."""
        fields = {**fields, "completed_at": now_rfc3339()}
        ended: list[str] = self._finish(
            job=self.keys.job(job_id),
            text=self.keys.text(job_id),
            running_jobs=self.keys.running_jobs,
            queued=self.keys.queued,
            stats_jobs=self.keys.stats_jobs,
            webhooks_due=self.keys.webhooks_due,
            watchers=self.keys.watchers(job_id),
            prefix=self.keys.lua_prefix,
            job_id=job_id,
            status=status,
            fields=_flat(fields),
            digest=digest,
            cached=cached,
            cache_ttl_s=self.cache_ttl_s,
            cancel="1" if cancel else "0",
            now=time.time(),
            completed_at=fields["completed_at"],
        )
        return ended

    def queue_depth(self) -> int:
        """Jobs waiting for a worker, in either lane."""
        with self.redis.pipeline() as pipe:
            pipe.scard(self.keys.queued)
            pipe.zcard(self.keys.bulk_pending)
            return sum(int(n) for n in pipe.execute())

    def job_counts(self) -> dict[str, int]:
        """Jobs queued and running now, and jobs ended by status since Redis started."""
        with self.redis.pipeline() as pipe:
            pipe.scard(self.keys.queued)
            pipe.zcard(self.keys.bulk_pending)
            pipe.scard(self.keys.running_jobs)
            pipe.hgetall(self.keys.stats_jobs)
            queued, pending, running, ended = pipe.execute()
        counts = {"queued": int(queued) + int(pending), "running": int(running)}
        for status in TERMINAL:
            counts[status] = int(ended.get(status, 0))
        return counts
