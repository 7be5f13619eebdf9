"""Job records and the summary cache in Redis: keys, TTLs and state changes."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, cast

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from nutgraf.contract import SummaryOptions, SummaryResult
from nutgraf.models import ModelSpec
from nutgraf.text import normalize

PREFIX = "nutgraf"
CACHE_KEY_VERSION = 2  # 2: cache entries are hashes (result, model)
Status = Literal["queued", "running", "succeeded", "failed", "cancelled"]
TERMINAL = ("succeeded", "failed", "cancelled")

# Atomic submit: a cache hit, a job already in flight for the same input, or a new job.
# Doing all three in one script means two identical POSTs can never both enqueue. A batch
# (ARGV[6]) watching the job is recorded in the same step, so that it cannot miss the end.
# Only new work is refused when the queue is full (ARGV[10]); a cache hit is one round trip.
_SUBMIT = """
local prefix, job, ttl = ARGV[3], ARGV[1], tonumber(ARGV[2])
local hit = redis.call('HMGET', KEYS[1], 'result', 'model')
if hit[1] then
  -- A cache hit still gets its own job record, so clients can GET it like any other.
  redis.call('HSET', KEYS[3], unpack(cjson.decode(ARGV[5])))
  redis.call('HSET', KEYS[3], 'status', 'succeeded', 'cached', '1', 'completed_at', ARGV[8],
             'result', hit[1], 'model', hit[2])
  if ARGV[7] ~= '' then
    redis.call('HSET', KEYS[3], 'callback_state', 'pending')
    redis.call('ZADD', prefix .. 'webhooks:due', ARGV[9], 'job:' .. job)
  end
  redis.call('EXPIRE', KEYS[3], ttl)
  redis.call('HINCRBY', prefix .. 'stats:cache', 'hits', 1)
  return {'cached', job, hit[1], hit[2]}
end
local current = redis.call('GET', KEYS[2])
local status = current and redis.call('HGET', prefix .. 'job:' .. current, 'status')
local joinable = status == 'queued' or status == 'running'
if joinable and ARGV[7] ~= '' then
  -- A job in flight is shared only if it has no callback, or the same one.
  local callback = redis.call('HGET', prefix .. 'job:' .. current, 'callback_url')
  if callback and callback ~= '' and callback ~= ARGV[7] then
    joinable = false
  else
    redis.call('HSET', prefix .. 'job:' .. current, 'callback_url', ARGV[7])
  end
end
if joinable then
  job = current
else
  local limit = tonumber(ARGV[10])
  if limit > 0 and redis.call('SCARD', prefix .. 'queued') >= limit then
    return {'overloaded', ''}
  end
  redis.call('SET', KEYS[2], job, 'EX', ttl)
  redis.call('SET', KEYS[4], ARGV[4], 'EX', ttl)
  redis.call('HSET', KEYS[3], unpack(cjson.decode(ARGV[5])))
  redis.call('EXPIRE', KEYS[3], ttl)
  redis.call('SADD', prefix .. 'queued', job)
end
if ARGV[6] ~= '' then
  local watchers = prefix .. 'watchers:' .. job
  redis.call('HINCRBY', watchers, ARGV[6], 1)
  redis.call('EXPIRE', watchers, ttl)
end
if job == ARGV[1] then return {'created', job} end
return {'existing', job}
"""
# Count `n` items of a batch as ended with `status`; when that was the last of them, end
# the batch and schedule its callback. Shared by the job-ending and batch-creating scripts.
_BATCH_ITEMS_ENDED = """
local function batch_items_ended(prefix, batch, status, n, now, stamp)
  local key = prefix .. 'batch:' .. batch
  if redis.call('EXISTS', key) == 0 then return false end
  redis.call('HINCRBY', key, status, n)
  local done = redis.call('HINCRBY', key, 'done', n)
  if done < tonumber(redis.call('HGET', key, 'total')) then return false end
  local succeeded = tonumber(redis.call('HGET', key, 'succeeded') or '0')
  local final = 'partially_succeeded'
  if succeeded == done then final = 'succeeded' elseif succeeded == 0 then final = 'failed' end
  redis.call('HSET', key, 'status', final, 'completed_at', stamp)
  local url = redis.call('HGET', key, 'callback_url')
  if url and url ~= '' then
    redis.call('HSET', key, 'callback_state', 'pending')
    redis.call('ZADD', prefix .. 'webhooks:due', now, 'batch:' .. batch)
  end
  redis.call('PUBLISH', prefix .. 'events:batch:' .. batch, final)
  return true
end
"""
# End a job exactly once (succeeded, failed or cancelled): result fields, cache entry,
# counters, the batches that watch it, its callback and a wake-up for waiting requests.
# ARGV[8] == '1' (cancel) ends only a job that has not started.
_FINISH = (
    _BATCH_ITEMS_ENDED
    + """
local prefix, job, status = ARGV[1], ARGV[2], ARGV[3]
local key = prefix .. 'job:' .. job
local current = redis.call('HGET', key, 'status')
if not current then return {'missing'} end
if current == 'succeeded' or current == 'failed' or current == 'cancelled' then
  return {'ended', current}
end
if ARGV[8] == '1' and current ~= 'queued' then return {'started', current} end
redis.call('HSET', key, 'status', status, unpack(cjson.decode(ARGV[4])))
redis.call('DEL', prefix .. 'text:' .. job)
redis.call('SREM', prefix .. 'running:jobs', job)
redis.call('SREM', prefix .. 'queued', job)
redis.call('HINCRBY', prefix .. 'stats:jobs', status, 1)
if ARGV[5] ~= '' then
  local cache = prefix .. 'cache:' .. ARGV[5]
  redis.call('HSET', cache, unpack(cjson.decode(ARGV[6])))
  redis.call('EXPIRE', cache, tonumber(ARGV[7]))
end
local digest = redis.call('HGET', key, 'cache_key')
if digest and redis.call('GET', prefix .. 'inflight:' .. digest) == job then
  redis.call('DEL', prefix .. 'inflight:' .. digest)
end
local now = tonumber(ARGV[9])
local url = redis.call('HGET', key, 'callback_url')
if url and url ~= '' then
  redis.call('HSET', key, 'callback_state', 'pending')
  redis.call('ZADD', prefix .. 'webhooks:due', now, 'job:' .. job)
end
local ended = {'done', status}
local watchers = redis.call('HGETALL', prefix .. 'watchers:' .. job)
for i = 1, #watchers, 2 do
  if batch_items_ended(prefix, watchers[i], status, tonumber(watchers[i + 1]), now, ARGV[10]) then
    table.insert(ended, watchers[i])
  end
end
redis.call('DEL', prefix .. 'watchers:' .. job)
redis.call('PUBLISH', prefix .. 'events:job:' .. job, status)
return ended
"""
)
# Items of a new batch that ended at once (cache hits, invalid items).
_BATCH_ENDED_AT_ONCE = (
    _BATCH_ITEMS_ENDED
    + """
local ended = 0
for i = 2, #ARGV, 2 do
  if batch_items_ended(KEYS[1], KEYS[2], ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[1]),
                       KEYS[3]) then ended = 1 end
end
return ended
"""
)
# Remember an Idempotency-Key: claim it, or report what it already stands for.
_IDEMPOTENCY_CLAIM = """
local claimed = redis.call('SET', KEYS[1], ARGV[1] .. '|', 'NX', 'EX', tonumber(ARGV[2]))
if claimed then return {'new', ''} end
local value = redis.call('GET', KEYS[1])
local sep = string.find(value, '|', 1, true)
local fingerprint, target = string.sub(value, 1, sep - 1), string.sub(value, sep + 1)
if fingerprint ~= ARGV[1] then return {'mismatch', ''} end
if target == '' then return {'in_progress', ''} end
return {'replay', target}
"""
# Claim a job for a worker: only queued or running (a redelivery) jobs can start.
_START = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status or status == 'succeeded' or status == 'failed' or status == 'cancelled' then
  return false end
redis.call('HSET', KEYS[1], 'status', 'running', 'started_at', ARGV[1], 'worker', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
redis.call('SREM', KEYS[3], ARGV[3])
return redis.call('HINCRBY', KEYS[1], 'attempts', 1)
"""
# Give a running job back to the queue if its worker is still the dead one we saw.
# Atomic, so that of several workers noticing the same orphan only one re-enqueues it.
_RELEASE_ORPHAN = """
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then
  redis.call('SREM', KEYS[2], ARGV[1]) return 0 end
if redis.call('HGET', KEYS[1], 'worker') ~= ARGV[2] then return 0 end
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'status', 'queued', 'worker', '')
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[1])
return 1
"""


def now_rfc3339() -> str:
    """Current UTC time as RFC 3339 with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_job_id() -> str:
    """A URL-safe random job id."""
    return secrets.token_urlsafe(12)


def cache_key(
    text: str,
    title: str | None,
    model: ModelSpec,
    options: SummaryOptions,
    precision: str = "auto",
) -> str:
    """sha256 over everything that changes the output: normalized text and title, model
    name and revision, the weights' precision (NUTGRAF_DTYPE), and every option."""
    material = json.dumps(
        {
            "v": CACHE_KEY_VERSION,
            "text": normalize(text),
            "title": normalize(title) if title else None,
            "model": model.name,
            "revision": model.revision,
            "precision": precision,
            "options": options.model_dump(mode="json"),
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(material.encode()).hexdigest()


@dataclass(frozen=True)
class Submission:
    """Outcome of a submit: `created` (enqueue it), `existing` (in flight), `cached`, or
    `overloaded` (refused: the queue is full)."""

    outcome: Literal["created", "existing", "cached", "overloaded"]
    job_id: str
    cache_key: str
    record: dict[str, str]  # the job's record as written (created, cached); else empty

    def body(self) -> dict[str, Any] | None:
        """The job's public body as this submit left it, if known without a read."""
        return public_body(self.record) if self.record else None


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


@dataclass(frozen=True)
class NewBatch:
    """A recorded batch and the job ids the caller must enqueue."""

    batch_id: str
    to_enqueue: list[tuple[str, str, BatchEntry]]  # job id, cache key, entry


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


class JobStore:
    """All Redis keys of nutgraf live behind this class."""

    def __init__(
        self,
        client: redis.Redis,
        job_ttl_s: int,
        cache_ttl_s: int,
        prefix: str = PREFIX,
        precision: str = "auto",
    ) -> None:
        # Any: the client decodes to str (decode_responses=True), which redis-py's types
        # cannot express; they would force a cast at every call.
        self.redis: Any = client
        self.precision = precision  # the deployment's NUTGRAF_DTYPE, part of cache keys
        self.job_ttl_s = job_ttl_s
        self.cache_ttl_s = cache_ttl_s
        self.prefix = prefix
        self._submit = client.register_script(_SUBMIT)
        self._start = client.register_script(_START)
        self._release_orphan = client.register_script(_RELEASE_ORPHAN)
        self._finish_script = client.register_script(_FINISH)
        self._batch_ended_at_once = client.register_script(_BATCH_ENDED_AT_ONCE)
        self._claim_idempotency = client.register_script(_IDEMPOTENCY_CLAIM)
        self.queued_key = f"{prefix}:queued"

    @classmethod
    def from_url(
        cls,
        url: str,
        job_ttl_s: int,
        cache_ttl_s: int,
        *,
        patient: bool = False,
        precision: str = "auto",
    ) -> JobStore:
        """Connect lazily. `patient` clients (workers) ride out a Redis restart of about a
        minute; impatient ones (the API) fail fast so clients get a 503 at once."""
        retry = Retry(ExponentialBackoff(cap=5.0, base=0.2), retries=20 if patient else 1)
        client = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=2,
            socket_timeout=10,
            health_check_interval=15,
            retry=retry,
            retry_on_error=[redis.ConnectionError, redis.TimeoutError],
        )
        return cls(client, job_ttl_s, cache_ttl_s, precision=precision)

    def key(self, kind: str, ident: str) -> str:
        """Namespaced key, e.g. nutgraf:job:<id>."""
        return f"{self.prefix}:{kind}:{ident}"

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
    ) -> Submission:
        """Record a new job, or find the cached result or in-flight job for the same input.
        A `batch_id` makes that batch count this job's end; with `max_queue`, new work is
        refused (outcome `overloaded`) while that many jobs are queued."""
        digest = cache_key(text, title, model, options, self.precision)
        job_id = new_job_id()
        record = {
            "id": job_id,
            "status": "queued",
            "model": json.dumps(model.public()),
            "options": options.model_dump_json(),
            "title": title or "",
            "cache_key": digest,
            "cached": "0",
            "created_at": now_rfc3339(),
            "attempts": "0",
            "input": json.dumps({"characters": len(text)}),
            "callback_url": callback_url or "",
            "batch": batch_id or "",
        }
        flat = [item for pair in record.items() for item in pair]
        completed_at = now_rfc3339()
        outcome, value, *hit = self._submit(
            keys=[
                self.key("cache", digest),
                self.key("inflight", digest),
                self.key("job", job_id),
                self.key("text", job_id),
            ],
            args=[
                job_id,
                self.job_ttl_s,
                f"{self.prefix}:",
                text,
                json.dumps(flat),
                batch_id or "",
                callback_url or "",
                completed_at,
                time.time(),
                max_queue,
            ],
        )
        if outcome == "cached":
            # The record as the script wrote it: the caller needs no second round trip.
            record.update(
                status="succeeded",
                cached="1",
                completed_at=completed_at,
                result=hit[0],
                model=hit[1],
            )
            if callback_url:
                record["callback_state"] = "pending"
        elif outcome != "created":
            job_id, record = value, {}
        return Submission(outcome, job_id, digest, record)

    def record_invalid(self, text_chars: int, code: str, message: str) -> str:
        """A job that failed before it could start (a batch item the API refused)."""
        job_id = new_job_id()
        stamp = now_rfc3339()
        with self.redis.pipeline() as pipe:
            pipe.hset(
                self.key("job", job_id),
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
                },
            )
            pipe.expire(self.key("job", job_id), self.job_ttl_s)
            pipe.hincrby(self.key("stats", "jobs"), "failed", 1)
            pipe.execute()
        return job_id

    def abandon(self, job_id: str) -> None:
        """Remove a job that could not be enqueued, so that nothing waits for it."""
        digest = self.redis.hget(self.key("job", job_id), "cache_key")
        keys = [self.key("job", job_id), self.key("text", job_id)]
        if digest and self.redis.get(self.key("inflight", digest)) == job_id:
            keys.append(self.key("inflight", digest))
        self.redis.delete(*keys)
        self.redis.srem(self.queued_key, job_id)

    def get(self, job_id: str) -> dict[str, Any] | None:
        """The public JSON body of a job, or None when unknown or expired."""
        raw = self.redis.hgetall(self.key("job", job_id))
        if not raw:
            return None
        return public_body(raw)

    def wait_for_end(self, job_id: str, timeout_s: float) -> dict[str, Any] | None:
        """The job's body once it has ended, or as it stands after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        try:
            # Subscribe before reading the status, so an end in between is not missed.
            pubsub.subscribe(self.key("events", f"job:{job_id}"))
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
        """Mark a job running and return its input; None if it is gone or already ended."""
        attempts = self._start(
            keys=[self.key("job", job_id), self.key("running", "jobs"), self.queued_key],
            args=[now_rfc3339(), worker, job_id],
        )
        if not attempts:
            return None
        with self.redis.pipeline() as pipe:
            pipe.hmget(self.key("job", job_id), ["title", "model", "options", "cache_key"])
            pipe.get(self.key("text", job_id))
            (title, model, options, digest), text = pipe.execute()
        if text is None:
            self.fail(job_id, "expired", "the article expired before a worker reached it")
            return None
        return WorkItem(
            job_id=job_id,
            text=text,
            title=title or None,
            model=json.loads(model)["name"],
            options=SummaryOptions.model_validate_json(options),
            cache_key=digest,
            attempts=int(attempts),
        )

    def succeed(self, job_id: str, digest: str, model: ModelSpec, result: SummaryResult) -> bool:
        """Store the result on the job and in the cache; False if it had already ended."""
        fields = {"result": result.model_dump_json(), "model": json.dumps(model.public())}
        cached = json.dumps([item for pair in fields.items() for item in pair])
        return self._finish(job_id, "succeeded", fields, digest, cached)[0] == "done"

    def fail(self, job_id: str, code: str, message: str) -> bool:
        """End a job as failed with an error the client can read; False if already ended."""
        fields = {"error": json.dumps({"code": code, "message": message})}
        return self._finish(job_id, "failed", fields)[0] == "done"

    def cancel(self, job_id: str) -> Literal["cancelled", "started", "ended", "missing"]:
        """Cancel a job that no worker has started; say why not otherwise."""
        fields = {"error": json.dumps({"code": "cancelled", "message": "cancelled by a client"})}
        outcome = self._finish(job_id, "cancelled", fields, only_if_queued=True)[0]
        if outcome == "done":
            return "cancelled"
        return cast(Literal["started", "ended", "missing"], outcome)

    def _finish(
        self,
        job_id: str,
        status: Status,
        fields: dict[str, str],
        digest: str = "",
        cached: str = "",
        *,
        only_if_queued: bool = False,
    ) -> list[str]:
        fields = {**fields, "completed_at": now_rfc3339()}
        ended: list[str] = self._finish_script(
            args=[
                f"{self.prefix}:",
                job_id,
                status,
                json.dumps([item for pair in fields.items() for item in pair]),
                digest,
                cached,
                self.cache_ttl_s,
                "1" if only_if_queued else "0",
                time.time(),
                fields["completed_at"],
            ],
        )
        return ended

    def queue_depth(self) -> int:
        """Jobs waiting for a worker."""
        return int(self.redis.scard(self.queued_key))

    def job_counts(self) -> dict[str, int]:
        """Jobs queued and running now, and jobs ended by status since Redis started."""
        with self.redis.pipeline() as pipe:
            pipe.scard(self.queued_key)
            pipe.scard(self.key("running", "jobs"))
            pipe.hgetall(self.key("stats", "jobs"))
            queued, running, ended = pipe.execute()
        counts = {"queued": int(queued), "running": int(running)}
        for status in TERMINAL:
            counts[status] = int(ended.get(status, 0))
        return counts

    # -- batches ---------------------------------------------------------------------

    def create_batch(self, entries: list[BatchEntry], callback_url: str | None) -> NewBatch:
        """Record a batch and its items; return the job ids that still need a worker."""
        batch_id = new_job_id()
        batch_key = self.key("batch", batch_id)
        self.redis.hset(
            batch_key,
            mapping={
                "id": batch_id,
                "status": "queued",
                "total": len(entries),
                "done": 0,
                "created_at": now_rfc3339(),
                "callback_url": callback_url or "",
            },
        )
        self.redis.expire(batch_key, self.job_ttl_s)
        to_enqueue: list[tuple[str, str, BatchEntry]] = []
        ended_at_once = {"succeeded": 0, "failed": 0}
        pairs: list[str] = []
        for entry in entries:
            if entry.error is not None:
                code, message = entry.error
                job_id = self.record_invalid(entry.characters, code, message)
                ended_at_once["failed"] += 1
            else:
                assert entry.text is not None and entry.model is not None
                assert entry.options is not None
                sub = self.submit(
                    entry.text, entry.title, entry.model, entry.options, batch_id=batch_id
                )
                job_id = sub.job_id
                if sub.outcome == "cached":
                    ended_at_once["succeeded"] += 1
                elif sub.outcome == "created":
                    to_enqueue.append((job_id, sub.cache_key, entry))
            pairs.append(json.dumps([entry.client_id, job_id]))
        items_key = self.key("batch_items", batch_id)
        with self.redis.pipeline() as pipe:
            for start in range(0, len(pairs), 500):
                pipe.rpush(items_key, *pairs[start : start + 500])
            pipe.expire(items_key, self.job_ttl_s)
            pipe.execute()
        counts = [x for status, n in ended_at_once.items() if n for x in (status, n)]
        if counts:
            self._batch_ended_at_once(
                keys=[f"{self.prefix}:", batch_id, now_rfc3339()], args=[time.time(), *counts]
            )
        return NewBatch(batch_id, to_enqueue)

    def _batch_items(self, batch_id: str, start: int = 0, stop: int = -1) -> list[list[str]]:
        return [
            json.loads(x) for x in self.redis.lrange(self.key("batch_items", batch_id), start, stop)
        ]

    def get_batch(self, batch_id: str) -> dict[str, Any] | None:
        """The public JSON body of a batch, with counts per status, or None when unknown."""
        raw = self.redis.hgetall(self.key("batch", batch_id))
        if not raw:
            return None
        # Ended items are counted by the script that ends them; only while some are
        # pending do their records need reading, to tell running ones from queued.
        total, done = int(raw["total"]), int(raw["done"])
        running = 0
        if done < total:
            with self.redis.pipeline() as pipe:
                for _, job_id in self._batch_items(batch_id):
                    pipe.hget(self.key("job", job_id), "status")
                running = pipe.execute().count("running")
        counts = {"total": total, "queued": total - done - running, "running": running}
        counts.update({status: int(raw.get(status, 0)) for status in TERMINAL})
        status = raw["status"]
        if status == "queued" and done + running:
            status = "running"
        return {
            "id": raw["id"],
            "status": status,
            "created_at": raw["created_at"],
            "completed_at": raw.get("completed_at") or None,
            "counts": counts,
            "progress": round(done / total, 4) if total else 1.0,
            "callback": callback_body(raw),
            "results_url": f"/v1/batches/{batch_id}/results",
        }

    def batch_exists(self, batch_id: str) -> bool:
        """Whether a batch is known (and not expired)."""
        return bool(self.redis.exists(self.key("batch", batch_id)))

    def batch_results(
        self, batch_id: str, cursor: int, limit: int
    ) -> tuple[list[dict[str, Any]], int | None]:
        """One page of a batch's items, each the job body under the client's own id."""
        items = self._batch_items(batch_id, cursor, cursor + limit)  # one extra: more?
        page, more = items[:limit], len(items) > limit
        with self.redis.pipeline() as pipe:
            for _, job_id in page:
                pipe.hgetall(self.key("job", job_id))
            records = pipe.execute()
        results = []
        for (client_id, job_id), raw in zip(page, records, strict=True):
            if raw:
                body = public_body(raw)
            else:
                body = {"status": "failed", "error": {"code": "expired", "message": "expired"}}
            results.append({"id": client_id, "job_id": job_id, **{
                k: v for k, v in body.items() if k != "id"}})  # fmt: skip
        return results, (cursor + limit if more else None)

    def cancel_batch(self, batch_id: str) -> int:
        """Cancel every item of a batch that has not started; return how many."""
        return sum(self.cancel(job_id) == "cancelled" for _, job_id in self._batch_items(batch_id))

    # -- idempotency keys ------------------------------------------------------------

    def claim_idempotency_key(
        self, scope: str, key: str, fingerprint: str, ttl_s: int
    ) -> tuple[str, str]:
        """('new', '') for a first use; ('replay', target), ('mismatch', '') for another
        body, or ('in_progress', '') while the first request is still being handled."""
        outcome, target = self._claim_idempotency(
            keys=[self._idempotency_key(scope, key)], args=[fingerprint, ttl_s]
        )
        return outcome, target

    def complete_idempotency_key(
        self, scope: str, key: str, fingerprint: str, target: str, ttl_s: int
    ) -> None:
        """Point a claimed key at what the request created (e.g. 'summary:<job id>')."""
        self.redis.set(self._idempotency_key(scope, key), f"{fingerprint}|{target}", ex=ttl_s)

    def release_idempotency_key(self, scope: str, key: str) -> None:
        """Forget a claimed key whose request failed, so that it can be sent again."""
        self.redis.delete(self._idempotency_key(scope, key))

    def _idempotency_key(self, scope: str, key: str) -> str:
        return self.key("idem", hashlib.sha256(f"{scope}\n{key}".encode()).hexdigest())

    def release_orphans(self) -> list[str]:
        """Put back to `queued` the running jobs whose worker stopped beating (killed), and
        return their ids so the caller re-enqueues them. Faster than waiting for Redis's
        visibility timeout to hand the unacknowledged message out again."""
        released = []
        for job_id in self.redis.smembers(self.key("running", "jobs")):
            owner = self.redis.hget(self.key("job", job_id), "worker")
            if owner is None:
                self.redis.srem(self.key("running", "jobs"), job_id)
                continue
            if self.redis.exists(self.key("worker", owner)):
                continue
            if self._release_orphan(
                keys=[
                    self.key("job", job_id),
                    self.key("running", "jobs"),
                    self.key("worker", owner),
                    self.queued_key,
                ],
                args=[job_id, owner],
            ):
                released.append(job_id)
        return released

    def heartbeat(self, worker_id: str, state: dict[str, Any], ttl_s: int) -> None:
        """Announce a live worker process and its models' states; expires unless renewed."""
        self.redis.set(self.key("worker", worker_id), json.dumps(state), ex=ttl_s)

    def workers(self) -> list[dict[str, Any]]:
        """States of the worker processes whose heartbeat has not expired."""
        keys = list(self.redis.scan_iter(match=self.key("worker", "*"), count=200))
        if not keys:
            return []
        return [json.loads(v) for v in self.redis.mget(keys) if v is not None]


def callback_body(raw: dict[str, str]) -> dict[str, Any] | None:
    """The `callback` part of a job or batch body: where it is sent, and every attempt."""
    if not raw.get("callback_url"):
        return None
    return {
        "url": raw["callback_url"],
        "state": raw.get("callback_state") or "waiting",
        "attempts": json.loads(raw.get("callback_attempts") or "[]"),
    }


def public_body(raw: dict[str, str]) -> dict[str, Any]:
    """Turn a Redis hash into the contract's job body."""
    result = json.loads(raw["result"]) if raw.get("result") else {}
    return {
        "id": raw["id"],
        "status": raw["status"],
        "summary": result.get("summary"),
        "bullets": result.get("bullets"),
        "sentences": result.get("sentences"),
        "checks": result.get("checks"),
        "model": json.loads(raw["model"]),
        "options": json.loads(raw.get("options") or "{}"),
        "cached": raw.get("cached") == "1",
        "created_at": raw["created_at"],
        "completed_at": raw.get("completed_at") or None,
        "input": result.get("input") or json.loads(raw.get("input") or "null"),
        "output": {"tokens": result["generated_tokens"]} if "generated_tokens" in result else None,
        "error": json.loads(raw["error"]) if raw.get("error") else None,
        "callback": callback_body(raw),
    }
